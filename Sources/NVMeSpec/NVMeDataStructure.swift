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

/// A fixed-layout NVMe data structure: the driver decodes it from device memory, the emulator
/// encodes it for the driver to read. Layouts are little-endian (NVMe base 1.4, 1.4.1).
public protocol NVMeDataStructure: Sendable {
    /// Bytes the spec layout occupies; `encode(into:)` writes exactly this many.
    static var encodedSize: Int { get }
    /// Decodes from untrusted bytes; throws instead of trapping on short or malformed input.
    init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError)
    /// Writes the spec layout into the first `encodedSize` bytes, zeroing reserved bytes.
    func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError)
}

extension NVMeDataStructure {
    /// Decodes from an array (convenience for tests and the emulator).
    @inlinable
    public init(bytes: [UInt8]) throws(NVMeDataStructureError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(NVMeDataStructureError) -> Self in try Self(bytes: raw) }
        }
        self = try result.get()
    }

    /// The spec layout as a new array of `encodedSize` bytes.
    @inlinable
    public func encoded() throws(NVMeDataStructureError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.encodedSize)
        let result = out.withUnsafeMutableBytes { raw in
            Result { () throws(NVMeDataStructureError) in try self.encode(into: raw) }
        }
        try result.get()
        return out
    }
}
