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
import NullNVMe
import VFIO

/// The Swift driver's I/O path over the null device: one controller, one queue pair, one data
/// buffer, and the measured loops.
///
/// What a loop iteration contains (and so what the figures contain): `submitRead` (checks, command
/// id, SQE, PRP, tracker), `ringSubmissionDoorbell` (sfence + doorbell store), the device's
/// `service()` (the null device posts the CQE), `reap` (phase tag, validation, CQ doorbell, the
/// completion body). The device's share is kept apart in instruction counts by attributing
/// `NullNVMeController.service()` to the device (see scripts/bench.sh).
///
/// `@unchecked Sendable`: the benchmark closures are `@Sendable`; the object is only ever used by
/// the one thread that runs the benchmark (a queue pair is single-owner by design).
public final class SwiftIOPath: @unchecked Sendable {
    public let device: NullNVMeController
    public let controller: Controller<NullNVMeController>
    public let namespace: NamespaceInfo
    public let transferBytes: Int
    var pair: QueuePair<NullNVMeController>
    let buffer: DMABuffer

    /// A queue pair of `entries` entries over a new null device, and a `transferBytes` buffer
    /// (4096: PRP1 only; 8192: PRP2 as a data page; more: a PRP list; with `.sgl`, one Data Block
    /// in the command whatever the size).
    public init(entries: Int = 256, transferBytes: Int = 4096, dataPointers: DataPointerPolicy = .prp) throws(NVMeError) {
        precondition(transferBytes > 0 && transferBytes % 512 == 0)
        device = NullNVMeController()
        var options = ControllerOptions(ioQueuePairs: 1, ioQueueEntries: entries, interrupts: false)
        options.dataPointers = dataPointers
        controller = try Controller(device: device, options: options)
        guard let ns = controller.namespaces.first else { throw .invalidArgument("the null device reported no namespace") }
        namespace = ns
        self.transferBytes = transferBytes
        pair = try controller.makeQueuePair(entries: entries, interrupts: false)
        do {
            buffer = try device.dma.allocate(length: transferBytes)
        } catch {
            throw .vfio(error)
        }
    }

    /// QD1: submit, doorbell, device, reap; `count` times. Returns the sum of the tokens, which
    /// must be count*(count-1)/2, or `.max` if anything failed.
    public func qd1(_ count: Int) -> UInt64 {
        swiftIOPathQD1(&pair, device, namespace, buffer.slice(offset: 0, length: transferBytes), count)
    }

    /// QD1 through the library's wait loop (`waitForCompletions(mode: .poll)`) instead of `reap`.
    public func qd1Wait(_ count: Int) -> UInt64 {
        swiftIOPathQD1Wait(&pair, namespace, buffer.slice(offset: 0, length: transferBytes), count)
    }

    /// `batch` submissions, one doorbell, device, one reap of all of them; until `count` I/Os.
    public func batched(_ count: Int, batch: Int) -> UInt64 {
        swiftIOPathBatched(&pair, device, namespace, buffer.slice(offset: 0, length: transferBytes), count, batch)
    }

    public var statistics: QueueStatistics { pair.statistics }

    /// Empty polls: one Read written to the SQ but never published (no doorbell), so the null
    /// device never sees it, and one poll-mode wait on the empty CQ until its deadline. Returns
    /// the wait's empty polls; the caller times it (scripts/bench.sh: ns and instructions per
    /// empty poll, for each `SpinPolicy`). Leaves the Read outstanding: the path's last use.
    public func emptyPolls(milliseconds: Int, spinsBeforePause: UInt32?) -> (polls: UInt64, policy: String) {
        let spin = spinsBeforePause.map { SpinPolicy(spinsBeforePause: $0) } ?? .default
        return (swiftIOPathEmptyPolls(&pair, namespace, buffer.slice(offset: 0, length: transferBytes), milliseconds, spin), "\(spin)")
    }
}

/// The expected checksum of `count` I/Os with tokens 0..<count.
@inlinable
public func expectedTokenSum(_ count: Int) -> UInt64 { UInt64(count) &* UInt64(max(count, 1) - 1) / 2 }

// The loops are free functions taking the pair `inout`: one exclusive access for the whole loop
// (a class's stored property accessed per I/O would pay a dynamic exclusivity check each time),
// which is how an owner of a queue pair drives it. Fixed symbol names for callgrind's
// --toggle-collect.

@inline(never) @_silgen_name("swift_iopath_qd1")
func swiftIOPathQD1(
    _ pair: inout QueuePair<NullNVMeController>, _ device: NullNVMeController, _ ns: NamespaceInfo,
    _ buffer: DMASlice, _ count: Int
) -> UInt64 {
    let blocks = buffer.length >> ns.blockShift
    var sum: UInt64 = 0
    var failures = 0
    // Wrapping arithmetic where the C loop has it (its counter and LBA are unsigned): the loop
    // bound and the mask keep every value in range.
    var i = 0
    while i < count {
        do {
            try pair.submitRead(
                namespace: ns, lba: UInt64(truncatingIfNeeded: i & 0xFFFF) &* UInt64(truncatingIfNeeded: blocks),
                blocks: blocks, into: buffer, token: UInt64(truncatingIfNeeded: i))
        } catch {
            return .max
        }
        pair.ringSubmissionDoorbell()
        device.service()
        let n = pair.reap { c in
            sum &+= c.token
            if !c.status.isSuccess { failures &+= 1 }
        }
        if n != 1 { return .max }
        i &+= 1
    }
    return failures == 0 ? sum : .max
}

@inline(never) @_silgen_name("swift_iopath_qd1_wait")
func swiftIOPathQD1Wait(
    _ pair: inout QueuePair<NullNVMeController>, _ ns: NamespaceInfo, _ buffer: DMASlice, _ count: Int
) -> UInt64 {
    let blocks = buffer.length >> ns.blockShift
    var sum: UInt64 = 0
    var failures = 0
    for i in 0..<count {
        do throws(NVMeError) {
            try pair.submitRead(
                namespace: ns, lba: UInt64(truncatingIfNeeded: i & 0xFFFF) &* UInt64(truncatingIfNeeded: blocks),
                blocks: blocks, into: buffer, token: UInt64(truncatingIfNeeded: i))
            pair.ringSubmissionDoorbell()
            let n = try pair.waitForCompletions(atLeast: 1, mode: .poll, timeoutMilliseconds: 10_000) { c in
                sum &+= c.token
                if !c.status.isSuccess { failures &+= 1 }
            }
            if n != 1 { return .max }
        } catch {
            return .max
        }
    }
    return failures == 0 ? sum : .max
}

@inline(never) @_silgen_name("swift_iopath_batched")
func swiftIOPathBatched(
    _ pair: inout QueuePair<NullNVMeController>, _ device: NullNVMeController, _ ns: NamespaceInfo,
    _ buffer: DMASlice, _ count: Int, _ batch: Int
) -> UInt64 {
    let blocks = buffer.length >> ns.blockShift
    var sum: UInt64 = 0
    var failures = 0
    var i = 0
    while i < count {
        var n = 0
        while n < batch && i < count {
            do {
                try pair.submitRead(
                    namespace: ns, lba: UInt64(truncatingIfNeeded: i & 0xFFFF) &* UInt64(truncatingIfNeeded: blocks),
                    blocks: blocks, into: buffer, token: UInt64(truncatingIfNeeded: i))
            } catch {
                return .max
            }
            n &+= 1
            i &+= 1
        }
        pair.ringSubmissionDoorbell()
        device.service()
        let reaped = pair.reap { c in
            sum &+= c.token
            if !c.status.isSuccess { failures &+= 1 }
        }
        if reaped != n { return .max }
    }
    return failures == 0 ? sum : .max
}

@inline(never) @_silgen_name("swift_iopath_empty_poll")
func swiftIOPathEmptyPolls(
    _ pair: inout QueuePair<NullNVMeController>, _ ns: NamespaceInfo, _ buffer: DMASlice, _ milliseconds: Int,
    _ spin: SpinPolicy
) -> UInt64 {
    let before = pair.statistics.emptyPolls
    do throws(NVMeError) {
        try pair.submitRead(namespace: ns, lba: 0, blocks: buffer.length >> ns.blockShift, into: buffer, token: 0)
        _ = try pair.waitForCompletions(atLeast: 1, mode: .poll(spin: spin), timeoutMilliseconds: milliseconds) { _ in }
        return 0  // completed: the null device saw an unpublished command
    } catch {
        guard case .timedOut = error else { return 0 }
    }
    return pair.statistics.emptyPolls - before
}
