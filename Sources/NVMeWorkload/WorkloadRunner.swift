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
import Histogram
import NVMe
import Synchronization
import VFIO

/// Why a workload could not run or did not pass.
public enum WorkloadError: Error, Sendable, CustomStringConvertible {
    case invalid(String)
    case nvme(NVMeError)
    case verifyFailed(namespace: UInt32, lba: UInt64, mismatches: UInt64)

    public var description: String {
        switch self {
        case .invalid(let what): return what
        case .nvme(let error): return error.description
        case .verifyFailed(let ns, let lba, let n):
            return "data verification failed: \(n) I/Os read wrong data, first at namespace \(ns) LBA \(lba); the device or the driver corrupted data"
        }
    }
}

/// Runs a `WorkloadSpec` against a controller: one thread per queue pair, each keeping
/// `queueDepth` I/Os in flight through the allocation-free submit/reap API.
///
/// Each thread owns its queue pair and a `DMASlab` with one data buffer per slot; a slot (and so
/// its buffer) goes back on the free stack only when its completion has been reaped, which is the
/// rule that keeps a buffer from being reused while the device may still touch it.
///
/// The per-thread loop is `@inlinable` and reached from the inlinable `run`, so the caller's
/// concrete device specializes it: compiled generically in this module, the loop reached the
/// queue pair and the device through witness tables and cost 1,686 instructions per QD1 I/O
/// against 321 for its C twin (scripts/bench.sh `perf_loop_instr_per_io`).
public struct WorkloadRunner<Device: PCIFunction>: Sendable {
    public let controller: Controller<Device>

    public init(controller: Controller<Device>) { self.controller = controller }

    /// Checks the spec against the controller and namespace; returns the namespace.
    public func validate(_ spec: WorkloadSpec) throws(WorkloadError) -> NamespaceInfo {
        let ns: NamespaceInfo
        do { ns = try controller.namespace(spec.namespaceID).info } catch { throw .nvme(error) }
        if ns.metadataSize > 0, ns.transfersMetadata(spec.protection ?? ns.defaultProtection) {
            throw .invalid(
                "namespace \(ns.id) would move \(ns.metadataSize) bytes of metadata per I/O block, which perf does not; "
                    + "give --pi pract on a namespace whose metadata is only the protection tuple, or use read/write --metadata")
        }
        if ns.protection == nil, let protection = spec.protection, !protection.action.isEmpty {
            throw .invalid("namespace \(ns.id) is formatted without protection information; drop --pi")
        }
        guard spec.blockSize > 0, spec.blockSize % ns.blockSize == 0 else {
            throw .invalid("--bs \(spec.blockSize) is not a multiple of namespace \(ns.id)'s block size \(ns.blockSize)")
        }
        // Over MDTS an I/O goes as several commands (`SplittingQueuePair`), all in the queue at once.
        let maxBytes = ns.maximumBlocksPerCommand * ns.blockSize
        if spec.blockSize > maxBytes && ns.metadataSize > 0 {
            throw .invalid("--bs \(spec.blockSize) exceeds the controller's largest transfer (MDTS) of \(maxBytes) bytes, and perf does not split I/Os with --pi; use --bs \(maxBytes) or less")
        }
        let commands = TransferSplit.mostPieces(
            blocks: spec.blockSize / ns.blockSize, maximumBlocks: ns.maximumBlocksPerCommand, boundary: ns.optimalIOBoundary,
            granularity: ns.preferredWriteGranularity)
        guard commands < controller.ioQueueEntries else {
            throw .invalid("--bs \(spec.blockSize) needs up to \(commands) commands per I/O (MDTS \(maxBytes) bytes) and an I/O queue holds \(controller.ioQueueEntries - 1); use a smaller --bs")
        }
        guard spec.queuePairs >= 1 else { throw .invalid("--queues \(spec.queuePairs): give 1 or more queue pairs") }
        // The verification passes use the blocking API, whose queue pair the controller keeps.
        let needed = spec.queuePairs + (spec.verify ? 1 : 0)
        let granted = controller.grantedQueuePairs
        guard needed <= granted else {
            let fewer = granted - (spec.verify ? 1 : 0)
            throw .invalid("--queues \(spec.queuePairs)\(spec.verify ? " with --verify" : "") needs \(needed) I/O queue pairs and the controller granted \(granted); \(fewer > 0 ? "use --queues \(fewer) or fewer" : "leave out --verify")")
        }
        guard spec.queuePairs <= controller.availableQueuePairs else {
            throw .invalid("--queues \(spec.queuePairs) needs \(spec.queuePairs) free I/O queue pairs; \(controller.availableQueuePairs) of the \(granted) granted are free")
        }
        let maxDepth = controller.ioQueueEntries - 1
        guard spec.queueDepth >= 1, spec.queueDepth <= maxDepth else {
            throw .invalid("--qd \(spec.queueDepth) is out of range: 1...\(maxDepth) (I/O queue size \(controller.ioQueueEntries) minus the slot kept empty)")
        }
        guard spec.seconds > 0 || (spec.ios ?? 0) > 0 else { throw .invalid("give --time or --ios greater than 0") }
        if let bytes = spec.workingSetBytes, bytes < UInt64(spec.blockSize) {
            throw .invalid("--size \(bytes) is smaller than one I/O (--bs \(spec.blockSize)); give at least \(spec.blockSize) bytes")
        }
        guard spec.workingSetOffset % UInt64(spec.blockSize) == 0 else {
            throw .invalid("--offset \(spec.workingSetOffset) is not a multiple of --bs \(spec.blockSize)")
        }
        guard spec.workingSetOffset < ns.bytes, UInt64(spec.blockSize) <= ns.bytes - spec.workingSetOffset else {
            throw .invalid("--offset \(spec.workingSetOffset) leaves no room for one I/O in namespace \(ns.id) (\(ns.bytes) bytes)")
        }
        // Not capped quietly: a working set asked for is the one measured.
        if let bytes = spec.workingSetBytes, bytes > ns.bytes - spec.workingSetOffset {
            throw .invalid("--size \(bytes) at --offset \(spec.workingSetOffset) goes past the end of namespace \(ns.id) (\(ns.bytes) bytes); give --size \(ns.bytes - spec.workingSetOffset) or less, or leave it out")
        }
        if spec.mode.usesInterrupts && controller.interruptVectors == 0 {
            throw .invalid("--mode \(spec.mode) needs MSI-X vectors and the device granted none; use --mode poll")
        }
        return ns
    }

    /// The working set in units of one I/O, counted from `workingSetOffset`.
    @usableFromInline func units(_ spec: WorkloadSpec, _ ns: NamespaceInfo) -> UInt64 {
        var bytes = ns.bytes - spec.workingSetOffset
        if let limit = spec.workingSetBytes { bytes = min(bytes, limit) }
        if spec.verify && spec.workingSetBytes == nil { bytes = min(bytes, 64 << 20) }
        return max(1, bytes / UInt64(spec.blockSize))
    }

    /// Runs the workload. `progress` is called about once a second from the calling thread.
    /// `shouldStop` is checked from the calling thread about ten times a second (and between
    /// chunks of the verification passes): once it returns true, the queue threads stop
    /// submitting, reap what is outstanding and the figures so far are returned, with
    /// `endedBy == .stopped` (the read-back of a verified writing run is skipped).
    @inlinable
    public func run(
        _ spec: WorkloadSpec, progress: ((WorkloadProgress) -> Void)? = nil, shouldStop: (() -> Bool)? = nil
    ) throws(WorkloadError) -> WorkloadResult {
        // The worker closure is formed here, in the caller's specialization.
        try run(spec, progress: progress, shouldStop: shouldStop) { controller, job, shared in Self.work(controller, job, shared) }
    }

    /// `run` with the per-thread loop given; everything around the timed loop, not specialized.
    @usableFromInline
    func run(
        _ spec: WorkloadSpec, progress: ((WorkloadProgress) -> Void)?, shouldStop: (() -> Bool)?,
        worker: @escaping @Sendable (Controller<Device>, WorkerJob, SharedProgress) -> Result<ThreadResult, NVMeError>
    ) throws(WorkloadError) -> WorkloadResult {
        let ns = try validate(spec)
        let units = units(spec, ns)
        let stopRequested = { shouldStop?() ?? false }
        if spec.verify {
            try prefill(spec, ns, units: units, shouldStop: stopRequested)
            if stopRequested() { return .stoppedBeforeStart }
        }

        let shared: SharedProgress
        do { shared = try SharedProgress(threads: spec.queuePairs) } catch { throw .nvme(.vfio(error)) }
        let startCPU = Self.processCPUNanoseconds()
        let start = MonotonicClock.nanoseconds()
        var threads: [JoinableThread] = []
        do {
            for t in 0..<spec.queuePairs {
                let share = spec.ios.map { $0 / spec.queuePairs + (t < $0 % spec.queuePairs ? 1 : 0) }
                let base = spec.workingSetOffset / UInt64(spec.blockSize)
                let first = base + units * UInt64(t) / UInt64(spec.queuePairs)
                let last = base + units * UInt64(t + 1) / UInt64(spec.queuePairs)
                let job = WorkerJob(spec: spec, namespace: ns, firstUnit: first, unitCount: max(1, last - first), ios: share, thread: t)
                let controller = self.controller
                threads.append(JoinableThread(try OSThread(name: "perf-q\(t)") {
                    shared.finish(thread: t, worker(controller, job, shared))
                }))
            }
        } catch {
            shared.stop.store(true, ordering: .relaxed)
            for box in threads { box.join() }
            throw .nvme(.vfio(error))
        }
        var last = (time: start, ios: UInt64(0))
        var stopped = false
        while !shared.allFinished {
            _ = shared.waitForFinish(milliseconds: 100)
            if !stopped && stopRequested() {
                stopped = true
                shared.stop.store(true, ordering: .relaxed)
            }
            let now = MonotonicClock.nanoseconds()
            let ios = shared.totalCompleted
            if let progress, now - last.time >= 900_000_000 {
                let rate = Double(ios - last.ios) / (Double(now - last.time) / 1e9)
                progress(WorkloadProgress(elapsedSeconds: Double(now - start) / 1e9, ios: ios, iopsLastInterval: rate))
                last = (now, ios)
            }
        }
        for box in threads { box.join() }
        let elapsed = Double(MonotonicClock.nanoseconds() - start) / 1e9
        let processCPU = Self.processCPUNanoseconds() - startCPU

        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
        var total = ThreadResult()
        for outcome in shared.results() {
            switch outcome {
            case .failure(let error): throw .nvme(error)
            case .success(let r):
                histogram.add(r.histogram)
                total.merge(r)
            }
        }
        if spec.verify && spec.pattern.writes && !stopped && !total.deviceRemoved {
            try readBack(spec, ns, units: units, into: &total, shouldStop: stopRequested)
            stopped = stopRequested()
        }
        if total.verifyFailures > 0 {
            throw .verifyFailed(namespace: ns.id, lba: total.firstBadLBA, mismatches: total.verifyFailures)
        }
        let ios = total.completed
        return WorkloadResult(
            ios: ios, bytes: ios * UInt64(spec.blockSize), seconds: elapsed,
            latencyMean: histogram.mean, latencyP50: histogram.valueAtPercentile(50), latencyP99: histogram.valueAtPercentile(99),
            latencyP999: histogram.valueAtPercentile(99.9), latencyMax: histogram.max,
            driverCPUPerIO: ios > 0 ? Double(total.threadCPU) / Double(ios) : 0,
            processCPUPerIO: ios > 0 ? Double(processCPU) / Double(ios) : 0,
            errors: total.errors, verifiedBytes: total.verifiedBytes, interrupts: total.interrupts,
            submissionDoorbells: total.doorbells, invalidCompletions: total.invalid,
            emptyPolls: total.emptyPolls, idleChecks: total.idleChecks, pauses: total.pauses,
            endedBy: total.deviceRemoved ? .deviceRemoved : stopped ? .stopped : total.endedByTime ? .time : .ios)
    }

    // MARK: - The per-thread loop

    @inlinable
    static func work(_ controller: Controller<Device>, _ job: WorkerJob, _ shared: SharedProgress) -> Result<ThreadResult, NVMeError> {
        do throws(NVMeError) {
            // An I/O larger than one command goes through the splitting helper; the plain loop
            // stays the pair's own.
            if job.spec.blockSize > job.namespace.maximumBlocksPerCommand &* job.namespace.blockSize {
                return .success(try splitWorkLoop(controller, job, shared))
            }
            return .success(try workLoop(controller, job, shared))
        } catch {
            shared.stop.store(true, ordering: .relaxed)
            return .failure(error)
        }
    }

    /// The loop for I/Os that fit in one command: the pair's own calls. Kept out of line, with
    /// `drive` inlined into it, so the loop is one function (the one scripts/bench.sh measures).
    @inlinable @inline(never)
    static func workLoop(_ controller: Controller<Device>, _ job: WorkerJob, _ shared: SharedProgress) throws(NVMeError) -> ThreadResult {
        var pair = try controller.makeQueuePair(interrupts: job.spec.mode.usesInterrupts)
        return try drive(&pair, controller, job, shared)
    }

    /// The loop for I/Os over MDTS: each goes as several commands and completes once.
    @inlinable @inline(never)
    static func splitWorkLoop(_ controller: Controller<Device>, _ job: WorkerJob, _ shared: SharedProgress) throws(NVMeError) -> ThreadResult {
        var queue = SplittingQueuePair(try controller.makeQueuePair(interrupts: job.spec.mode.usesInterrupts))
        return try drive(&queue, controller, job, shared)
    }

    /// Keeps `queueDepth` I/Os in flight on `pair` until the job is done.
    @inlinable @inline(__always)
    static func drive<Queue: WorkloadQueue & ~Copyable>(
        _ pair: inout Queue, _ controller: Controller<Device>, _ job: WorkerJob, _ shared: SharedProgress
    ) throws(NVMeError) -> ThreadResult {
        let spec = job.spec
        let ns = job.namespace
        let depth = spec.queueDepth
        let blocks = spec.blockSize / ns.blockSize
        let slab = try makeSlab(controller.device.dma, chunkSize: spec.blockSize, count: depth)
        // A namespace with metadata runs with PRACT only (`validate`): the data buffers stay as
        // they are, each command carries PRINFO.
        let protected = ns.metadataSize > 0
        let protection = spec.protection ?? ns.defaultProtection

        // Per-slot state, preallocated: the loop below allocates nothing.
        let freeSlots = UnsafeMutablePointer<Int32>.allocate(capacity: depth)
        let slotLBA = UnsafeMutablePointer<UInt64>.allocate(capacity: depth)
        let slotStart = UnsafeMutablePointer<UInt64>.allocate(capacity: depth)
        let slotIsRead = UnsafeMutablePointer<Bool>.allocate(capacity: depth)
        defer { freeSlots.deallocate(); slotLBA.deallocate(); slotStart.deallocate(); slotIsRead.deallocate() }
        for i in 0..<depth { freeSlots[i] = Int32(i) }
        var freeCount = depth

        var result = ThreadResult()
        var rng = SeededGenerator(seed: spec.seed &+ UInt64(job.thread) &* 0x9e37_79b9)
        var sequential: UInt64 = 0
        var issued = 0
        let limit = job.ios ?? Int.max
        // The end of a timed run by the coarse clock, checked once per batch: the precise clock is
        // read only for latency (twice per I/O), as fio does; under an emulator whose clocksource
        // is the HPET each precise read is a system call and an emulated MMIO read.
        let deadline = MonotonicClock.coarseNanoseconds().addingSaturated(nanoseconds: spec.seconds)
        // Per-I/O latency from the TSC where it is invariant (no clocksource read per I/O).
        let ticks = TickClock.shared
        let cpuStart = threadCPUNanoseconds()
        var timeUp = false

        // Read once, not per I/O: the loop below keeps them in registers.
        let random = spec.pattern.isRandom, mixed = spec.pattern == .randrw, allReads = !spec.pattern.writes
        let readPercent = spec.readPercent, verify = spec.verify
        let firstUnit = job.firstUnit, unitCount = job.unitCount

        while true {
            var batch = 0
            while freeCount > 0 && issued < limit && !timeUp {
                let slot = Int(freeSlots[freeCount - 1])
                let unit = random ? firstUnit + rng.next() % unitCount : firstUnit + (sequential % unitCount)
                sequential &+= 1
                let lba = unit * UInt64(blocks)
                let isRead = mixed ? Int(rng.next() % 100) < readPercent : allReads
                let buffer = slab.chunk(slot).slice
                if !isRead && verify {
                    DataPattern.fill(buffer.bytes, lba: lba, blockSize: ns.blockSize, blocks: blocks, seed: spec.seed)
                }
                slotLBA[slot] = lba
                slotIsRead[slot] = isRead
                slotStart[slot] = ticks.now()
                do {
                    if protected {
                        if isRead {
                            try pair.submitRead(
                                namespace: ns, lba: lba, blocks: blocks, into: buffer, metadata: nil, protection: protection, token: UInt64(slot))
                        } else {
                            try pair.submitWrite(
                                namespace: ns, lba: lba, blocks: blocks, from: buffer, metadata: nil, protection: protection, token: UInt64(slot))
                        }
                    } else if isRead {
                        try pair.submitRead(namespace: ns, lba: lba, blocks: blocks, into: buffer, token: UInt64(slot), forceUnitAccess: false)
                    } else {
                        try pair.submitWrite(namespace: ns, lba: lba, blocks: blocks, from: buffer, token: UInt64(slot), forceUnitAccess: false)
                    }
                } catch {
                    if case .submissionQueueFull = error { break }
                    if case .noFreeCommandID = error { break }
                    throw error
                }
                freeCount -= 1
                issued += 1
                batch += 1
            }
            if batch > 0 { pair.ringSubmissionDoorbell() }
            if pair.outstanding == 0 { break }
            let reaped: Int
            do throws(NVMeError) {
            reaped = try pair.waitForCompletions(atLeast: 1, mode: spec.mode, timeoutMilliseconds: controller.options.ioTimeoutMilliseconds) { c in
                let slot = Int(c.token)
                _ = result.histogram.record(ticks.nanoseconds(ticks.now() &- slotStart[slot]))
                if !c.status.isSuccess {
                    result.errors += 1
                } else if verify && slotIsRead[slot] {
                    let data = UnsafeRawBufferPointer(slab.chunk(slot).slice.bytes)
                    if let bad = DataPattern.firstMismatch(data, lba: slotLBA[slot], blockSize: ns.blockSize, blocks: blocks, seed: spec.seed) {
                        if result.verifyFailures == 0 { result.firstBadLBA = bad }
                        result.verifyFailures += 1
                    } else {
                        result.verifiedBytes += UInt64(spec.blockSize)
                    }
                }
                freeSlots[freeCount] = Int32(slot)
                freeCount += 1
                result.completed += 1
            }
            } catch {
                // The slab's buffers may still be written by commands in flight: the device is
                // made quiet before they go (a removed function is quiet by absence).
                if pair.outstanding > 0 {
                    controller.quiesce(reason: "perf gave up with \(pair.outstanding) I/O(s) in flight (\(error))")
                }
                guard error == .deviceRemoved else { throw error }
                // What completed stands; the run ends with its figures so far.
                result.deviceRemoved = true
                shared.stop.store(true, ordering: .relaxed)
                break
            }
            shared.add(UInt64(reaped))
            if !timeUp && issued < limit {
                if MonotonicClock.coarseNanoseconds() >= deadline {
                    timeUp = true
                    result.endedByTime = true
                } else if shared.stop.load(ordering: .relaxed) {
                    timeUp = true
                }
            }
        }
        result.threadCPU = threadCPUNanoseconds() - cpuStart
        let stats = pair.statistics
        result.interrupts = stats.interrupts
        result.doorbells = stats.submissionDoorbells
        result.invalid = stats.invalidCompletions
        result.emptyPolls = stats.emptyPolls
        result.idleChecks = stats.idleChecks
        result.pauses = stats.pauses
        _ = consume slab
        return result
    }

    @usableFromInline
    static func makeSlab(_ allocator: DMAAllocator, chunkSize: Int, count: Int) throws(NVMeError) -> DMASlab {
        do { return try DMASlab(allocator: allocator, chunkSize: chunkSize, count: count) } catch { throw .vfio(error) }
    }

    // MARK: - Verification passes (blocking API, outside the timed loop)

    /// Writes the pattern over the whole working set, so every read in the run can be checked.
    func prefill(_ spec: WorkloadSpec, _ ns: NamespaceInfo, units: UInt64, shouldStop: () -> Bool) throws(WorkloadError) {
        try sweep(spec, ns, units: units, shouldStop: shouldStop) { (namespace, lba, blocks, slice) throws(NVMeError) in
            DataPattern.fill(slice.bytes, lba: lba, blockSize: ns.blockSize, blocks: blocks, seed: spec.seed)
            try namespace.write(lba: lba, blocks: blocks, from: slice)
        }
    }

    /// Reads the whole working set back after a writing run and checks every byte.
    func readBack(
        _ spec: WorkloadSpec, _ ns: NamespaceInfo, units: UInt64, into total: inout ThreadResult, shouldStop: () -> Bool
    ) throws(WorkloadError) {
        var failures: UInt64 = 0
        var first: UInt64 = 0
        var checked: UInt64 = 0
        try sweep(spec, ns, units: units, shouldStop: shouldStop) { (namespace, lba, blocks, slice) throws(NVMeError) in
            try namespace.read(lba: lba, blocks: blocks, into: slice)
            if let bad = DataPattern.firstMismatch(UnsafeRawBufferPointer(slice.bytes), lba: lba, blockSize: ns.blockSize, blocks: blocks, seed: spec.seed) {
                if failures == 0 { first = bad }
                failures += 1
            } else {
                checked += UInt64(blocks * ns.blockSize)
            }
        }
        if total.verifyFailures == 0 && failures > 0 { total.firstBadLBA = first }
        total.verifyFailures += failures
        total.verifiedBytes += checked
    }

    /// Runs `body` over the working set in chunks of up to 1 MiB, until done or `shouldStop`.
    private func sweep(
        _ spec: WorkloadSpec, _ ns: NamespaceInfo, units: UInt64, shouldStop: () -> Bool,
        _ body: (Namespace<Device>, UInt64, Int, DMASlice) throws(NVMeError) -> Void
    ) throws(WorkloadError) {
        let firstBlock = spec.workingSetOffset / UInt64(ns.blockSize)
        let endBlock = firstBlock + units * UInt64(spec.blockSize / ns.blockSize)
        let chunkBlocks = max(1, min(ns.maximumBlocksPerCommand, (1 << 20) / ns.blockSize))
        do {
            let namespace = try controller.namespace(ns.id)
            let buffer = try controller.device.dma.allocate(length: chunkBlocks * ns.blockSize)
            var lba = firstBlock
            while lba < endBlock && !shouldStop() {
                let blocks = Int(min(UInt64(chunkBlocks), endBlock - lba))
                try body(namespace, lba, blocks, buffer.slice(offset: 0, length: blocks * ns.blockSize))
                lba += UInt64(blocks)
            }
        } catch let error as NVMeError {
            throw .nvme(error)
        } catch let error as VFIOError {
            throw .nvme(.vfio(error))
        } catch {
            throw .invalid("\(error)")
        }
    }

    static func processCPUNanoseconds() -> UInt64 {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = UInt64(usage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_utime.tv_usec) * 1000
        let system = UInt64(usage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_stime.tv_usec) * 1000
        return user + system
    }

    @usableFromInline
    static func threadCPUNanoseconds() -> UInt64 { CPUTime.thread() }
}

@usableFromInline
struct WorkerJob: Sendable {
    @usableFromInline let spec: WorkloadSpec
    @usableFromInline let namespace: NamespaceInfo
    @usableFromInline let firstUnit: UInt64
    @usableFromInline let unitCount: UInt64
    @usableFromInline let ios: Int?
    @usableFromInline let thread: Int
}

@usableFromInline
struct ThreadResult: Sendable {
    @usableFromInline var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
    @usableFromInline var completed: UInt64 = 0
    @usableFromInline var errors: UInt64 = 0
    @usableFromInline var verifyFailures: UInt64 = 0
    @usableFromInline var firstBadLBA: UInt64 = 0
    @usableFromInline var verifiedBytes: UInt64 = 0
    @usableFromInline var threadCPU: UInt64 = 0
    @usableFromInline var interrupts: UInt64 = 0
    @usableFromInline var doorbells: UInt64 = 0
    @usableFromInline var invalid: UInt64 = 0
    @usableFromInline var emptyPolls: UInt64 = 0
    @usableFromInline var idleChecks: UInt64 = 0
    @usableFromInline var pauses: UInt64 = 0
    /// The deadline ended this thread's run before its share of `ios`.
    @usableFromInline var endedByTime = false
    /// The device was removed during the run (`NVMeError.deviceRemoved`).
    @usableFromInline var deviceRemoved = false

    @usableFromInline init() {}

    mutating func merge(_ o: ThreadResult) {
        completed += o.completed
        errors += o.errors
        if verifyFailures == 0 && o.verifyFailures > 0 { firstBadLBA = o.firstBadLBA }
        verifyFailures += o.verifyFailures
        verifiedBytes += o.verifiedBytes
        threadCPU += o.threadCPU
        interrupts += o.interrupts
        doorbells += o.doorbells
        invalid += o.invalid
        emptyPolls += o.emptyPolls
        idleChecks += o.idleChecks
        pauses += o.pauses
        endedByTime = endedByTime || o.endedByTime
        deviceRemoved = deviceRemoved || o.deviceRemoved
    }
}

/// What the worker threads share with the thread that reports progress.
@usableFromInline
final class SharedProgress: Sendable {
    @usableFromInline let stop = Atomic<Bool>(false)
    /// I/Os completed by all threads; each adds once per reaped batch.
    private let completed = Atomic<UInt64>(0)
    private let state: Mutex<[Int: Result<ThreadResult, NVMeError>]>
    private let finished = Atomic<Int>(0)
    private let threads: Int
    /// Signalled by each thread as it finishes, so the reporter wakes at once.
    private let wake: EventFD

    init(threads: Int) throws(VFIOError) {
        self.threads = threads
        self.state = Mutex([:])
        self.wake = try EventFD()
    }

    @usableFromInline func add(_ n: UInt64) { completed.add(n, ordering: .relaxed) }
    var totalCompleted: UInt64 { completed.load(ordering: .relaxed) }
    var allFinished: Bool { finished.load(ordering: .acquiring) == threads }

    func finish(thread: Int, _ outcome: Result<ThreadResult, NVMeError>) {
        state.withLock { $0[thread] = outcome }
        finished.add(1, ordering: .releasing)
        wake.signal()
    }

    func waitForFinish(milliseconds: Int32) -> Bool {
        let fired = wake.wait(timeoutMilliseconds: milliseconds)
        wake.drain()
        return fired
    }

    func results() -> [Result<ThreadResult, NVMeError>] {
        state.withLock { s in (0..<threads).compactMap { s[$0] } }
    }
}

extension UInt64 {
    /// `self` plus `seconds` in nanoseconds, saturating at `UInt64.max` (an infinite or huge run
    /// time is no deadline, never a trap in the conversion).
    @usableFromInline func addingSaturated(nanoseconds seconds: Double) -> UInt64 {
        let ns = seconds * 1e9
        guard ns < Double(UInt64.max - self) else { return .max }
        return self + UInt64(ns.rounded(.up))
    }
}
