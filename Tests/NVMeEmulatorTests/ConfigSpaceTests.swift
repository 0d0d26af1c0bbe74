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

import NVMeSpec
import NVMeEmulator
import Testing
import VFIO

/// PCI configuration space: identity, the capability list, MSI-X location, BAR sizing, bus master.
@Suite struct ConfigSpaceTests {
    @Test func identityIsQEMUsNVMeController() throws {
        let c = try EmulatedNVMeController()
        #expect(try c.readConfig16(at: 0x00) == 0x1B36)
        #expect(try c.readConfig16(at: 0x02) == 0x0010)
        #expect(try c.readConfig32(at: 0x08) >> 8 == 0x010802)
        #expect(try c.readConfig16(at: 0x06) & 0x10 != 0)
        #expect(c.name == "emulated")
    }

    @Test func capabilityListHasPowerManagementMSIXAndExpress() throws {
        let c = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(msixVectors: 9))
        var found: [UInt8: Int] = [:]
        var pointer = Int(try c.readConfig16(at: 0x34) & 0xFC)
        var hops = 0
        while pointer != 0 && hops < 48 {
            let header = try c.readConfig16(at: pointer)
            found[UInt8(header & 0xFF)] = pointer
            pointer = Int(header >> 8) & 0xFC
            hops += 1
        }
        #expect(Set(found.keys) == [0x01, 0x11, 0x10])
        let msix = try #require(found[0x11])
        let control = try c.readConfig16(at: msix + 2)
        #expect(Int(control & 0x7FF) + 1 == 9)
        let table = try c.readConfig32(at: msix + 4)
        let pba = try c.readConfig32(at: msix + 8)
        #expect(table & 0x7 == 0 && pba & 0x7 == 0)  // BIR 0
        #expect(Int(table & ~0x7) == c.msixTableOffset)
        #expect(Int(pba & ~0x7) == c.msixPBAOffset)
        #expect(c.msixTableOffset % 4096 == 0 && c.msixPBAOffset % 4096 == 0)
        let bar = try c.region(bar: 0)
        #expect(c.msixPBAOffset < bar.length)
        // PCIe capability: endpoint, FLR supported.
        let express = try #require(found[0x10])
        #expect(try c.readConfig32(at: express + 4) & (1 << 28) != 0)
    }

    @Test func barSizingProbeReturnsTheSize() throws {
        let c = try EmulatedNVMeController()
        let size = try c.region(bar: 0).length
        try c.writeConfig32(0xFFFF_FFFF, at: 0x10)
        let probe = try c.readConfig32(at: 0x10)
        #expect(probe & 0x6 == 0x4)  // 64-bit memory BAR
        #expect(Int(~(probe & 0xFFFF_FFF0) &+ 1) == size)
    }

    @Test func readOnlyFieldsIgnoreWrites() throws {
        let c = try EmulatedNVMeController()
        try c.writeConfig16(0xFFFF, at: 0x00)
        #expect(try c.readConfig16(at: 0x00) == 0x1B36)
        #expect(throws: VFIOError.self) { try c.readConfig32(at: 4096) }
        #expect(throws: VFIOError.self) { try c.readConfig32(at: 2) }
        #expect(throws: VFIOError.self) { try c.region(bar: 2) }
    }

    @Test func enableBusMasterSetsCommandBits() throws {
        let c = try EmulatedNVMeController()
        #expect(try c.readConfig16(at: 0x04) & 0x4 == 0)
        try c.enableBusMaster()
        #expect(try c.readConfig16(at: 0x04) & 0x6 == 0x6)
    }

    @Test func busMasterOffRefusesDMA() throws {
        let host = try TestHost()
        try host.enable()
        try host.controller.writeConfig16(0x0002, at: 0x04)  // memory only, no bus master
        host.admin.submit(.identify(cns: .controller))
        host.controller.service()
        #expect(host.status.controllerFatalStatus)
        #expect(host.controller.dmaFaults.last?.reason == .busMasterDisabled)
        #expect(host.admin.drain().isEmpty)
    }

    @Test func functionLevelResetThroughDeviceControl() throws {
        let (host, _) = try TestHost.ready()
        let express = 0x60
        try host.controller.writeConfig16(0x8000, at: express + 8)
        #expect(!host.status.ready)
        #expect(host.configuration.rawValue == 0)
        #expect(host.bar.load64(at: ControllerRegisterOffset.adminSubmissionQueueBase.rawValue) == 0)
        #expect(try host.controller.readConfig16(at: express + 8) & 0x8000 == 0)
    }

    @Test func resetReturnsToPowerOnState() throws {
        let (host, _) = try TestHost.ready()
        try host.controller.reset()
        #expect(!host.status.ready)
        #expect(host.configuration.rawValue == 0)
        try host.enable()
        #expect(host.status.ready)
    }
}
