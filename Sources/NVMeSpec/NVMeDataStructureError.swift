//===----------------------------------------------------------------------===//
//
// This source file is part of the swift-vfio open source project
//
// Copyright (c) 2026 the swift-vfio project authors
// Licensed under Apache License v2.0
//
// See LICENSE.txt for license information
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

/// Why a spec data structure could not be decoded from (or encoded into) a buffer.
///
/// Decoding is the common case: identify data, log pages and completions come from the device and
/// are untrusted, so every decoder reports a malformed buffer with this error instead of trapping.
public enum NVMeDataStructureError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The buffer holds `actual` bytes but the structure needs `required` (offset + width).
    case bufferTooShort(structure: String, required: Int, actual: Int)
    /// A field holds a value the spec does not allow.
    case invalidField(structure: String, field: String, value: UInt64)

    public var description: String {
        switch self {
        case let .bufferTooShort(structure, required, actual):
            "\(structure): buffer of \(actual) bytes is too short, \(required) needed"
        case let .invalidField(structure, field, value):
            "\(structure): field \(field) has invalid value 0x\(String(value, radix: 16)); the device returned malformed data"
        }
    }
}
