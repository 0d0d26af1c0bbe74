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

/// CMBLOC, controller memory buffer location (NVMe base 1.4, 3.1.11). Device data: the BAR and
/// offset it names are checked against the BAR's real size before anything is mapped.
public struct ControllerMemoryBufferLocation: RawRepresentable, Hashable, Sendable, RegisterValue {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CMBLOC.BIR: the BAR (0, 2...5) that holds the buffer.
    @inlinable public var baseIndicator: Int {
        get { Int(rawValue.bits(0..<3)) }
        set { rawValue.setBits(0..<3, to: UInt32(truncatingIfNeeded: newValue)) }
    }
    /// CMBLOC.OFST: the buffer's offset in the BAR, in units of CMBSZ.SZU.
    @inlinable public var offsetUnits: UInt32 {
        get { rawValue.bits(12..<32) }
        set { rawValue.setBits(12..<32, to: newValue) }
    }
}

/// CMBSZ, controller memory buffer size (3.1.12): what may live in the buffer, and how big it is.
public struct ControllerMemoryBufferSize: RawRepresentable, Hashable, Sendable, RegisterValue {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CMBSZ.SQS: I/O submission queues may be in the buffer.
    @inlinable public var submissionQueues: Bool {
        get { rawValue.bit(0) }
        set { rawValue.setBit(0, newValue) }
    }
    /// CMBSZ.CQS: I/O completion queues may be in the buffer.
    @inlinable public var completionQueues: Bool { rawValue.bit(1) }
    /// CMBSZ.LISTS: PRP and SGL lists may be in the buffer.
    @inlinable public var lists: Bool { rawValue.bit(2) }
    /// CMBSZ.RDS: read data may be in the buffer.
    @inlinable public var readData: Bool { rawValue.bit(3) }
    /// CMBSZ.WDS: write data may be in the buffer.
    @inlinable public var writeData: Bool { rawValue.bit(4) }
    /// CMBSZ.SZU: the size unit, 4 KiB << (4 × SZU); 7...15 are reserved.
    @inlinable public var sizeUnitCode: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.bits(8..<12)) }
        set { rawValue.setBits(8..<12, to: UInt32(newValue)) }
    }
    /// CMBSZ.SZ: the size, in units of SZU.
    @inlinable public var sizeUnits: UInt32 {
        get { rawValue.bits(12..<32) }
        set { rawValue.setBits(12..<32, to: newValue) }
    }
    /// Bytes per SZU unit (4 KiB ... 64 GiB), or nil for a reserved code.
    @inlinable public var unitBytes: UInt64? { sizeUnitCode <= 6 ? 4096 << (4 * UInt64(sizeUnitCode)) : nil }
}

/// CMBMSC, controller memory buffer memory space control (3.1.25, NVMe 1.4): CRE makes CMBLOC and
/// CMBSZ readable (they read 0 until then on a 1.4 controller), CMSE enables the buffer's
/// controller memory space at CBA, the address the controller recognises as the buffer's.
public struct ControllerMemoryBufferControl: RawRepresentable, Hashable, Sendable, RegisterValue {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// CMBMSC.CRE: capabilities registers enabled.
    @inlinable public var registersEnabled: Bool {
        get { rawValue.bit(0) }
        set { rawValue.setBit(0, newValue) }
    }
    /// CMBMSC.CMSE: controller memory space enable.
    @inlinable public var memorySpaceEnabled: Bool {
        get { rawValue.bit(1) }
        set { rawValue.setBit(1, newValue) }
    }
    /// CMBMSC.CBA: controller base address, 4 KiB aligned (bits 63:12 of the address).
    @inlinable public var baseAddress: UInt64 {
        get { rawValue.bits(12..<64) << 12 }
        set { rawValue.setBits(12..<64, to: newValue >> 12) }
    }
}

/// CMBSTS, controller memory buffer status (3.1.26, NVMe 1.4).
public struct ControllerMemoryBufferStatus: RawRepresentable, Hashable, Sendable, RegisterValue {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CMBSTS.CBAI: the CBA last written cannot hold the buffer, so the space stays disabled.
    @inlinable public var baseAddressInvalid: Bool {
        get { rawValue.bit(0) }
        set { rawValue.setBit(0, newValue) }
    }
}

/// PMRCAP, persistent memory region capabilities (3.1.13, NVMe 1.4).
public struct PersistentMemoryCapabilities: RawRepresentable, Hashable, Sendable, RegisterValue {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// PMRCAP.RDS: read data may be in the region.
    @inlinable public var readData: Bool { rawValue.bit(3) }
    /// PMRCAP.WDS: write data may be in the region.
    @inlinable public var writeData: Bool { rawValue.bit(4) }
    /// PMRCAP.BIR: the BAR that holds the region.
    @inlinable public var baseIndicator: Int { Int(rawValue.bits(5..<8)) }
    /// PMRCAP.PMRTU: the unit of PMRTO (0: 500 ms, 1: minutes).
    @inlinable public var timeUnits: UInt8 { UInt8(truncatingIfNeeded: rawValue.bits(8..<10)) }
    /// PMRCAP.PMRWBM: write barrier mechanisms (bit 0: a read of the region, bit 1: of PMRSTS).
    @inlinable public var writeBarrierMechanisms: UInt8 { UInt8(truncatingIfNeeded: rawValue.bits(10..<14)) }
    /// PMRCAP.PMRTO: time to become ready, in PMRTU units.
    @inlinable public var timeout: UInt8 { UInt8(truncatingIfNeeded: rawValue.bits(16..<24)) }
    /// PMRCAP.CMSS: controller memory space supported.
    @inlinable public var controllerMemorySpace: Bool { rawValue.bit(24) }
}

/// The CMB and PMR registers of BAR0 (NVMe base 1.4, 3.1), kept apart from `ControllerRegister`
/// because only controllers with CAP.CMBS or CAP.PMRS give them meaning.
public enum ControllerMemoryRegister {
    /// CMBLOC (3.1.11).
    @inlinable public static var location: Register<ControllerMemoryBufferLocation> { Register(offset: 0x38) }
    /// CMBSZ (3.1.12).
    @inlinable public static var size: Register<ControllerMemoryBufferSize> { Register(offset: 0x3C) }
    /// CMBMSC (3.1.25), 64-bit.
    @inlinable public static var control: Register<ControllerMemoryBufferControl> { Register(offset: 0x50) }
    /// CMBSTS (3.1.26).
    @inlinable public static var status: Register<ControllerMemoryBufferStatus> { Register(offset: 0x58) }
    /// PMRCAP (3.1.13).
    @inlinable public static var persistentCapabilities: Register<PersistentMemoryCapabilities> { Register(offset: 0xE00) }
}
