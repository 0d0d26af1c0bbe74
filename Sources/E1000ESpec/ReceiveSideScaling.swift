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

import VFIO

/// MRQC, multiple receive queues command (82574 datasheet 10.2.5.16): enables RSS and picks the
/// header fields hashed. The hash indexes RETA, whose entry names the receive queue.
@frozen
public struct MultipleReceiveQueuesCommand: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// MRQC.MRQE (bits 1:0): 0 disabled, 1 RSS (two queues).
    @inlinable public var rssEnabled: Bool {
        get { rawValue.bits(0..<2) == 1 }
        set { rawValue.setBits(0..<2, to: newValue ? 1 : 0) }
    }
    /// Hash TCP over IPv4 (4-tuple).
    @inlinable public var hashTCPIPv4: Bool { get { rawValue.bit(16) } set { rawValue.setBit(16, newValue) } }
    /// Hash IPv4 addresses.
    @inlinable public var hashIPv4: Bool { get { rawValue.bit(17) } set { rawValue.setBit(17, newValue) } }
    /// Hash TCP over IPv6 (QEMU `E1000_MRQC_EN_TCPIPV6`, bit 18).
    @inlinable public var hashTCPIPv6: Bool { get { rawValue.bit(18) } set { rawValue.setBit(18, newValue) } }
    /// Hash IPv6 with extension headers (bit 19).
    @inlinable public var hashIPv6Extended: Bool { get { rawValue.bit(19) } set { rawValue.setBit(19, newValue) } }
    /// Hash IPv6 addresses (bit 20).
    @inlinable public var hashIPv6: Bool { get { rawValue.bit(20) } set { rawValue.setBit(20, newValue) } }
}

/// RETA, the RSS redirection table (82574 datasheet 10.2.5.17): 128 one-byte entries in 32
/// registers, indexed by the low 7 bits of the hash; bit 7 of an entry is the queue (0 or 1)
/// (QEMU `E1000_RETA_VAL`).
public enum RedirectionTable {
    /// Entries in the table.
    @inlinable public static var entryCount: Int { 128 }
    /// Registers holding it (four entries each, entry 4n in the low byte of register n).
    @inlinable public static var registerCount: Int { 32 }

    /// Index of the entry used for a hash.
    @inlinable public static func entryIndex(hash: UInt32) -> Int { Int(hash & 0x7F) }
    /// The byte stored for `queue`.
    @inlinable public static func entry(queue: Int) -> UInt8 {
        precondition(queue == 0 || queue == 1, "the 82574 has two receive queues")
        return queue == 0 ? 0 : 0x80
    }
    /// The queue an entry byte selects.
    @inlinable public static func queue(entry: UInt8) -> Int { Int(entry >> 7) }
}

/// RSSRK, the RSS random key (82574 datasheet 10.2.5.18): 40 bytes in ten registers, byte 0 in
/// the low byte of register 0; the Toeplitz hash key.
public enum RSSKey {
    /// Key length in bytes.
    @inlinable public static var byteCount: Int { 40 }
    /// Registers holding it.
    @inlinable public static var registerCount: Int { 10 }
}
