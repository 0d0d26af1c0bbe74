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

import NIC
import Synchronization
import VFIO

/// One workload run over a NIC's queues: one thread per queue, and the calling thread waiting
/// for them, watching for a request to stop and reporting progress.
///
/// The queue loops check `stopping` once per batch (one relaxed load); the caller sets it when
/// `shouldStop` says so (a signal, in `vfioctl`), when a goal is met, or when a queue fails.
/// Each queue thread signals `finished` as it ends, so the caller wakes at once, not at its next
/// 100 ms check, and the elapsed time it measures is the run's.
public final class QueueRun: Sendable {
    @usableFromInline let stop = Atomic<Bool>(false)
    /// Frames that met the run's goal (matched, answered), across queues.
    @usableFromInline let goal = Atomic<Int>(0)
    /// Frames sent or received so far, for the progress report: added once per batch, and only
    /// when someone reports progress (two queues adding to one atomic share its cache line).
    @usableFromInline let frames = Atomic<UInt64>(0)
    @usableFromInline let countsFrames: Bool
    private let failure = Mutex<NICWorkloadError?>(nil)
    private let running = Atomic<Int>(0)
    private let finished: EventFD
    /// `shouldStop` asked the run to end (as opposed to its count, time or a failure).
    private let interrupted = Atomic<Bool>(false)

    @usableFromInline
    init(countsFrames: Bool) throws(NICWorkloadError) {
        self.countsFrames = countsFrames
        do { finished = try EventFD() } catch { throw .vfio(error) }
    }

    @inlinable var stopping: Bool { stop.load(ordering: .relaxed) }

    /// Counts `n` frames for the progress report.
    @inlinable
    func count(_ n: Int) {
        if countsFrames && n > 0 { frames.add(UInt64(n), ordering: .relaxed) }
    }

    @inlinable func requestStop() { stop.store(true, ordering: .relaxed) }

    /// A queue found the NIC removed (`NICError.deviceRemoved`): the run ends, every queue with
    /// its figures so far, and the outcome says why, so the caller reports them before the error.
    @usableFromInline let removal = Atomic<Bool>(false)

    @inlinable
    func noteRemoval() {
        removal.store(true, ordering: .relaxed)
        requestStop()
    }

    /// Adds `n` to the goal count and stops the run once it reaches `target`.
    @inlinable
    func met(_ n: Int, of target: Int?) {
        guard let target, n > 0 else { return }
        if goal.add(n, ordering: .relaxed).newValue >= target { requestStop() }
    }

    /// Whether the run was asked to stop by `shouldStop`.
    @usableFromInline var wasInterrupted: Bool { interrupted.load(ordering: .relaxed) }

    func fail(_ error: NICWorkloadError) {
        failure.withLock { if $0 == nil { $0 = error } }
        requestStop()
    }

    /// Runs `body(q)` for queues 0..<count, each on its own thread, and returns when all have
    /// ended. Meanwhile it calls `shouldStop` about ten times a second and `progress` about once
    /// a second, on the calling thread. Rethrows the first queue's failure.
    @usableFromInline
    func onQueueThreads(
        _ count: Int, start: UInt64, shouldStop: (() -> Bool)?, progress: ((RunProgress) -> Void)?,
        _ body: @escaping @Sendable (Int) throws(NICWorkloadError) -> Void
    ) throws(NICWorkloadError) {
        var threads: [JoinableThread] = []
        defer { for t in threads { t.join() } }
        for q in 0..<count {
            running.add(1, ordering: .relaxed)
            do {
                threads.append(JoinableThread(try OSThread(name: "net-q\(q)") { [self] in
                    do throws(NICWorkloadError) { try body(q) } catch { fail(error) }
                    running.subtract(1, ordering: .releasing)
                    finished.signal()
                }))
            } catch {
                running.subtract(1, ordering: .relaxed)
                fail(.vfio(error))
                break
            }
        }
        var last = (time: start, frames: UInt64(0))
        while running.load(ordering: .acquiring) > 0 {
            if finished.wait(timeoutMilliseconds: 100) { finished.drain() }
            if !stopping, let shouldStop, shouldStop() {
                interrupted.store(true, ordering: .relaxed)
                requestStop()
            }
            let now = MonotonicClock.nanoseconds()
            if let progress, now &- last.time >= 1_000_000_000 {
                let n = frames.load(ordering: .relaxed)
                progress(RunProgress(elapsedSeconds: Double(now &- start) / 1e9, frames: n,
                                     framesPerSecond: Double(n &- last.frames) / (Double(now &- last.time) / 1e9)))
                last = (now, n)
            }
        }
        for t in threads { t.join() }
        threads.removeAll()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

extension QueueRun {
    /// The frame of every workload: the emulated peer starts its script, `setup` makes the
    /// queues (and waits for the link), then one thread per queue runs `body(queues, q, run,
    /// deadline)` until its goal, the deadline (`seconds` from the start, by the coarse clock) or
    /// a stop; the peer is stopped on every path and its report returned with the run's time.
    @inlinable
    static func run<Queues: Sendable>(
        queues: Int, seconds: Double, peer: EmulatedWirePeer?, script: EmulatedWirePeer.Script,
        shouldStop: (() -> Bool)?, progress: ((RunProgress) -> Void)?,
        setup: () throws(NICWorkloadError) -> Queues,
        body: @escaping @Sendable (Queues, Int, QueueRun, UInt64) throws(NICWorkloadError) -> Void
    ) throws(NICWorkloadError) -> RunOutcome {
        try peer?.start(script)
        do throws(NICWorkloadError) {
            let made = try setup()
            let run = try QueueRun(countsFrames: progress != nil)
            let start = MonotonicClock.nanoseconds()
            let deadline = MonotonicClock.coarseNanoseconds() &+ UInt64(max(0, seconds) * 1e9)
            peer?.markReady()
            try run.onQueueThreads(queues, start: start, shouldStop: shouldStop, progress: progress) { q throws(NICWorkloadError) in
                try body(made, q, run, deadline)
            }
            let elapsed = Double(MonotonicClock.nanoseconds() &- start) / 1e9
            var outcome = RunOutcome(seconds: elapsed, stopped: run.wasInterrupted, peer: peer?.stop())
            outcome.removed = run.removal.load(ordering: .relaxed)
            return outcome
        } catch {
            _ = peer?.stop()
            throw error
        }
    }

    /// One queue per index, each handed to the thread that will own it.
    @inlinable
    static func handOffs<Queue: ~Copyable>(_ count: Int, _ make: (Int) throws(NICError) -> Queue) throws(NICWorkloadError) -> [QueueHandOff<Queue>] {
        var queues: [QueueHandOff<Queue>] = []
        do throws(NICError) {
            for q in 0..<count { queues.append(QueueHandOff(try make(q))) }
        } catch {
            throw .nic(error)
        }
        return queues
    }
}

/// How a run ended: its wall time, whether it was asked to stop, what the emulated peer saw.
@usableFromInline
struct RunOutcome: Sendable {
    @usableFromInline var seconds: Double
    @usableFromInline var stopped: Bool
    @usableFromInline var peer: EmulatedWirePeer.Report?
    /// A queue found the NIC removed; the figures are those until then.
    @usableFromInline var removed = false

    @usableFromInline
    init(seconds: Double, stopped: Bool, peer: EmulatedWirePeer.Report?) {
        self.seconds = seconds
        self.stopped = stopped
        self.peer = peer
    }
}

/// How far a run is, for a progress line.
public struct RunProgress: Sendable {
    public var elapsedSeconds: Double
    /// Frames sent (generator) or received (receiver, echo) so far.
    public var frames: UInt64
    /// Over the last second or so.
    public var framesPerSecond: Double
}

/// A ~Copyable queue handed from the thread that made it to the thread that owns it from then on.
@usableFromInline
final class QueueHandOff<Queue: ~Copyable>: @unchecked Sendable {
    private var queue: Queue?
    @usableFromInline init(_ queue: consuming Queue) { self.queue = consume queue }
    @usableFromInline func take() -> Queue { queue.take()! }
}

/// Per-queue results written by the queue threads.
@usableFromInline
final class PerQueue<Value: Sendable>: Sendable {
    private let values: Mutex<[Value]>
    @usableFromInline init(_ count: Int, _ initial: Value) { values = Mutex(Array(repeating: initial, count: count)) }
    @usableFromInline func set(_ q: Int, _ value: Value) { values.withLock { $0[q] = value } }
    @usableFromInline var all: [Value] { values.withLock { $0 } }
}
