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

import NVMe
import NVMeEmulator
import Testing
import VFIO

@Suite struct LifecycleTests {
    @Test func everyDMAMappingIsReleasedAfterClose() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: .stepped))
        do {
            let controller = try Controller(device: device)
            var pair = try controller.makeQueuePair()
            let ns = try controller.namespace(1)
            let buffer = try device.dma.allocate(length: 8192)
            try ns.write(lba: 0, blocks: 16, from: buffer.whole)  // creates the internal pair
            try ns.read(lba: 0, blocks: 16, into: buffer.whole, using: &pair)
            #expect(device.dma.liveMappings > 3)
            try controller.close()
        }
        // Admin queues, I/O queues, PRP pages and identify pages: all unmapped.
        #expect(device.dma.liveMappings == 0)
        #expect(device.dma.mappedBytes == 0)
        #expect(device.iommu.mappingCount == 0)
    }

    @Test func shutdownNotifiesAndDisables() throws {
        let rig = try Rig()
        try rig.controller.close()
        let bar = try rig.device.region(bar: 0)
        let cc = ControllerConfiguration(rawValue: bar.load32(at: ControllerRegisterOffset.controllerConfiguration.rawValue))
        #expect(cc.shutdownNotification == .normal)
        #expect(!cc.enable)
        #expect(!rig.controller.status.ready)
        // Closing twice is harmless; admin commands afterwards say why they cannot run.
        try rig.controller.close()
        #expect(throws: NVMeError.closed) { _ = try rig.controller.identifyController() }
    }

    /// With recovery disabled CSTS.CFS is only reported (with it, the controller is reset: see
    /// RecoveryTests.controllerFatalStatusResetsAndRetries).
    @Test func controllerFatalStatusEndsTheWait() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: .stepped))
        let rig = (device: device, controller: try Controller(device: device, options: ControllerOptions(recovery: .disabled)))
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 4096)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .nth(1), .controllerFatalStatus)]))
        try pair.submitRead(namespace: rig.controller.namespaces[0], lba: 0, blocks: 1, into: buffer.whole, token: 0)
        pair.ringSubmissionDoorbell()
        let start = MonotonicClock.nanoseconds()
        #expect(throws: NVMeError.controllerFatal(during: "I/O on queue \(pair.id)")) {
            _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 10_000) { _ in }
        }
        // Detected from CSTS while idle, long before the timeout.
        #expect(MonotonicClock.nanoseconds() - start < 2_000_000_000)
    }

    @Test func bringUpRejectsAControllerWithoutFourKiBPages() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(memoryPageSizeMinimum: 1))
        #expect {
            _ = try Controller(device: device)
        } throws: { error in
            guard case .unsupported(let what) = error as? NVMeError else { return false }
            return what.contains("MPSMIN")
        }
        #expect(device.dma.liveMappings == 0)
    }

    @Test func bringUpWaitsForReadyThatTakesTime() throws {
        let rig = try Rig { $0.readyDelayNanoseconds = 20_000_000 }
        #expect(rig.controller.status.ready)
    }
}
