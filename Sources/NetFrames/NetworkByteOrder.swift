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

// Big-endian (network order, RFC 1700) loads and stores at byte offsets of a frame. The caller
// checks the frame's length first; every parser in this module does so against the length the
// frame arrived with, never against a length field read from it.

extension UnsafeRawBufferPointer {
    /// The big-endian 16-bit value at `offset`.
    @inlinable
    public func be16(_ offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }

    /// The big-endian 32-bit value at `offset`.
    @inlinable
    public func be32(_ offset: Int) -> UInt32 { UInt32(be16(offset)) << 16 | UInt32(be16(offset + 2)) }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores `value` big-endian at `offset`.
    @inlinable
    public func setBE16(_ offset: Int, _ value: UInt16) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Stores `value` big-endian at `offset`.
    @inlinable
    public func setBE32(_ offset: Int, _ value: UInt32) {
        setBE16(offset, UInt16(value >> 16))
        setBE16(offset + 2, UInt16(truncatingIfNeeded: value))
    }
}
