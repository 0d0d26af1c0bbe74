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

/// BAR0 registers of the 82574 (Intel 82574 GbE controller datasheet, 10.2; QEMU
/// hw/net/e1000_regs.h; Linux e1000e/regs.h), as typed `Register`s. Driver logic (and the
/// emulated device) names registers through this, never by raw offset.
public enum E1000ERegister {
    /// Size of the register BAR (BAR0, memory, 128 KiB).
    @inlinable public static var barLength: Int { 0x20000 }

    /// CTRL (10.2.2.1).
    @inlinable public static var deviceControl: Register<DeviceControl> { Register(offset: 0x0000) }
    /// STATUS (10.2.2.2).
    @inlinable public static var deviceStatus: Register<DeviceStatus> { Register(offset: 0x0008) }
    /// EERD (10.2.2.4).
    @inlinable public static var eepromRead: Register<EEPROMRead> { Register(offset: 0x0014) }
    /// CTRL_EXT (10.2.2.5).
    @inlinable public static var extendedDeviceControl: Register<ExtendedDeviceControl> { Register(offset: 0x0018) }
    /// MDIC, MDI control (PHY register access).
    @inlinable public static var mdiControl: Register<UInt32> { Register(offset: 0x0020) }

    /// ICR: interrupt cause read; reading clears it (and, with CTRL_EXT.IAME, masks IAM's bits).
    @inlinable public static var interruptCauseRead: Register<InterruptCause> { Register(offset: 0x00C0) }
    /// ITR: interrupt throttling for INTx/MSI.
    @inlinable public static var interruptThrottle: Register<InterruptThrottle> { Register(offset: 0x00C4) }
    /// ICS: interrupt cause set (software-raised causes).
    @inlinable public static var interruptCauseSet: Register<InterruptCause> { Register(offset: 0x00C8) }
    /// IMS: interrupt mask set (write 1s to enable) / read the enabled mask.
    @inlinable public static var interruptMaskSet: Register<InterruptCause> { Register(offset: 0x00D0) }
    /// IMC: interrupt mask clear (write 1s to disable).
    @inlinable public static var interruptMaskClear: Register<InterruptCause> { Register(offset: 0x00D8) }
    /// EIAC: extended interrupt auto clear (MSI-X): causes cleared from ICR when their vector fires.
    @inlinable public static var extendedInterruptAutoClear: Register<InterruptCause> { Register(offset: 0x00DC) }
    /// IAM: interrupt acknowledge auto-mask.
    @inlinable public static var interruptAutoMask: Register<InterruptCause> { Register(offset: 0x00E0) }
    /// IVAR: interrupt vector allocation (MSI-X).
    @inlinable public static var interruptVectorAllocation: Register<InterruptVectorAllocation> { Register(offset: 0x00E4) }
    /// EITR[n], n in 0..<5: per-vector throttling (MSI-X).
    @inlinable public static func vectorThrottle(_ vector: Int) -> Register<InterruptThrottle> {
        precondition(vector >= 0 && vector < InterruptVectorAllocation.vectorCount, "the 82574 has five MSI-X vectors")
        return Register(offset: 0x00E8 + 4 * vector)
    }

    /// RCTL (10.2.5.1).
    @inlinable public static var receiveControl: Register<ReceiveControl> { Register(offset: 0x0100) }
    /// TCTL (10.2.6.1).
    @inlinable public static var transmitControl: Register<TransmitControl> { Register(offset: 0x0400) }
    /// TIPG (10.2.6.2).
    @inlinable public static var transmitInterPacketGap: Register<TransmitInterPacketGap> { Register(offset: 0x0410) }
    /// PBA: packet buffer allocation (RX KiB in bits 15:0).
    @inlinable public static var packetBufferAllocation: Register<UInt32> { Register(offset: 0x1000) }

    /// RXCSUM (10.2.5.2).
    @inlinable public static var receiveChecksumControl: Register<ReceiveChecksumControl> { Register(offset: 0x5000) }
    /// RFCTL (10.2.5.3).
    @inlinable public static var receiveFilterControl: Register<ReceiveFilterControl> { Register(offset: 0x5008) }
    /// MTA[n], n in 0..<128: multicast table array, a 4096-bit hash filter.
    @inlinable public static func multicastTable(_ index: Int) -> Register<UInt32> {
        precondition(index >= 0 && index < multicastTableCount)
        return Register(offset: 0x5200 + 4 * index)
    }
    @inlinable public static var multicastTableCount: Int { 128 }
    /// RAL[n], n in 0..<16: receive address low (station address bytes 0-3).
    @inlinable public static func receiveAddressLow(_ index: Int) -> Register<UInt32> {
        precondition(index >= 0 && index < receiveAddressCount)
        return Register(offset: 0x5400 + 8 * index)
    }
    /// RAH[n]: receive address high (bytes 4-5 and AV).
    @inlinable public static func receiveAddressHigh(_ index: Int) -> Register<ReceiveAddressHigh> {
        precondition(index >= 0 && index < receiveAddressCount)
        return Register(offset: 0x5404 + 8 * index)
    }
    @inlinable public static var receiveAddressCount: Int { 16 }
    /// MRQC (10.2.5.16).
    @inlinable public static var multipleReceiveQueuesCommand: Register<MultipleReceiveQueuesCommand> { Register(offset: 0x5818) }
    /// RETA[n], n in 0..<32: four one-byte redirection entries each.
    @inlinable public static func redirectionTable(_ index: Int) -> Register<UInt32> {
        precondition(index >= 0 && index < RedirectionTable.registerCount)
        return Register(offset: 0x5C00 + 4 * index)
    }
    /// RSSRK[n], n in 0..<10: the RSS key, four bytes each.
    @inlinable public static func rssKey(_ index: Int) -> Register<UInt32> {
        precondition(index >= 0 && index < RSSKey.registerCount)
        return Register(offset: 0x5C80 + 4 * index)
    }

    /// Receive queues the 82574 has.
    @inlinable public static var receiveQueueCount: Int { 2 }
    /// Transmit queues the 82574 has.
    @inlinable public static var transmitQueueCount: Int { 2 }

    /// The ring registers of receive queue `queue` (0 or 1).
    @inlinable public static func receiveQueue(_ queue: Int) -> DescriptorRingRegisters {
        precondition(queue >= 0 && queue < receiveQueueCount, "the 82574 has two receive queues")
        return DescriptorRingRegisters(base: 0x2800 + 0x100 * queue)
    }
    /// The ring registers of transmit queue `queue` (0 or 1).
    @inlinable public static func transmitQueue(_ queue: Int) -> DescriptorRingRegisters {
        precondition(queue >= 0 && queue < transmitQueueCount, "the 82574 has two transmit queues")
        return DescriptorRingRegisters(base: 0x3800 + 0x100 * queue)
    }

    /// TARC[n], n in 0..<2: transmit arbitration count. Bit 10 (ENABLE) must be set for the queue
    /// to transmit at all (QEMU `e1000e_set_tdt` checks `E1000_TARC_ENABLE`; its reset value has it).
    @inlinable public static func transmitArbitration(_ queue: Int) -> Register<UInt32> {
        precondition(queue >= 0 && queue < transmitQueueCount, "the 82574 has two transmit queues")
        return Register(offset: 0x3840 + 0x100 * queue)
    }
    /// TARC.ENABLE.
    @inlinable public static var transmitArbitrationEnable: UInt32 { 1 << 10 }

    /// RDTR: receive packet delay timer (queue 0 only, 1.024 us units; 0 = write back at once).
    @inlinable public static var receiveDelayTimer: Register<UInt32> { Register(offset: 0x2820) }
    /// RADV: receive absolute delay timer (1.024 us units).
    @inlinable public static var receiveAbsoluteDelay: Register<UInt32> { Register(offset: 0x282C) }
    /// TIDV: transmit interrupt delay value (1.024 us units).
    @inlinable public static var transmitInterruptDelay: Register<UInt32> { Register(offset: 0x3820) }
    /// TADV: transmit absolute interrupt delay (1.024 us units).
    @inlinable public static var transmitAbsoluteDelay: Register<UInt32> { Register(offset: 0x382C) }
}

/// The registers of one descriptor ring (RX at 0x2800 + 0x100n, TX at 0x3800 + 0x100n):
/// base address low/high, length in bytes (a multiple of 128), head and tail (descriptor indices)
/// and the queue control (RXDCTL/TXDCTL).
@frozen
public struct DescriptorRingRegisters: Sendable, Hashable {
    /// Offset of the first register (xDBAL).
    public let base: Int
    @inlinable public init(base: Int) { self.base = base }

    /// RDBAL/TDBAL: descriptor base address, low 32 bits (16-byte aligned; 128 recommended).
    @inlinable public var baseAddressLow: Register<UInt32> { Register(offset: base + 0x00) }
    /// RDBAH/TDBAH: descriptor base address, high 32 bits.
    @inlinable public var baseAddressHigh: Register<UInt32> { Register(offset: base + 0x04) }
    /// RDLEN/TDLEN: ring length in bytes, a multiple of 128 (eight descriptors).
    @inlinable public var length: Register<UInt32> { Register(offset: base + 0x08) }
    /// RDH/TDH: head, the next descriptor the device will use. Device-owned while enabled.
    @inlinable public var head: Register<UInt32> { Register(offset: base + 0x10) }
    /// RDT/TDT: tail, one past the last descriptor the driver handed over.
    @inlinable public var tail: Register<UInt32> { Register(offset: base + 0x18) }
    /// RXDCTL/TXDCTL.
    @inlinable public var control: Register<DescriptorQueueControl> { Register(offset: base + 0x28) }

    /// Ring length granularity in bytes (RDLEN/TDLEN bits 6:0 are zero).
    @inlinable public static var lengthGranularity: Int { 128 }
}
