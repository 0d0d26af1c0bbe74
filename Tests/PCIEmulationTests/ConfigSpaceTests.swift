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

import PCIEmulation
import Testing
import VFIO

/// The config space builder: header, BAR sizing, the capability chain, write masks, and what a
/// function level reset does to it.
@Suite struct ConfigSpaceTests {
    static let identity = PCIIdentity(vendorID: 0x1234, deviceID: 0x5678, revision: 3, classCode: 0x02_00_00,
                                      subsystemVendorID: 0xAAAA, subsystemID: 0xBBBB)

    static func space() -> PCIConfigSpace {
        PCIConfigSpace(
            identity: identity,
            bars: [.memory64(size: 0x4000), .io(size: 32), .memory32(size: 0x2000)],
            capabilities: [
                (0x40, .powerManagement(version: 3)),
                (0x50, .msix(vectors: 8, table: PCIBARLocation(bar: 3, offset: 0), pba: PCIBARLocation(bar: 3, offset: 0x1000))),
                (0x48, .msi),
                (0x60, .express(linkWidth: 4, linkSpeed: 3, completionTimeoutDisable: true)),
            ])
    }

    @Test func headerCarriesTheIdentity() {
        let c = Self.space()
        #expect(c.read16(at: 0x00) == 0x1234 && c.read16(at: 0x02) == 0x5678)
        #expect(c.read32(at: 0x08) == 0x0200_0003)
        #expect(c.read16(at: 0x2C) == 0xAAAA && c.read16(at: 0x2E) == 0xBBBB)
        #expect(c.read16(at: 0x06) & 0x10 != 0)  // capabilities list
        #expect(c.read8(at: 0x3D) == 1)  // INTA#
    }

    @Test func capabilitiesAreChainedInTheOrderGiven() {
        let c = Self.space()
        var chain: [(Int, UInt8)] = []
        var pointer = Int(c.read8(at: 0x34))
        while pointer != 0 && chain.count < 48 {
            chain.append((pointer, c.read8(at: pointer)))
            pointer = Int(c.read8(at: pointer + 1))
        }
        #expect(chain.map(\.0) == [0x40, 0x50, 0x48, 0x60])
        #expect(chain.map(\.1) == [0x01, 0x11, 0x05, 0x10])
        #expect(c.msixOffset == 0x50 && c.expressOffset == 0x60 && c.msiOffset == 0x48 && c.powerManagementOffset == 0x40)
        #expect(c.read16(at: 0x52) == 7)  // table size N-1
        #expect(c.read32(at: 0x54) == 3 && c.read32(at: 0x58) == 0x1003)  // BIR 3
        #expect(c.read32(at: 0x64) & (1 << 28) != 0)  // FLR capable
        #expect(c.read32(at: 0x60 + 0x0C) == 0x43)  // x4 at 8 GT/s
    }

    @Test func barsAnswerTheSizingProbeWithTheirSize() {
        var c = Self.space()
        for register in stride(from: 0x10, through: 0x20, by: 4) {
            _ = c.write(0xFFFF_FFFF, at: register, width: 4)
        }
        #expect(c.read32(at: 0x10) == ~UInt32(0x4000 - 1) & 0xFFFF_FFF0 | 0x4)  // 64-bit memory
        #expect(c.read32(at: 0x14) == 0xFFFF_FFFF)  // upper half
        #expect(c.read32(at: 0x18) == ~UInt32(32 - 1) & 0xFFFF_FFFC | 0x1)  // I/O
        #expect(c.read32(at: 0x1C) == ~UInt32(0x2000 - 1) & 0xFFFF_FFF0)
        #expect(c.read32(at: 0x20) == 0)  // no BAR4
    }

    @Test func readOnlyBitsKeepTheirValue() throws {
        var c = Self.space()
        _ = c.write(0xFFFF_FFFF, at: 0x00, width: 4)
        _ = c.write(0xFFFF, at: 0x52, width: 2)
        #expect(c.read32(at: 0x00) == 0x5678_1234)
        #expect(c.read16(at: 0x52) == 0xC007)  // only enable and function mask are writable
        _ = c.write(0xFFFF, at: 0x04, width: 2)
        #expect(c.command == 0x0547)
        #expect(throws: VFIOError.self) { try PCIConfigSpace.check(4096, width: 4) }
        #expect(throws: VFIOError.self) { try PCIConfigSpace.check(2, width: 4) }
        try PCIConfigSpace.check(4092, width: 4)
    }

    @Test func deviceControlFLRIsRequestedAndNeverSticks() {
        var c = Self.space()
        let plain = c.write(0x0010, at: 0x68, width: 2)
        let reset = c.write(0x8010, at: 0x68, width: 2)
        #expect(!plain && reset)
        #expect(c.read16(at: 0x68) == 0x0010)
    }

    /// PCIe base 4.0, 6.6.2 and PCI PM 1.2, 3.2.4: after an FLR the command register is clear (no
    /// bus mastering), MSI-X is off, BARs are zero and PMCSR is back in D0.
    @Test func functionLevelResetReturnsEveryRegisterToPowerOn() {
        var c = Self.space()
        let powerOn = c.bytes
        c.setCommand(PCIConfigSpace.commandMemory | PCIConfigSpace.commandBusMaster, true)
        c.setMSIXEnabled(true)
        _ = c.write(0x0003, at: 0x44, width: 2)  // PMCSR: D3hot
        _ = c.write(0xFEB0_0000, at: 0x1C, width: 4)
        _ = c.write(0x2000, at: 0x68, width: 2)
        #expect(c.busMasterEnabled && c.msixEnabled && c.read16(at: 0x44) == 3)
        c.functionLevelReset()
        #expect(c.bytes == powerOn)
        #expect(!c.busMasterEnabled && !c.msixEnabled && c.read16(at: 0x44) & 3 == 0)
    }

    @Test func restorePutsBackWritableRegistersOnly() {
        var c = Self.space()
        c.setCommand(PCIConfigSpace.commandBusMaster, true)
        c.setMSIXEnabled(true)
        let saved = c.saved
        c.functionLevelReset()
        #expect(!c.busMasterEnabled)
        c.restore(saved)
        #expect(c.busMasterEnabled && c.msixEnabled)
        var tampered = saved
        tampered[0] = 0xEE
        c.restore(tampered)
        #expect(c.read16(at: 0x00) == 0x1234)
    }
}
