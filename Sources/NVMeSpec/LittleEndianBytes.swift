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

/// Bounds-checked little-endian loads and stores for NVMe data structures.
///
/// Every offset is checked against the buffer before touching memory, so a short or garbage
/// buffer from the device becomes a thrown `NVMeDataStructureError`, never a trap or an
/// out-of-bounds read. Loads and stores are unaligned-safe (identify fields such as NN at 516
/// are naturally aligned, but callers may hand us any sub-buffer).
@frozen
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    @usableFromInline let structure: StaticString

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, structure: StaticString) {
        self.bytes = bytes
        self.structure = structure
    }

    @inlinable public var count: Int { bytes.count }

    /// Throws unless at least `count` bytes are present.
    @inlinable
    public func require(_ count: Int) throws(NVMeDataStructureError) {
        guard bytes.count >= count else {
            throw .bufferTooShort(structure: "\(structure)", required: count, actual: bytes.count)
        }
    }

    @inlinable
    func check(_ offset: Int, _ width: Int) throws(NVMeDataStructureError) {
        // Written so that no arithmetic can overflow for any offset/width.
        guard offset >= 0, width >= 0, width <= bytes.count, offset <= bytes.count - width else {
            throw .bufferTooShort(
                structure: "\(structure)", required: offset.addingReportingOverflow(width).partialValue,
                actual: bytes.count)
        }
    }

    /// Loads a little-endian integer at `offset`.
    @inlinable
    public func load<T: FixedWidthInteger>(_: T.Type = T.self, at offset: Int) throws(NVMeDataStructureError) -> T {
        try check(offset, MemoryLayout<T>.size)
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Copies `count` raw bytes starting at `offset`.
    @inlinable
    public func bytes(at offset: Int, count: Int) throws(NVMeDataStructureError) -> [UInt8] {
        try check(offset, count)
        return Array(bytes[offset..<offset + count])
    }

    /// Decodes a space-padded ASCII field (NVMe base 1.4, 1.5 "ASCII string"): trailing spaces and
    /// NULs are trimmed, bytes outside printable ASCII become "?" so device garbage stays printable.
    @inlinable
    public func ascii(at offset: Int, count: Int) throws(NVMeDataStructureError) -> String {
        try check(offset, count)
        var end = offset + count
        while end > offset, bytes[end - 1] == 0x20 || bytes[end - 1] == 0 { end -= 1 }
        var scalars = String.UnicodeScalarView()
        for byte in bytes[offset..<end] {
            scalars.append(Unicode.Scalar((0x20...0x7E).contains(byte) ? byte : UInt8(ascii: "?")))
        }
        return String(scalars)
    }
}

extension ByteReader {
    /// Decodes a NUL-terminated ASCII field (e.g. SUBNQN): stops at the first NUL, then behaves as `ascii`.
    @inlinable
    public func nulTerminatedASCII(at offset: Int, count: Int) throws(NVMeDataStructureError) -> String {
        try check(offset, count)
        var length = 0
        while length < count, bytes[offset + length] != 0 { length += 1 }
        return try ascii(at: offset, count: length)
    }
}

/// The encoding counterpart of `ByteReader`, used by the emulator to build device data.
@frozen
public struct ByteWriter {
    public let bytes: UnsafeMutableRawBufferPointer
    @usableFromInline let structure: StaticString

    @inlinable
    public init(_ bytes: UnsafeMutableRawBufferPointer, structure: StaticString) {
        self.bytes = bytes
        self.structure = structure
    }

    /// Throws unless `count` bytes fit, then zeroes them (reserved fields must read as zero).
    @inlinable
    public func prepare(_ count: Int) throws(NVMeDataStructureError) {
        guard count >= 0, bytes.count >= count else {
            throw .bufferTooShort(structure: "\(structure)", required: count, actual: bytes.count)
        }
        if count > 0 { bytes.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: count) }
    }

    @inlinable
    func check(_ offset: Int, _ width: Int) throws(NVMeDataStructureError) {
        guard offset >= 0, width >= 0, width <= bytes.count, offset <= bytes.count - width else {
            throw .bufferTooShort(
                structure: "\(structure)", required: offset.addingReportingOverflow(width).partialValue,
                actual: bytes.count)
        }
    }

    /// Stores `value` little-endian at `offset`.
    @inlinable
    public func store<T: FixedWidthInteger>(_ value: T, at offset: Int) throws(NVMeDataStructureError) {
        try check(offset, MemoryLayout<T>.size)
        bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// Stores up to `count` bytes of `value`, zero-filling the rest of the field.
    @inlinable
    public func store(bytes value: [UInt8], at offset: Int, count: Int) throws(NVMeDataStructureError) {
        try check(offset, count)
        for i in 0..<count { bytes[offset + i] = i < value.count ? value[i] : 0 }
    }

    /// Stores a space-padded ASCII field, truncated to `count` bytes; non-ASCII characters become "?".
    @inlinable
    public func store(ascii value: String, at offset: Int, count: Int) throws(NVMeDataStructureError) {
        try check(offset, count)
        var i = 0
        for scalar in value.unicodeScalars where i < count {
            bytes[offset + i] = (0x20...0x7E).contains(scalar.value) ? UInt8(scalar.value) : UInt8(ascii: "?")
            i += 1
        }
        while i < count {
            bytes[offset + i] = 0x20
            i += 1
        }
    }
}
