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

/// The emulated Controller Memory Buffer (QEMU's `cmb_size_mb`, NVMe 1.4 registers): hidden until
/// CMBMSC.CRE, answering at CMBMSC.CBA once CMSE is set, taking SQs only, every host value checked.
@Suite struct ControllerMemoryBufferEmulationTests {
    static let base: UInt64 = 0x4000_0000_0000

    func host(bytes: Int = 1 << 20) throws -> TestHost {
        var configuration = EmulatedNVMeConfiguration(maxQueueEntries: 255)
        configuration.controllerMemoryBufferBytes = bytes
        return try TestHost(configuration)
    }

    func setControl(_ host: TestHost, _ value: UInt64) {
        host.bar.store64(value, at: 0x50)
        host.controller.service()
    }

    @Test func registersAppearOnlyAfterCRE() throws {
        let host = try host()
        #expect(host.capabilities.controllerMemoryBufferSupported)
        host.controller.service()
        #expect(host.bar.load32(at: 0x38) == 0 && host.bar.load32(at: 0x3C) == 0)
        setControl(host, 1)
        let size = ControllerMemoryBufferSize(rawValue: host.bar.load32(at: 0x3C))
        let location = ControllerMemoryBufferLocation(rawValue: host.bar.load32(at: 0x38))
        #expect(location.baseIndicator == 2 && location.offsetUnits == 0)
        #expect(size.submissionQueues && !size.completionQueues && size.unitBytes == 1 << 20 && size.sizeUnits == 1)
        // Read-only: a host write does not stick.
        host.bar.store32(0, at: 0x3C)
        host.controller.service()
        #expect(host.bar.load32(at: 0x3C) == size.rawValue)
        #expect(try host.controller.region(bar: 2).length == 1 << 20)
    }

    @Test func baseAddressThatCannotHoldTheBufferIsFlagged() throws {
        let host = try host()
        setControl(host, 0xFFFF_FFFF_FFFF_F000 | 3)
        #expect(host.bar.load32(at: 0x58) & 1 == 1)  // CMBSTS.CBAI
        #expect(ControllerMemoryBufferControl(rawValue: host.bar.load64(at: 0x50)).memorySpaceEnabled == false)
    }

    @Test func queuesInTheBufferAreCheckedAndSQsOnly() throws {
        let host = try host()
        try host.enable()
        #expect(host.setNumberOfQueues(2).status == .success)
        setControl(host, Self.base | 3)
        let memory = try host.controller.dma.allocate(length: 4096)
        // CMBSZ.CQS is 0: a CQ in the buffer is refused.
        #expect(host.adminCommand(.createIOCompletionQueue(id: 1, size: 16, baseIOVA: Self.base, interruptsEnabled: false))
            .status.matches(.invalidUseOfCMB))
        #expect(host.adminCommand(.createIOCompletionQueue(id: 1, size: 16, baseIOVA: memory.iova.rawValue, interruptsEnabled: false))
            .status == .success)
        // An SQ that starts in the buffer must end in it.
        #expect(host.adminCommand(.createIOSubmissionQueue(id: 1, size: 128, baseIOVA: Self.base + (1 << 20) - 4096, completionQueue: 1))
            .status.matches(.invalidUseOfCMB))
        #expect(host.adminCommand(.createIOSubmissionQueue(id: 1, size: 32, baseIOVA: Self.base + 8192, completionQueue: 1))
            .status == .success)
    }

    @Test func controllerWithoutBufferIgnoresTheRegister() throws {
        let host = try host(bytes: 0)
        #expect(!host.capabilities.controllerMemoryBufferSupported)
        setControl(host, Self.base | 3)
        #expect(host.bar.load64(at: 0x50) == 0 && host.bar.load32(at: 0x3C) == 0)
        #expect(throws: VFIOError.self) { _ = try host.controller.region(bar: 2) }
    }
}
