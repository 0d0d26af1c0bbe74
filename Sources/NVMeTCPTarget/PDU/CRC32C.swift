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

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the header and data digest of NVMe/TCP
/// (NVMe/TCP 1.0, 3.6.4 "Digests"; the same CRC and conventions as iSCSI, RFC 3720 B.4: initial
/// value all ones, final value inverted, sent little-endian).
///
/// Slicing-by-8 in Swift: eight 1 KiB tables, one 64-bit load and eight lookups per 8 bytes, no
/// allocation. Portable; a hardware `crc32` instruction path can replace `update` later without
/// changing callers.
@frozen
public struct CRC32C: Sendable {
    /// The running (inverted) register.
    @usableFromInline var state: UInt32

    @inlinable public init() { state = 0xFFFF_FFFF }

    /// The digest of everything passed to `update` so far.
    @inlinable public var value: UInt32 { ~state }

    /// Adds `bytes` to the digest.
    @inlinable
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        state = CRC32C.advance(state, base, bytes.count)
    }

    /// The digest of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The digest of an array (tests and tools).
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    @usableFromInline
    static func advance(_ start: UInt32, _ base: UnsafeRawPointer, _ count: Int) -> UInt32 {
        let t = crc32cTables
        var crc = start
        var p = base
        var n = count
        while n >= 8 {
            // Little-endian: the low word holds the first four bytes.
            let word = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
            let lo = UInt32(truncatingIfNeeded: word) ^ crc
            let hi = UInt32(truncatingIfNeeded: word >> 32)
            crc = t[7 &* 256 &+ Int(lo & 0xFF)] ^ t[6 &* 256 &+ Int((lo >> 8) & 0xFF)]
                ^ t[5 &* 256 &+ Int((lo >> 16) & 0xFF)] ^ t[4 &* 256 &+ Int(lo >> 24)]
                ^ t[3 &* 256 &+ Int(hi & 0xFF)] ^ t[2 &* 256 &+ Int((hi >> 8) & 0xFF)]
                ^ t[1 &* 256 &+ Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
            p += 8
            n &-= 8
        }
        while n > 0 {
            crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
            p += 1
            n &-= 1
        }
        return crc
    }
}

/// The eight slicing tables, built once and never freed: table k maps a byte to its CRC contribution
/// k bytes further on. A raw pointer, so a lookup is one load with no bounds check or retain.
@usableFromInline
nonisolated(unsafe) let crc32cTables: UnsafePointer<UInt32> = {
    let t = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
    for i in 0..<256 {
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        t[i] = c
    }
    for k in 1..<8 {
        for i in 0..<256 {
            let previous = t[(k - 1) * 256 + i]
            t[k * 256 + i] = (previous >> 8) ^ t[Int(previous & 0xFF)]
        }
    }
    return UnsafePointer(t)
}()
