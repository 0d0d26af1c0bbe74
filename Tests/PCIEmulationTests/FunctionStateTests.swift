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

/// A minimal device on the shared PCI side: counts its resets, keeps everything else in
/// `PCIFunctionState`.
struct CountingEngine: EmulatedPCIEngine {
    var pci: PCIFunctionState
    var deviceResets = 0
    var unmasked: [Int] = []

    mutating func resetDevice() { deviceResets += 1 }
    mutating func interruptUnmasked(vector: Int) { unmasked.append(vector) }

    static let vectors = 4

    /// BAR0 16 KiB, MSI-X table at 0x2000 and PBA at 0x3000 of BAR0, FLR capable.
    static func make(_ bar: EmulatedBAR) -> CountingEngine {
        let config = PCIConfigSpace(
            identity: PCIIdentity(vendorID: 0x1B36, deviceID: 0xFFFF, revision: 0, classCode: 0xFF_00_00, subsystemVendorID: 0, subsystemID: 0),
            bars: [.memory32(size: 0x4000)],
            capabilities: [
                (0x40, .msix(vectors: vectors, table: PCIBARLocation(bar: 0, offset: 0x2000), pba: PCIBARLocation(bar: 0, offset: 0x3000))),
                (0x50, .express(linkWidth: 1, linkSpeed: 1, completionTimeoutDisable: false)),
            ])
        let table = MSIXTable(memory: bar.region, vectors: vectors, tableOffset: 0x2000, pbaOffset: 0x3000)
        return CountingEngine(pci: PCIFunctionState(config: config, msix: table, iommu: EmulatedIOMMU()))
    }
}

func eventFDs(_ n: Int) throws -> [VectorEventFD] {
    try VectorEventFD.make(count: n, for: "a test")
}

/// MSI-X and INTx delivery, bus master gating, and both kinds of reset, on `PCIFunctionState`.
@Suite struct FunctionStateTests {
    @Test func msixTableStartsMaskedAndEnablingProgramsAndUnmasksIt() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        for v in 0..<CountingEngine.vectors { #expect(e.pci.msix.isMasked(v)) }
        let fds = try eventFDs(2)
        _ = e.pci.enableInterrupts(.msix, eventFDs: fds)
        #expect(e.pci.config.msixEnabled && e.pci.msixActive)
        #expect(!e.pci.msix.isMasked(0) && !e.pci.msix.isMasked(1) && e.pci.msix.isMasked(2))
        #expect(bar.region.load32(at: e.pci.msix.messageAddressOffset(1)) == 0xFEE0_0000)
        #expect(bar.region.load32(at: e.pci.msix.messageDataOffset(1)) == 1)
        e.pci.signal(vector: 1)
        #expect(fds[1].eventFD.drain() == 1)
        #expect(e.pci.counters.signalled == 1)
        e.pci.signal(vector: 3)  // no eventfd
        #expect(e.pci.counters.unrouted == 1)
        let old = e.pci.disableInterrupts()
        #expect(old.count == 2 && !e.pci.config.msixEnabled && e.pci.msix.isMasked(0))
    }

    /// PCI 3.0, 6.8.2.9: a masked vector's message sets its pending bit and goes out at unmask.
    @Test func maskedVectorHoldsItsMessageInThePBAUntilUnmask() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        let fds = try eventFDs(2)
        _ = e.pci.enableInterrupts(.msix, eventFDs: fds)
        let unmaskedByMasking = e.pci.setMasked(vector: 0, true)
        #expect(!unmaskedByMasking)
        e.pci.signal(vector: 0)
        #expect(fds[0].eventFD.drain() == 0)
        #expect(e.pci.msix.isPending(0) && e.pci.counters.heldMasked == 1)
        let unmasked = e.pci.setMasked(vector: 0, false)
        #expect(unmasked)
        #expect(fds[0].eventFD.drain() == 1)
        #expect(!e.pci.msix.isPending(0))
    }

    @Test func functionMaskHoldsEveryVectorUntilItIsCleared() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        let fds = try eventFDs(2)
        _ = e.pci.enableInterrupts(.msix, eventFDs: fds)
        e.writeConfig(UInt32(PCIConfigSpace.msixEnable | PCIConfigSpace.msixFunctionMask), at: 0x42, width: 2)
        e.pci.signal(vector: 0)
        e.pci.signal(vector: 1)
        #expect(fds[0].eventFD.drain() == 0 && fds[1].eventFD.drain() == 0)
        e.writeConfig(UInt32(PCIConfigSpace.msixEnable), at: 0x42, width: 2)
        #expect(fds[0].eventFD.drain() == 1 && fds[1].eventFD.drain() == 1)
    }

    /// vfio-pci's INTx: each trigger masks the line until unmask; a trigger meanwhile is held.
    @Test func intxMasksItselfAfterEachTriggerAndHoldsTheNext() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        let fds = try eventFDs(1)
        _ = e.pci.enableInterrupts(.intx, eventFDs: fds)
        #expect(!e.pci.config.intxDisabled)
        e.pci.raiseINTx()
        e.pci.raiseINTx()
        #expect(fds[0].eventFD.drain() == 1)
        #expect(e.pci.intxAutomasked && e.pci.intxHeld)
        let unmasked = e.pci.setMasked(vector: 0, false)
        let delivered = e.pci.deliverHeldINTx()
        #expect(unmasked && delivered)
        #expect(fds[0].eventFD.drain() == 1)
        let again = e.pci.deliverHeldINTx()
        #expect(!again)
    }

    @Test func withoutBusMasterNoAccessIsAllowedAndEachAttemptIsAFault() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        #expect(!e.pci.mayAccess(0x1000, length: 64, .deviceRead))
        #expect(e.pci.iommu.faults.last == DMAFault(iova: 0x1000, length: 64, direction: .deviceRead, reason: .busMasterDisabled))
        e.pci.config.setCommand(PCIConfigSpace.commandBusMaster, true)
        #expect(e.pci.mayAccess(0x1000, length: 64, .deviceRead))
        #expect(e.pci.iommu.faultCount == 1)
    }

    /// An FLR the function performs (Device Control) leaves it quiet: bus master and MSI-X off,
    /// table masked, nothing pending; the device part resets too.
    @Test func deviceControlFLRResetsConfigSpaceAndTheDevice() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        e.pci.config.setCommand(PCIConfigSpace.commandBusMaster, true)
        let fds = try eventFDs(1)
        _ = e.pci.enableInterrupts(.msix, eventFDs: fds)
        _ = e.pci.setMasked(vector: 0, true)
        e.pci.signal(vector: 0)
        e.writeConfig(UInt32(PCIConfigSpace.initiateFunctionLevelReset), at: 0x58, width: 2)
        #expect(e.deviceResets == 1)
        #expect(!e.pci.config.busMasterEnabled && !e.pci.config.msixEnabled)
        #expect(e.pci.msix.isMasked(0) && !e.pci.msix.isPending(0))
        #expect(e.pci.config.read16(at: 0x58) & PCIConfigSpace.initiateFunctionLevelReset == 0)
    }

    /// `VFIO_DEVICE_RESET`: vfio-pci saves and restores config space and MSI-X around the FLR, so
    /// only the device starts over.
    @Test func vfioResetKeepsBusMasterAndVectors() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        e.pci.config.setCommand(PCIConfigSpace.commandBusMaster | PCIConfigSpace.commandMemory, true)
        let fds = try eventFDs(2)
        _ = e.pci.enableInterrupts(.msix, eventFDs: fds)
        try e.resetThroughVFIO()
        #expect(e.deviceResets == 1)
        #expect(e.pci.config.busMasterEnabled && e.pci.msixActive)
        #expect(!e.pci.msix.isMasked(1) && e.pci.msix.isMasked(2))
        e.pci.signal(vector: 1)
        #expect(fds[1].eventFD.drain() == 1)
    }

    @Test func aFailingResetThrowsAndChangesNothing() throws {
        let bar = try EmulatedBAR(length: 0x4000)
        var e = CountingEngine.make(bar)
        e.pci.config.setCommand(PCIConfigSpace.commandBusMaster, true)
        e.pci.resetFault = .fails(errno: 5)
        var thrown: VFIOError?
        do { try e.resetThroughVFIO() } catch { thrown = error }
        #expect(thrown == .system(operation: "VFIO_DEVICE_RESET of the emulated function (FLR did not complete)", errno: 5))
        e.writeConfig(UInt32(PCIConfigSpace.initiateFunctionLevelReset), at: 0x58, width: 2)
        #expect(e.deviceResets == 0)
        #expect(e.pci.config.busMasterEnabled)
        e.pci.resetFault = nil
        try e.resetThroughVFIO()
        #expect(e.deviceResets == 1)
    }
}
