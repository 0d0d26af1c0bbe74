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
#if canImport(Glibc)
import Glibc
#endif

/// A minimal host for driving the emulated controller by hand: it builds SQEs itself, rings
/// doorbells, and reads CQEs from memory, independently of the NVMe driver, so the tests check
/// the controller against the spec and not against our own driver's reading of it.
final class TestHost {
    let controller: EmulatedNVMeController
    let bar: MMIORegion
    let stride: Int
    var admin: TestQueue!

    init(_ configuration: EmulatedNVMeConfiguration = EmulatedNVMeConfiguration()) throws {
        controller = try EmulatedNVMeController(configuration: configuration)
        bar = try controller.region(bar: 0)
        stride = 4 << Int(configuration.doorbellStride)
        try controller.enableBusMaster()
    }

    var capabilities: Capabilities { Capabilities(rawValue: bar.load64(at: ControllerRegisterOffset.capabilities.rawValue)) }
    var status: ControllerStatus { ControllerStatus(rawValue: bar.load32(at: ControllerRegisterOffset.controllerStatus.rawValue)) }
    var configuration: ControllerConfiguration {
        get { ControllerConfiguration(rawValue: bar.load32(at: ControllerRegisterOffset.controllerConfiguration.rawValue)) }
        set { bar.store32(newValue.rawValue, at: ControllerRegisterOffset.controllerConfiguration.rawValue) }
    }

    /// Steps the controller until `condition` holds (threaded mode: waits), or fails after `timeout`.
    @discardableResult
    func wait(_ what: String, timeoutMilliseconds: Int = 2000, _ condition: () -> Bool) -> Bool {
        waitFor(controller, what, timeoutMilliseconds: timeoutMilliseconds, condition)
    }

    /// Sets up the admin queue and enables the controller (NVMe base 1.4, 7.6.1).
    func enable(adminEntries: Int = 32, pageSizeExponent: UInt8 = 0) throws {
        admin = try TestQueue(host: self, id: 0, entries: adminEntries)
        bar.store32(AdminQueueAttributes(submissionQueueEntries: adminEntries, completionQueueEntries: adminEntries).rawValue,
                    at: ControllerRegisterOffset.adminQueueAttributes.rawValue)
        bar.store64(admin.submissionMemory.iova.rawValue, at: ControllerRegisterOffset.adminSubmissionQueueBase.rawValue)
        bar.store64(admin.completionMemory.iova.rawValue, at: ControllerRegisterOffset.adminCompletionQueueBase.rawValue)
        configuration = ControllerConfiguration(enable: true, memoryPageSize: pageSizeExponent)
        wait("CSTS.RDY") { status.ready || status.controllerFatalStatus }
        #expect(status.ready)
    }

    /// Submits one admin command and waits for its completion.
    func adminCommand(_ sqe: SubmissionQueueEntry) -> CompletionQueueEntry {
        admin.execute(sqe)
    }

    /// Set Features Number of Queues, then a CQ and an SQ with the same id.
    @discardableResult
    func createQueuePair(id: UInt16, entries: Int = 64, vector: UInt16? = nil) throws -> TestQueue {
        let queue = try TestQueue(host: self, id: id, entries: entries)
        let cq = adminCommand(.createIOCompletionQueue(
            id: id, size: entries, baseIOVA: queue.completionMemory.iova.rawValue, interruptsEnabled: vector != nil, vector: vector ?? 0))
        #expect(cq.status == .success, "create CQ \(id): \(cq.status)")
        let sq = adminCommand(.createIOSubmissionQueue(id: id, size: entries, baseIOVA: queue.submissionMemory.iova.rawValue, completionQueue: id))
        #expect(sq.status == .success, "create SQ \(id): \(sq.status)")
        return queue
    }

    func setNumberOfQueues(_ n: Int) -> CompletionQueueEntry {
        adminCommand(.setFeatures(.numberOfQueues, cdw11: NumberOfQueues(submissionQueues: n, completionQueues: n).dword))
    }

    /// Enable, Number of Queues, one I/O queue pair with id 1.
    static func ready(_ configuration: EmulatedNVMeConfiguration = EmulatedNVMeConfiguration(), entries: Int = 64) throws -> (TestHost, TestQueue) {
        let host = try TestHost(configuration)
        try host.enable()
        #expect(host.setNumberOfQueues(4).status == .success)
        let queue = try host.createQueuePair(id: 1, entries: entries)
        return (host, queue)
    }

    func now() -> UInt64 { monotonicNow() }
}

func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Steps the controller until `condition` holds (in threaded mode it only waits), recording an
/// issue after `timeoutMilliseconds`.
@discardableResult
func waitFor(_ controller: EmulatedNVMeController, _ what: String, timeoutMilliseconds: Int = 2000, _ condition: () -> Bool) -> Bool {
    let start = monotonicNow()
    while !condition() {
        controller.service()
        if monotonicNow() - start > UInt64(timeoutMilliseconds) * 1_000_000 {
            Issue.record("timed out waiting for \(what)")
            return false
        }
        // Threaded mode: give the controller thread the CPU (the test machine may have two cores).
        if controller.configuration.mode == .threaded { sched_yield() } else { Barrier.cpuPause() }
    }
    return true
}

/// One SQ/CQ pair in DMA memory, driven by hand. It keeps the controller (not the host) alive.
final class TestQueue {
    let controller: EmulatedNVMeController
    let bar: MMIORegion
    let stride: Int
    let id: UInt16
    let entries: Int
    let submissionMemory: DMABuffer
    let completionMemory: DMABuffer
    var tail = 0
    var head = 0
    var phase = true
    var nextCommandID: UInt16 = 1

    init(host: TestHost, id: UInt16, entries: Int) throws {
        controller = host.controller
        bar = host.bar
        stride = host.stride
        self.id = id
        self.entries = entries
        // Aligned for host pages up to 64 KiB (CC.MPS up to 4), as ASQ/ACQ and queue bases must be.
        submissionMemory = try host.controller.dma.allocate(length: entries * 64, alignment: 65536)
        completionMemory = try host.controller.dma.allocate(length: entries * 16, alignment: 65536)
    }

    var sqDoorbell: Int { 0x1000 + 2 * Int(id) * stride }
    var cqDoorbell: Int { 0x1000 + (2 * Int(id) + 1) * stride }

    /// Writes an SQE into the next slot (assigning a command id unless `keepID`), without ringing.
    @discardableResult
    func place(_ sqe: SubmissionQueueEntry, keepID: Bool = false) -> UInt16 {
        var entry = sqe
        if !keepID {
            entry.commandID = nextCommandID
            nextCommandID &+= 1
        }
        let slot = submissionMemory.address + tail * 64
        withUnsafeBytes(of: entry) { slot.copyMemory(from: $0.baseAddress!, byteCount: 64) }
        tail = (tail + 1) % entries
        return entry.commandID
    }

    /// Publishes placed entries: write barrier, then the tail doorbell (a release store).
    func ring() {
        Barrier.write()
        bar.doorbell(at: sqDoorbell).ring(UInt32(tail))
    }

    @discardableResult
    func submit(_ sqe: SubmissionQueueEntry) -> UInt16 {
        let cid = place(sqe)
        ring()
        return cid
    }

    /// The CQE at the head if its phase matches (read with an acquire load), consuming it.
    func poll() -> CompletionQueueEntry? {
        let slot = completionMemory.address + head * 16
        let word = DMAWord.load32(slot + 12)
        guard (word >> 16) & 1 == (phase ? 1 : 0) else { return nil }
        let entry = try! CompletionQueueEntry(bytes: UnsafeRawBufferPointer(start: slot, count: 16))
        head += 1
        if head == entries {
            head = 0
            phase.toggle()
        }
        return entry
    }

    func acknowledge() {
        bar.doorbell(at: cqDoorbell).ring(UInt32(head))
    }

    /// Waits for `count` completions, then writes the CQ head doorbell once.
    func reap(_ count: Int, timeoutMilliseconds: Int = 2000) -> [CompletionQueueEntry] {
        var out: [CompletionQueueEntry] = []
        waitFor(controller, "\(count) completions on queue \(id)", timeoutMilliseconds: timeoutMilliseconds) {
            while out.count < count, let e = poll() { out.append(e) }
            return out.count == count
        }
        acknowledge()
        return out
    }

    /// Steps the controller a few times and returns whatever completed (possibly nothing).
    func drain() -> [CompletionQueueEntry] {
        for _ in 0..<4 { controller.service() }
        var out: [CompletionQueueEntry] = []
        while let e = poll() { out.append(e) }
        if !out.isEmpty { acknowledge() }
        return out
    }

    func execute(_ sqe: SubmissionQueueEntry) -> CompletionQueueEntry {
        let cid = submit(sqe)
        let done = reap(1)
        guard let first = done.first else {
            return CompletionQueueEntry(submissionQueueHead: 0, submissionQueueID: 0, commandID: 0, statusAndPhase: 0xFFFE)
        }
        #expect(first.commandID == cid)
        return first
    }
}

/// A data buffer for I/O tests, filled with a seeded pattern.
func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
}

extension DMABuffer {
    func fill(_ bytes: [UInt8], at offset: Int = 0) {
        bytes.withUnsafeBytes { (address + offset).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    func read(_ count: Int, at offset: Int = 0) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: address + offset, count: count))
    }
}

/// Builds PRP1/PRP2 for `length` bytes at `offset` into `buffer` the way NVMe base 1.4, 4.3 says,
/// independently of the driver's PRP builder: PRP lists go into `list` (one page each, chained
/// when a page is full). `listOffset` starts the first list at an offset, to exercise chaining.
func buildPRPs(buffer: borrowing DMABuffer, offset: Int, length: Int, list: borrowing DMABuffer, listOffset: Int = 0,
               pageSize: Int = 4096) -> (prp1: UInt64, prp2: UInt64) {
    let start = buffer.iova.rawValue + UInt64(offset)
    let prp1 = start
    let first = min(length, pageSize - Int(start % UInt64(pageSize)))
    var remaining = length - first
    if remaining == 0 { return (prp1, 0) }
    var page = (start / UInt64(pageSize) + 1) * UInt64(pageSize)
    if remaining <= pageSize { return (prp1, page) }
    var listPosition = listOffset
    let prp2 = list.iova.rawValue + UInt64(listPosition)
    while remaining > 0 {
        let slotsLeftInPage = (pageSize - listPosition % pageSize) / 8
        let pagesLeft = (remaining + pageSize - 1) / pageSize
        if pagesLeft > slotsLeftInPage && slotsLeftInPage == 1 {
            // Chain: the last slot of this list page points to the next list page.
            let next = (listPosition / pageSize + 1) * pageSize
            list.address.storeBytes(of: (list.iova.rawValue + UInt64(next)).littleEndian, toByteOffset: listPosition, as: UInt64.self)
            listPosition = next
            continue
        }
        list.address.storeBytes(of: page.littleEndian, toByteOffset: listPosition, as: UInt64.self)
        listPosition += 8
        page += UInt64(pageSize)
        remaining -= min(remaining, pageSize)
    }
    return (prp1, prp2)
}
