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

/// TDESC.CMD bits of a legacy transmit descriptor (82574 datasheet 7.2.10.1; Linux `E1000_TXD_CMD_*`).
@frozen
public struct TransmitDescriptorCommand: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// EOP: last descriptor of the packet.
    @inlinable public static var endOfPacket: TransmitDescriptorCommand { TransmitDescriptorCommand(rawValue: 1 << 0) }
    /// IFCS: insert the Ethernet FCS (CRC).
    @inlinable public static var insertFCS: TransmitDescriptorCommand { TransmitDescriptorCommand(rawValue: 1 << 1) }
    /// IC: insert checksum at CSO, computed from CSS.
    @inlinable public static var insertChecksum: TransmitDescriptorCommand { TransmitDescriptorCommand(rawValue: 1 << 2) }
    /// RS: report status: the device writes DD back when done with this descriptor.
    @inlinable public static var reportStatus: TransmitDescriptorCommand { TransmitDescriptorCommand(rawValue: 1 << 3) }
    /// DEXT: extended descriptor (context/data); clear for a legacy descriptor.
    @inlinable public static var extended: TransmitDescriptorCommand { TransmitDescriptorCommand(rawValue: 1 << 5) }
    /// VLE: insert the VLAN tag from `special`.
    @inlinable public static var vlanEnable: TransmitDescriptorCommand { TransmitDescriptorCommand(rawValue: 1 << 6) }
    /// IDE: interrupt delay enable (TIDV/TADV apply).
    @inlinable public static var interruptDelay: TransmitDescriptorCommand { TransmitDescriptorCommand(rawValue: 1 << 7) }
}

/// TDESC.STA bits (82574 datasheet 7.2.10.1).
@frozen
public struct TransmitDescriptorStatus: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// DD: descriptor done; the device has read the buffer and will not touch it again.
    @inlinable public static var descriptorDone: TransmitDescriptorStatus { TransmitDescriptorStatus(rawValue: 1 << 0) }
}

/// The legacy transmit descriptor, 16 bytes (82574 datasheet 7.2.10; Linux `struct e1000_tx_desc`).
///
/// Stored in datasheet order (tests pin size and offsets). The driver writes every field with
/// status zero; the device writes DD into `status` (byte 12) when it has finished with a
/// descriptor that had RS. Only then may the buffer be reused.
@frozen
public struct LegacyTransmitDescriptor: Hashable, Sendable {
    /// Buffer address (IOVA) of the packet data.
    public var bufferAddress: UInt64
    /// Bytes to send from the buffer.
    public var length: UInt16
    /// CSO: checksum offset.
    public var checksumOffset: UInt8
    /// CMD.
    public var command: TransmitDescriptorCommand
    /// STA (write-back).
    public var status: TransmitDescriptorStatus
    /// CSS: checksum start.
    public var checksumStart: UInt8
    /// VLAN tag for VLE.
    public var special: UInt16

    @inlinable public init(bufferAddress: UInt64, length: UInt16, command: TransmitDescriptorCommand,
                           checksumOffset: UInt8 = 0, checksumStart: UInt8 = 0,
                           status: TransmitDescriptorStatus = [], special: UInt16 = 0) {
        self.bufferAddress = bufferAddress
        self.length = length
        self.checksumOffset = checksumOffset
        self.command = command
        self.status = status
        self.checksumStart = checksumStart
        self.special = special
    }

    @inlinable public static var size: Int { 16 }
    /// Byte offset of `length`.
    @inlinable public static var lengthOffset: Int { 8 }
    /// Byte offset of `command`.
    @inlinable public static var commandOffset: Int { 11 }
    /// Byte offset of `status` (the DD bit).
    @inlinable public static var statusOffset: Int { 12 }
}
