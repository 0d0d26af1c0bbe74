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

/// The Internet checksum (RFC 1071): the one's complement of the one's-complement sum of the
/// data taken as 16-bit big-endian words, an odd last byte padded with a zero byte. IPv4 headers,
/// ICMP messages and the UDP and TCP checksums (with their pseudo-headers) all use it.
///
/// Data that carries its own correct checksum sums to 0xFFFF, so a receiver checks `isValid`
/// over the header or message as it arrived instead of recomputing and comparing.
@frozen
public struct InternetChecksum: Sendable {
    /// The running sum, unfolded: 64 bits cannot overflow for any buffer that fits in memory.
    @usableFromInline var sum: UInt64 = 0

    @inlinable public init() {}

    /// Adds `bytes` as big-endian words. Blocks may be added one after another as long as every
    /// block but the last has an even length (an odd one is padded as if it were the end).
    @inlinable
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        let count = bytes.count
        while i + 1 < count {
            sum &+= UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < count { sum &+= UInt64(bytes[i]) << 8 }
    }

    /// Adds `count` bytes of `bytes` from `start` (which the caller has checked lie inside it).
    @inlinable
    public mutating func add(_ bytes: UnsafeRawBufferPointer, from start: Int, count: Int) {
        precondition(start >= 0 && count >= 0 && start <= bytes.count - count, "checksum range \(start)+\(count) outside \(bytes.count) bytes")
        add(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]))
    }

    /// Adds one 16-bit word (a pseudo-header field).
    @inlinable
    public mutating func add(word: UInt16) { sum &+= UInt64(word) }

    /// Adds a 32-bit value as two words (an IPv4 address in a pseudo-header).
    @inlinable
    public mutating func add(doubleWord: UInt32) { sum &+= UInt64(doubleWord >> 16) &+ UInt64(doubleWord & 0xFFFF) }

    /// The sum with its carries folded back in (RFC 1071 4.1), 16 bits.
    @inlinable
    public var folded: UInt16 {
        var s = sum
        while s > 0xFFFF { s = (s & 0xFFFF) &+ (s >> 16) }
        return UInt16(s)
    }

    /// The value to store in the checksum field (which was zero while summing).
    @inlinable public var checksum: UInt16 { ~folded }

    /// Whether data that includes its checksum field adds up.
    @inlinable public var isValid: Bool { folded == 0xFFFF }

    /// The checksum of `count` bytes of `bytes` from `start`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, count: Int? = nil) -> UInt16 {
        var c = InternetChecksum()
        c.add(bytes, from: start, count: count ?? bytes.count - start)
        return c.checksum
    }
}
