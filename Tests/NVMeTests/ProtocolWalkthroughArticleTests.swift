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

// The code of the NVMe catalog's article "The protocol walk-through"
// (Sources/NVMe/NVMe.docc/ProtocolWalkthrough.md), compiled and run here against the emulated
// controller. `ArticleCodeTests` checks that every code block of the article appears in this file.

/// What the walk-through observed, for the tests to judge.
struct WalkthroughOutcome {
    var completed = 0
    var failed = 0
    var single: Completion?
    var statistics = QueueStatistics()
}

/// The article's code, in its order.
func protocolWalkthrough(mode: CompletionMode) throws -> WalkthroughOutcome {
    let device = try EmulatedNVMeController()       // or: try VFIODevice(address: PCIAddress(parsing: "0000:01:00.0"))
    let controller = try Controller(device: device)  // reset, admin queue, Identify, I/O queue count
    let namespace = controller.namespaces[0]
    var pair = try controller.makeQueuePair()
    let buffer = try device.dma.allocate(length: 64 << 10)
    let blocksPerPage = 4096 / namespace.blockSize

    for i in 0..<16 {
        try pair.submitRead(namespace: namespace, lba: UInt64(i * blocksPerPage), blocks: blocksPerPage,
                            into: buffer.slice(offset: i * 4096, length: 4096), token: UInt64(i))
    }
    pair.ringSubmissionDoorbell()

    var failed = 0
    let completed = try pair.waitForCompletions(atLeast: 16, mode: mode, timeoutMilliseconds: 1000) { completion in
        if !completion.status.isSuccess { failed += 1 }
    }

    try pair.submitRead(namespace: namespace, lba: 0, blocks: blocksPerPage, into: buffer.slice(offset: 0, length: 4096), token: 99)
    pair.ringSubmissionDoorbell()
    var single: Completion?
    let deadline = Deadline(milliseconds: 1000)
    while single == nil && !deadline.hasPassed {
        device.service()                   // the emulated device's progress; nothing for a real one
        _ = pair.reap { single = $0 }      // phase bit, dma_rmb, checks, consume, CQ head doorbell
        Barrier.cpuPause()
    }

    let statistics = pair.statistics
    _ = consume pair           // Delete I/O SQ and CQ, then unmap the rings
    try controller.close()     // CC.SHN and CSTS.SHST, CC.EN = 0, interrupts off
    return WalkthroughOutcome(completed: completed, failed: failed, single: single, statistics: statistics)
}

/// The landing page's example (Sources/NVMe/NVMe.docc/NVMe.md): write a pattern, clear the buffer, read it back.
func landingPageExample<Device: PCIFunction>(_ device: Device) throws -> DMABuffer {
    let controller = try Controller(device: device)   // a VFIODevice or an EmulatedNVMeController
    let namespace = try controller.namespace(1)
    let buffer = try device.dma.allocate(length: 64 << 10)
    buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xA5)
    try namespace.write(lba: 0, blocks: 128, from: buffer.whole)
    buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0)
    try namespace.read(lba: 0, blocks: 128, into: buffer.whole, mode: .interrupt)
    try controller.close()
    return buffer
}

/// README.md's "Writing a driver against the library", as printed there.
func readmeExample() throws -> Bool {
    let device = try EmulatedNVMeController()   // or: try VFIODevice(address: PCIAddress(parsing: "0000:01:00.0"))
    let controller = try Controller(device: device)          // CAP, reset, admin queue, identify
    let ns = try controller.namespace(1)
    let buffer = try device.dma.allocate(length: 64 << 10)   // pinned, IOMMU-mapped, ~Copyable
    try ns.write(lba: 0, blocks: 128, from: buffer.whole)     // blocking API, split at MDTS
    try ns.read(lba: 0, blocks: 128, into: buffer.whole, mode: .interrupt)

    // The hot path: one queue pair per thread, no allocation, no locks, no reference counting.
    var pair = try controller.makeQueuePair()
    try pair.submitRead(namespace: ns.info, lba: 8, blocks: 8, into: buffer.slice(offset: 0, length: 4096), token: 1)
    pair.ringSubmissionDoorbell()
    var succeeded = false
    _ = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 1000) { completion in
        succeeded = completion.status.isSuccess
    }
    try controller.close()                                    // CC.SHN, wait for SHST, release everything
    return succeeded
}

/// The walk-through, run in each completion mode: sixteen reads published by one doorbell, all
/// completed through the wait loop, and one more consumed by hand.
@Suite struct ProtocolWalkthroughArticleTests {
    @Test(arguments: [CompletionMode.poll, .interrupt, .hybrid])
    func sixteenReadsNeedOneDoorbellAndAllComplete(mode: CompletionMode) throws {
        let outcome = try protocolWalkthrough(mode: mode)
        #expect(outcome.completed == 16)
        #expect(outcome.failed == 0)
        #expect(outcome.single?.token == 99)
        #expect(outcome.single?.status.isSuccess == true)
        #expect(outcome.statistics.submitted == 17)
        #expect(outcome.statistics.submissionDoorbells == 2)
        #expect(outcome.statistics.invalidCompletions == 0)
    }

    @Test func landingPageExampleReadsBackWhatItWrote() throws {
        let device = try EmulatedNVMeController()
        let buffer = try landingPageExample(device)
        #expect(buffer.bytes.allSatisfy { $0 == 0xA5 })
    }

    @Test func readmeExampleCompletesItsRead() throws {
        #expect(try readmeExample())
    }
}
