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

/// RDESC.STATUS bits of a receive descriptor (82574 datasheet 7.1.4.1; Linux `E1000_RXD_STAT_*`).
/// The same bits are bits 7:0 of the extended descriptor's status dword.
@frozen
public struct ReceiveDescriptorStatus: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// DD: descriptor done; the device has written the packet and this write-back.
    @inlinable public static var descriptorDone: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 0) }
    /// EOP: end of packet; a packet larger than one buffer spans descriptors up to this one.
    @inlinable public static var endOfPacket: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 1) }
    /// IXSM: ignore checksum indication.
    @inlinable public static var ignoreChecksum: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 2) }
    /// VP: the packet was 802.1Q tagged and the tag stripped into `special`.
    @inlinable public static var vlanPacket: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 3) }
    /// UDPCS: UDP checksum calculated.
    @inlinable public static var udpChecksum: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 4) }
    /// TCPCS: TCP checksum calculated.
    @inlinable public static var tcpChecksum: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 5) }
    /// IPCS: IPv4 header checksum calculated.
    @inlinable public static var ipChecksum: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 6) }
    /// PIF: passed in-exact filter.
    @inlinable public static var inexactFilter: ReceiveDescriptorStatus { ReceiveDescriptorStatus(rawValue: 1 << 7) }
}

/// RDESC.ERRORS bits (82574 datasheet 7.1.4.2; Linux `E1000_RXD_ERR_*`). Any of CE, SE, SEQ, CXE
/// or RXE means the frame is bad (stored only with RCTL.SBP).
@frozen
public struct ReceiveDescriptorErrors: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// CE: CRC or alignment error.
    @inlinable public static var crc: ReceiveDescriptorErrors { ReceiveDescriptorErrors(rawValue: 1 << 0) }
    /// SE: symbol error.
    @inlinable public static var symbol: ReceiveDescriptorErrors { ReceiveDescriptorErrors(rawValue: 1 << 1) }
    /// SEQ: sequence error.
    @inlinable public static var sequence: ReceiveDescriptorErrors { ReceiveDescriptorErrors(rawValue: 1 << 2) }
    /// CXE: carrier extension error.
    @inlinable public static var carrierExtension: ReceiveDescriptorErrors { ReceiveDescriptorErrors(rawValue: 1 << 4) }
    /// TCPE: TCP/UDP checksum error.
    @inlinable public static var tcpChecksum: ReceiveDescriptorErrors { ReceiveDescriptorErrors(rawValue: 1 << 5) }
    /// IPE: IPv4 checksum error.
    @inlinable public static var ipChecksum: ReceiveDescriptorErrors { ReceiveDescriptorErrors(rawValue: 1 << 6) }
    /// RXE: receive data error.
    @inlinable public static var receiveData: ReceiveDescriptorErrors { ReceiveDescriptorErrors(rawValue: 1 << 7) }

    /// Errors that make the frame itself bad (checksum errors only mean the offload disagrees).
    @inlinable public static var frameErrors: ReceiveDescriptorErrors { [.crc, .symbol, .sequence, .carrierExtension, .receiveData] }
}

/// The legacy receive descriptor, 16 bytes (82574 datasheet 7.1.4, Linux `struct e1000_rx_desc`).
/// The driver writes `bufferAddress` and clears the rest; the device writes back length, checksum,
/// status, errors and special into the same slot.
///
/// Stored in datasheet order so the in-memory layout is the wire layout on little-endian hosts
/// (tests pin size 16 and the offsets). A driver reads `status` first (byte 12) and checks DD
/// before trusting anything else, with `dma_rmb()` in between; `length` is a device value and must
/// be checked against the buffer posted.
@frozen
public struct LegacyReceiveDescriptor: Hashable, Sendable {
    /// Buffer address (IOVA) of the receive buffer.
    public var bufferAddress: UInt64
    /// Bytes stored into the buffer (write-back).
    public var length: UInt16
    /// Packet checksum (write-back).
    public var checksum: UInt16
    /// Status (write-back): DD, EOP, ...
    public var status: ReceiveDescriptorStatus
    /// Errors (write-back).
    public var errors: ReceiveDescriptorErrors
    /// VLAN tag when VP is set (write-back).
    public var special: UInt16

    /// A descriptor as the driver posts it: only the buffer address, write-back fields zero.
    @inlinable public init(bufferAddress: UInt64) {
        self.init(bufferAddress: bufferAddress, length: 0, checksum: 0, status: [], errors: [], special: 0)
    }

    @inlinable public init(bufferAddress: UInt64, length: UInt16, checksum: UInt16,
                           status: ReceiveDescriptorStatus, errors: ReceiveDescriptorErrors, special: UInt16) {
        self.bufferAddress = bufferAddress
        self.length = length
        self.checksum = checksum
        self.status = status
        self.errors = errors
        self.special = special
    }

    /// Size in bytes; the ring is an array of these (RDLEN a multiple of 128).
    @inlinable public static var size: Int { 16 }
    /// Byte offset of `length`.
    @inlinable public static var lengthOffset: Int { 8 }
    /// Byte offset of `status` (the DD bit).
    @inlinable public static var statusOffset: Int { 12 }
    /// Byte offset of `errors`.
    @inlinable public static var errorsOffset: Int { 13 }
}

/// Extended receive descriptor status/error dword (82574 datasheet 7.1.5.2; Linux
/// `E1000_RXDEXT_STATERR_*`): status in bits 19:0 (7:0 as `ReceiveDescriptorStatus`), errors in
/// bits 31:20.
@frozen
public struct ExtendedReceiveStatus: Hashable, Sendable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Status bits 7:0 (DD, EOP, ...).
    @inlinable public var status: ReceiveDescriptorStatus {
        get { ReceiveDescriptorStatus(rawValue: UInt8(truncatingIfNeeded: rawValue)) }
        set { rawValue = rawValue & ~0xFF | UInt32(newValue.rawValue) }
    }
    /// Errors as the legacy bits (CE at 24, SE 25, SEQ 26, CXE 28, TCPE 29, IPE 30, RXE 31).
    @inlinable public var errors: ReceiveDescriptorErrors {
        get { ReceiveDescriptorErrors(rawValue: UInt8(truncatingIfNeeded: rawValue >> 24)) }
        set { rawValue = rawValue & 0x00FF_FFFF | UInt32(newValue.rawValue) << 24 }
    }
}

/// The extended receive descriptor, 16 bytes (82574 datasheet 7.1.5; Linux
/// `union e1000_rx_desc_extended`), used when RFCTL.EXSTEN is set. Read format (driver writes):
/// buffer address in bytes 0-7, zero in bytes 8-15. Write-back format (device writes): MRQ (RSS
/// type bits 3:0, RSS queue from bit 8), RSS hash, status/error, length, VLAN.
///
/// Stored in write-back order; `bufferAddress` views bytes 0-7 of the read format. The status
/// dword (byte 8) is read first; DD there is only meaningful for a slot the driver posted.
@frozen
public struct ExtendedReceiveDescriptor: Hashable, Sendable {
    /// Write-back: multiple receive queues info (RSS type bits 3:0, queue bits 12:8).
    public var multipleReceiveQueues: UInt32
    /// Write-back: RSS hash (with RXCSUM.PCSD), else IP identification and checksum.
    public var rssHash: UInt32
    /// Write-back: extended status and errors; zero when posted.
    public var statusError: ExtendedReceiveStatus
    /// Write-back: bytes stored.
    public var length: UInt16
    /// Write-back: VLAN tag.
    public var vlan: UInt16

    /// A descriptor as the driver posts it (read format).
    @inlinable public init(bufferAddress: UInt64) {
        multipleReceiveQueues = UInt32(truncatingIfNeeded: bufferAddress)
        rssHash = UInt32(truncatingIfNeeded: bufferAddress >> 32)
        statusError = ExtendedReceiveStatus(rawValue: 0)
        length = 0
        vlan = 0
    }

    /// A descriptor as the device writes it back.
    @inlinable public init(multipleReceiveQueues: UInt32, rssHash: UInt32, statusError: ExtendedReceiveStatus,
                           length: UInt16, vlan: UInt16) {
        self.multipleReceiveQueues = multipleReceiveQueues
        self.rssHash = rssHash
        self.statusError = statusError
        self.length = length
        self.vlan = vlan
    }

    /// Read format: the buffer address in bytes 0-7.
    @inlinable public var bufferAddress: UInt64 { UInt64(multipleReceiveQueues) | UInt64(rssHash) << 32 }
    /// Write-back: RSS type (bits 3:0 of MRQ; 0 means no hash was computed).
    @inlinable public var rssType: UInt8 { UInt8(truncatingIfNeeded: multipleReceiveQueues & 0xF) }
    /// Write-back: the RSS queue the device chose (bits 12:8 of MRQ).
    @inlinable public var rssQueue: UInt8 { UInt8(truncatingIfNeeded: (multipleReceiveQueues >> 8) & 0x1F) }

    @inlinable public static var size: Int { 16 }
    /// Byte offset of the MRQ dword (RSS type in bits 3:0).
    @inlinable public static var multipleReceiveQueuesOffset: Int { 0 }
    /// Byte offset of the RSS hash.
    @inlinable public static var rssHashOffset: Int { 4 }
    /// Byte offset of the status/error dword (the DD bit is its bit 0).
    @inlinable public static var statusOffset: Int { 8 }
    /// Byte offset of `length`.
    @inlinable public static var lengthOffset: Int { 12 }
}
