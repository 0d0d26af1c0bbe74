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

/// An emulated function's 4 KiB PCI configuration space: a type 0 header, its BARs and a
/// capability list, built from a description (`PCIIdentity`, `PCIBAR`, `PCICapability`), so that
/// each emulator states only what its device looks like (PCI Local Bus 3.0, 6.1-6.8; PCIe base
/// 4.0, 7.5.3).
///
/// Writes go through a per-byte mask: read-only bits keep their value, and each BAR answers the
/// all-ones sizing probe with its size. A function level reset returns every register to its
/// power-on value (`functionLevelReset()`).
public struct PCIConfigSpace: Sendable {
    public static let size = 4096

    /// PCI_COMMAND (PCI 3.0, 6.2.2) and its bits.
    public static let commandOffset = 0x04
    public static let commandMemory: UInt16 = 1 << 1
    public static let commandBusMaster: UInt16 = 1 << 2
    public static let commandINTxDisable: UInt16 = 1 << 10
    /// MSI-X Message Control bits (PCI 3.0, 6.8.2.3).
    public static let msixEnable: UInt16 = 1 << 15
    public static let msixFunctionMask: UInt16 = 1 << 14
    /// PCIe Device Control (at +8 in the Express capability), Initiate Function Level Reset
    /// (PCIe base 4.0, 7.5.3.4): writing 1 starts an FLR; it always reads 0.
    public static let initiateFunctionLevelReset: UInt16 = 1 << 15

    public private(set) var bytes: [UInt8]
    private var writable: [UInt8]
    /// The bytes after power-on, which a function level reset restores.
    private let powerOn: [UInt8]
    /// Offsets of the capabilities in the list, by kind.
    public let msixOffset: Int?
    public let expressOffset: Int?
    public let powerManagementOffset: Int?
    public let msiOffset: Int?

    /// - Parameters:
    ///   - bars: BAR0, BAR1, ... in order; a 64-bit BAR takes two registers.
    ///   - capabilities: each with the offset it sits at, linked in this order.
    public init(identity: PCIIdentity, bars: [PCIBAR], capabilities: [(offset: Int, PCICapability)]) {
        var space = Builder()
        space.header(identity, firstCapability: capabilities.first?.offset ?? 0)
        var register = 0x10
        for bar in bars { register = space.bar(bar, at: register) }
        var offsets: [PCICapability.ID: Int] = [:]
        for (i, (offset, capability)) in capabilities.enumerated() {
            let next = i + 1 < capabilities.count ? capabilities[i + 1].offset : 0
            space.capability(capability, at: offset, next: next)
            offsets[capability.id] = offset
        }
        bytes = space.bytes
        writable = space.writable
        powerOn = space.bytes
        msixOffset = offsets[.msix]
        expressOffset = offsets[.express]
        powerManagementOffset = offsets[.powerManagement]
        msiOffset = offsets[.msi]
    }

    /// Whether a `width`-byte access at `offset` is inside the space and naturally aligned.
    public static func check(_ offset: Int, width: Int) throws(VFIOError) {
        guard offset >= 0, offset + width <= size, offset % width == 0 else {
            throw .outOfRange(what: "config space offset", value: UInt64(truncatingIfNeeded: offset), limit: UInt64(size))
        }
    }

    public func read8(at offset: Int) -> UInt8 { bytes[offset] }
    public func read16(at offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
    public func read32(at offset: Int) -> UInt32 { UInt32(read16(at: offset)) | UInt32(read16(at: offset + 2)) << 16 }

    /// A masked write of `width` bytes. Returns true when it asked for a function level reset
    /// (Device Control bit 15), which the caller performs; the bit itself never sticks.
    public mutating func write(_ value: UInt32, at offset: Int, width: Int) -> Bool {
        for i in 0..<width {
            let byte = UInt8(truncatingIfNeeded: value >> (8 * i))
            let mask = writable[offset + i]
            bytes[offset + i] = bytes[offset + i] & ~mask | byte & mask
        }
        guard let express = expressOffset else { return false }
        let control = read16(at: express + 8)
        guard control & Self.initiateFunctionLevelReset != 0 else { return false }
        set16(control & ~Self.initiateFunctionLevelReset, at: express + 8)
        return true
    }

    public var command: UInt16 { read16(at: Self.commandOffset) }
    public var busMasterEnabled: Bool { command & Self.commandBusMaster != 0 }
    public var intxDisabled: Bool { command & Self.commandINTxDisable != 0 }

    /// Sets or clears PCI_COMMAND bits, as a config write would.
    public mutating func setCommand(_ bits: UInt16, _ on: Bool) {
        let value = on ? command | bits : command & ~bits
        _ = write(UInt32(value), at: Self.commandOffset, width: 2)
    }

    public var msixControl: UInt16 { msixOffset.map { read16(at: $0 + 2) } ?? 0 }
    public var msixEnabled: Bool { msixControl & Self.msixEnable != 0 }
    public var msixFunctionMasked: Bool { msixControl & Self.msixFunctionMask != 0 }

    /// Sets or clears MSI-X Enable, as the kernel does when it enables or disables the vectors.
    public mutating func setMSIXEnabled(_ on: Bool) {
        guard let msix = msixOffset else { return }
        let value = on ? msixControl | Self.msixEnable : msixControl & ~Self.msixEnable
        _ = write(UInt32(value), at: msix + 2, width: 2)
    }

    /// What a function level reset does to config space (PCIe base 4.0, 6.6.2): every register
    /// that is not sticky or hardware-initialised returns to its power-on value. None is sticky
    /// here (no PME, no AER), so that is the whole power-on image: PCI_COMMAND cleared (bus
    /// master and memory off: the function is quiet on the link), MSI and MSI-X disabled, BARs
    /// zero, Device Control back to its defaults, and PMCSR's PowerState back to D0 (PCI PM 1.2,
    /// 3.2.4: not sticky, resets to 00b). vfio-pci saves and restores the parts it owns around a
    /// reset (`PCIFunctionState.resetLikeVFIO`); the function itself keeps nothing.
    public mutating func functionLevelReset() {
        bytes = powerOn
    }

    /// The writable registers, to be put back after a reset (what `pci_save_state` keeps).
    public var saved: [UInt8] { bytes }

    /// Puts back what `saved` returned (what `pci_restore_state` does, through the same masks).
    public mutating func restore(_ saved: [UInt8]) {
        for offset in 0..<Self.size where writable[offset] != 0 {
            bytes[offset] = bytes[offset] & ~writable[offset] | saved[offset] & writable[offset]
        }
    }

    private mutating func set16(_ v: UInt16, at o: Int) {
        bytes[o] = UInt8(truncatingIfNeeded: v)
        bytes[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
}

/// Who a function says it is: the header's identification registers (PCI 3.0, 6.2.1).
public struct PCIIdentity: Sendable, Hashable {
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var revision: UInt8
    /// Base class, subclass and programming interface: 0x010802 is an NVM Express controller.
    public var classCode: UInt32
    public var subsystemVendorID: UInt16
    public var subsystemID: UInt16

    public init(vendorID: UInt16, deviceID: UInt16, revision: UInt8, classCode: UInt32, subsystemVendorID: UInt16, subsystemID: UInt16) {
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.revision = revision
        self.classCode = classCode
        self.subsystemVendorID = subsystemVendorID
        self.subsystemID = subsystemID
    }
}

/// A base address register: its kind and size (a power of two) answer the sizing probe.
public enum PCIBAR: Sendable, Hashable {
    /// 32-bit memory, non-prefetchable.
    case memory32(size: Int)
    /// 64-bit memory, non-prefetchable: takes this register and the next.
    case memory64(size: Int)
    /// I/O space.
    case io(size: Int)
}

/// A capability in the list and what the emulated function offers through it.
public enum PCICapability: Sendable {
    /// Power management (ID 01h): `version` is PMC bits 2:0 (2: PCI PM 1.1, 3: PM 1.2); D0 only,
    /// PMCSR PowerState writable.
    case powerManagement(version: UInt16)
    /// MSI (ID 05h): 64-bit address, one message; only Enable is writable (never used here).
    case msi
    /// MSI-X (ID 11h): `vectors` entries; the table and PBA at `offset` in BAR `bar`.
    case msix(vectors: Int, table: PCIBARLocation, pba: PCIBARLocation)
    /// PCI Express (ID 10h) version 2, endpoint, FLR supported, max payload 256; the link's width
    /// and speed (1: 2.5 GT/s, 3: 8 GT/s); optionally Device Capabilities 2 with completion
    /// timeout disable and a writable Device Control 2.
    case express(linkWidth: Int, linkSpeed: Int, completionTimeoutDisable: Bool)

    public enum ID: UInt8, Sendable, Hashable {
        case powerManagement = 0x01
        case msi = 0x05
        case express = 0x10
        case msix = 0x11
    }

    public var id: ID {
        switch self {
        case .powerManagement: return .powerManagement
        case .msi: return .msi
        case .msix: return .msix
        case .express: return .express
        }
    }
}

/// Where in a function's BARs something lives (the MSI-X table, the PBA): BAR index and offset.
public struct PCIBARLocation: Sendable, Hashable {
    public var bar: Int
    public var offset: Int

    public init(bar: Int, offset: Int) {
        self.bar = bar
        self.offset = offset
    }
}

/// Writes the image and the masks of a new config space.
private struct Builder {
    var bytes = [UInt8](repeating: 0, count: PCIConfigSpace.size)
    var writable = [UInt8](repeating: 0, count: PCIConfigSpace.size)

    mutating func header(_ identity: PCIIdentity, firstCapability: Int) {
        set16(identity.vendorID, at: 0x00)
        set16(identity.deviceID, at: 0x02)
        set16(firstCapability != 0 ? 0x0010 : 0, at: 0x06)  // status: capabilities list
        bytes[0x08] = identity.revision
        bytes[0x09] = UInt8(truncatingIfNeeded: identity.classCode)
        bytes[0x0A] = UInt8(truncatingIfNeeded: identity.classCode >> 8)
        bytes[0x0B] = UInt8(truncatingIfNeeded: identity.classCode >> 16)
        bytes[0x0E] = 0x00  // header type 0
        set16(identity.subsystemVendorID, at: 0x2C)
        set16(identity.subsystemID, at: 0x2E)
        bytes[0x34] = UInt8(firstCapability)
        bytes[0x3D] = 0x01  // interrupt pin INTA#
        // Command: I/O, memory, bus master, parity, SERR, INTx disable; interrupt line.
        mask16(0x0547, at: PCIConfigSpace.commandOffset)
        writable[0x3C] = 0xFF
    }

    /// Returns the next BAR register.
    mutating func bar(_ bar: PCIBAR, at register: Int) -> Int {
        switch bar {
        case .memory32(let size):
            mask32(~UInt32(size - 1) & 0xFFFF_FFF0, at: register)
            return register + 4
        case .memory64(let size):
            set32(0x0000_0004, at: register)  // 64-bit memory type
            mask32(~UInt32(truncatingIfNeeded: size - 1) & 0xFFFF_FFF0, at: register)
            mask32(0xFFFF_FFFF, at: register + 4)
            return register + 8
        case .io(let size):
            set32(0x0000_0001, at: register)
            mask32(~UInt32(size - 1) & 0xFFFF_FFFC, at: register)
            return register + 4
        }
    }

    mutating func capability(_ capability: PCICapability, at offset: Int, next: Int) {
        bytes[offset] = capability.id.rawValue
        bytes[offset + 1] = UInt8(next)
        switch capability {
        case .powerManagement(let version):
            set16(version, at: offset + 2)
            mask16(0x0003, at: offset + 4)  // PMCSR PowerState
        case .msi:
            set16(0x0080, at: offset + 2)  // 64-bit address, one message
            mask16(0x0001, at: offset + 2)
        case .msix(let vectors, let table, let pba):
            set16(UInt16(vectors - 1), at: offset + 2)
            mask16(PCIConfigSpace.msixEnable | PCIConfigSpace.msixFunctionMask, at: offset + 2)
            set32(UInt32(table.offset | table.bar), at: offset + 4)
            set32(UInt32(pba.offset | pba.bar), at: offset + 8)
        case .express(let width, let speed, let completionTimeoutDisable):
            set16(0x0002, at: offset + 2)  // version 2, endpoint
            set32(1 << 28 | 1 << 15 | 0x1, at: offset + 4)  // DevCap: FLR, role-based error reporting, MPS 256
            mask16(0xFFFF, at: offset + 8)  // DevCtl (bit 15 starts an FLR)
            let link = UInt32(width) << 4 | UInt32(speed)
            set32(link, at: offset + 0x0C)  // LinkCap
            mask16(0x0FFF, at: offset + 0x10)  // LinkCtl
            set16(UInt16(link), at: offset + 0x12)  // LinkSta
            if completionTimeoutDisable {
                set32(0x0000_0010, at: offset + 0x24)  // DevCap2
                mask16(0x041F, at: offset + 0x28)  // DevCtl2
            }
        }
    }

    mutating func set16(_ v: UInt16, at o: Int) {
        bytes[o] = UInt8(truncatingIfNeeded: v)
        bytes[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    mutating func set32(_ v: UInt32, at o: Int) {
        set16(UInt16(truncatingIfNeeded: v), at: o)
        set16(UInt16(truncatingIfNeeded: v >> 16), at: o + 2)
    }
    mutating func mask16(_ v: UInt16, at o: Int) {
        writable[o] = UInt8(truncatingIfNeeded: v)
        writable[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    mutating func mask32(_ v: UInt32, at o: Int) {
        mask16(UInt16(truncatingIfNeeded: v), at: o)
        mask16(UInt16(truncatingIfNeeded: v >> 16), at: o + 2)
    }
}
