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

#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import NVMe
import NVMeEmulator
import Testing
import VFIO

/// One queue pair doing seeded random I/O on its own LBA range, checked against a shadow copy.
///
/// Each round: a write phase (non-overlapping extents, as many in flight as the queue and the
/// buffer arena allow, so the queue fills to its depth), then a read phase (any extents), each
/// with random sizes (1 block to the per-command maximum, so PRP1-only, PRP2 and PRP-list cases
/// all occur) at random dword-aligned buffer offsets (mostly mid-page). Then one request far over
/// MDTS through the Namespace API, which splits it.
final class Lane {
    var pair: QueuePair<EmulatedNVMeController>
    let namespace: NamespaceInfo
    let arena: DMABuffer
    let firstLBA: UInt64
    let blockCount: Int
    var shadow: [UInt8]
    var generator: SeededGenerator
    var ops: [(lba: UInt64, blocks: Int, offset: Int, write: Bool)] = []
    var maximumOutstanding = 0
    var mismatches = 0
    var failures: [NVMeStatus] = []

    init(controller: Controller<EmulatedNVMeController>, namespace: NamespaceInfo, lane: Int, lanes: Int, entries: Int, interrupts: Bool, seed: UInt64) throws {
        pair = try controller.makeQueuePair(entries: entries, interrupts: interrupts)
        self.namespace = namespace
        arena = try controller.device.dma.allocate(length: 4 << 20)
        blockCount = Int(namespace.blockCount) / lanes
        firstLBA = UInt64(lane * blockCount)
        shadow = [UInt8](repeating: 0, count: blockCount * namespace.blockSize)
        generator = SeededGenerator(seed: seed)
    }

    func randomBlocks() -> Int {
        let maximum = namespace.maximumBlocksPerCommand
        switch Int.random(in: 0..<10, using: &generator) {
        case 0..<5: return Int.random(in: 1...min(8, maximum), using: &generator)
        case 5..<8: return Int.random(in: 1...min(64, maximum), using: &generator)
        default: return Int.random(in: 1...maximum, using: &generator)
        }
    }

    /// Submits one phase: writes to disjoint extents, or reads of any extents.
    func submitPhase(write: Bool) throws {
        ops.removeAll(keepingCapacity: true)
        var cursor = 0
        var taken: [Range<Int>] = []
        while pair.canSubmit {
            let blocks = randomBlocks()
            let bytes = blocks * namespace.blockSize
            // Mostly mid-page starts: any dword-aligned offset into the next page.
            let offset = cursor + 4 * Int.random(in: 0..<1024, using: &generator)
            guard offset + bytes <= arena.length else { break }
            let start = Int.random(in: 0...(blockCount - blocks), using: &generator)
            if write {
                let extent = start..<(start + blocks)
                if taken.contains(where: { $0.overlaps(extent) }) { continue }
                taken.append(extent)
                let words = UnsafeMutableRawPointer(arena.address + offset)
                for i in 0..<(bytes / 8) { words.storeBytes(of: generator.next(), toByteOffset: i * 8, as: UInt64.self) }
            } else {
                memset(arena.address + offset, 0xA5, bytes)
            }
            let slice = arena.slice(offset: offset, length: bytes)
            let token = UInt64(ops.count)
            if write {
                try pair.submitWrite(namespace: namespace, lba: firstLBA + UInt64(start), blocks: blocks, from: slice, token: token)
            } else {
                try pair.submitRead(namespace: namespace, lba: firstLBA + UInt64(start), blocks: blocks, into: slice, token: token)
            }
            ops.append((firstLBA + UInt64(start), blocks, offset, write))
            cursor = offset + bytes
            // Ring every few submissions: batches of different sizes.
            if Int.random(in: 0..<4, using: &generator) == 0 { pair.ringSubmissionDoorbell() }
        }
        pair.ringSubmissionDoorbell()
        maximumOutstanding = max(maximumOutstanding, pair.outstanding)
    }

    /// Waits for the phase and checks reads against the shadow, applies writes to it.
    func completePhase(mode: CompletionMode) throws {
        while pair.outstanding > 0 {
            _ = try pair.waitForCompletions(atLeast: pair.outstanding, mode: mode, timeoutMilliseconds: 10_000) { c in
                guard c.status.isSuccess else {
                    failures.append(c.status)
                    return
                }
                let op = ops[Int(c.token)]
                let shadowOffset = Int(op.lba - firstLBA) * namespace.blockSize
                let bytes = op.blocks * namespace.blockSize
                shadow.withUnsafeMutableBytes { s in
                    if op.write {
                        memcpy(s.baseAddress! + shadowOffset, arena.address + op.offset, bytes)
                    } else if memcmp(s.baseAddress! + shadowOffset, arena.address + op.offset, bytes) != 0 {
                        mismatches += 1
                    }
                }
            }
        }
    }

    /// One write and read-back far over MDTS (split by the Namespace API), from a mid-page offset.
    func overMDTSRoundTrip(_ ns: Namespace<EmulatedNVMeController>, mode: CompletionMode) throws {
        let blocks = min(blockCount, 4 * namespace.maximumBlocksPerCommand + 3)
        let bytes = blocks * namespace.blockSize
        let offset = 4 * Int.random(in: 1..<1024, using: &generator)
        let out = arena.slice(offset: offset, length: bytes)
        for i in 0..<(bytes / 8) { out.address.storeBytes(of: generator.next(), toByteOffset: i * 8, as: UInt64.self) }
        try ns.write(lba: firstLBA, blocks: blocks, from: out, using: &pair, mode: mode)
        shadow.withUnsafeMutableBytes { s in _ = memcpy(s.baseAddress!, out.address, bytes) }
        let back = arena.slice(offset: (arena.length - bytes - 4096) & ~3 + 12, length: bytes)
        memset(back.address, 0, bytes)
        try ns.read(lba: firstLBA, blocks: blocks, into: back, using: &pair, mode: mode)
        if memcmp(back.address, shadow.withUnsafeBytes { $0.baseAddress! }, bytes) != 0 { mismatches += 1 }
    }
}

@Suite struct DataIntegrityTests {
    static let modes: [CompletionMode] = [.poll, .interrupt, .hybrid(idlePolls: 200)]

    /// Four queue pairs interleaved on the test thread, stepped emulator (deterministic).
    @Test(arguments: modes)
    func randomIOKeepsDataIntactOnFourQueuePairs(mode: CompletionMode) throws {
        let rig = try Rig(queuePairs: 4, mdts: 5)
        let ns = try rig.controller.namespace(1)
        var lanes: [Lane] = []
        for i in 0..<4 {
            lanes.append(try Lane(controller: rig.controller, namespace: rig.namespace, lane: i, lanes: 4, entries: 64, interrupts: mode.usesInterrupts, seed: 0xC0FFEE + UInt64(i)))
        }
        for _ in 0..<3 {
            for write in [true, false] {
                for lane in lanes { try lane.submitPhase(write: write) }
                for lane in lanes { try lane.completePhase(mode: mode) }
            }
        }
        for lane in lanes { try lane.overMDTSRoundTrip(ns, mode: mode) }
        for lane in lanes {
            #expect(lane.mismatches == 0)
            #expect(lane.failures.isEmpty)
            #expect(lane.maximumOutstanding == lane.pair.depth, "the queue was filled to its depth")
            let invalid = lane.pair.statistics.invalidCompletions
            #expect(invalid == 0)
            if mode.usesInterrupts {
                #expect(lane.pair.statistics.interrupts > 0)
            }
            if mode.kind == .hybrid {
                #expect(lane.pair.statistics.pollingPhases > 0)
            }
        }
        #expect(rig.device.dmaFaults.isEmpty)
    }

    /// Four queue pairs, each on its own thread, against the threaded emulator (its own thread
    /// processes doorbells and raises real eventfd interrupts).
    @Test(arguments: modes)
    func randomIOKeepsDataIntactWithThreadedController(mode: CompletionMode) throws {
        let rig = try Rig(mode: .threaded, queuePairs: 4, mdts: 5)
        let controller = rig.controller
        let info = rig.namespace
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            do {
                let lane = try Lane(controller: controller, namespace: info, lane: i, lanes: 4, entries: 32, interrupts: mode.usesInterrupts, seed: 0xBEEF + UInt64(i))
                for _ in 0..<2 {
                    try lane.submitPhase(write: true)
                    try lane.completePhase(mode: mode)
                    try lane.submitPhase(write: false)
                    try lane.completePhase(mode: mode)
                }
                try lane.overMDTSRoundTrip(try controller.namespace(1), mode: mode)
                results.add(lane.mismatches + lane.failures.count + Int(lane.pair.statistics.invalidCompletions))
            } catch {
                results.add(error)
            }
        }
        #expect(results.errors.isEmpty, "\(results.errors)")
        #expect(results.problems == 0)
        #expect(rig.device.dmaFaults.isEmpty)
        try controller.close()
    }
}

/// Collects results from worker threads.
final class ResultBox: @unchecked Sendable {
    private let lock = DispatchQueue(label: "results")
    private var _problems = 0
    private var _errors: [String] = []
    func add(_ problems: Int) { lock.sync { _problems += problems } }
    func add(_ error: any Error) { lock.sync { _errors.append("\(error)") } }
    var problems: Int { lock.sync { _problems } }
    var errors: [String] { lock.sync { _errors } }
}
