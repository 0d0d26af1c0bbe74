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

import Synchronization
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// What one round of an emulated device's work found, so its thread knows whether to keep
/// spinning.
public struct DeviceWork: Sendable, Hashable {
    public var worked: Bool
    /// Something waits for time to pass (a latency, a delay, coalescing, a throttle, CSTS.RDY).
    public var waitingOnTime: Bool

    public init(worked: Bool = false, waitingOnTime: Bool = false) {
        self.worked = worked
        self.waitingOnTime = waitingOnTime
    }
}

/// The part of an emulated device its thread drives: not the device object itself, so that
/// dropping the device stops the thread.
public protocol DeviceWorker: AnyObject, Sendable {
    func serviceOnce() -> DeviceWork
}

/// A `DeviceWorker` whose device model (the engine) sits behind a lock ThreadSanitizer sees: the
/// device thread, the driver's MMIO traps and the tests reach it only through `withEngine`.
public protocol LockedEngineWorker: DeviceWorker {
    associatedtype Engine
    var engine: TSanVisibleMutex<Engine> { get }
}

extension LockedEngineWorker {
    /// Runs `body` with the engine locked. Everything that touches the engine goes through here.
    @inlinable
    public func withEngine<R: Sendable>(_ body: (inout Engine) -> R) -> R {
        engine.withLock { (e: inout sending Engine) -> sending R in body(&e) }
    }
}

/// A device's own thread (`EmulationMode.threaded`): it works while there is work; when idle it
/// keeps polling with the pause hint for `spinNanoseconds`, because a doorbell usually follows
/// soon and a sleeping thread on a loaded machine waits for the scheduler (measured:
/// docs/design-notes.md); then it sleeps in steps that grow with the idle time, so an idle device
/// costs almost no CPU. Something waiting on time keeps the sleeps at 10 us.
///
/// Dropping it asks the thread to finish and joins it.
public struct DeviceRunLoop: ~Copyable {
    private let stop: StopFlag
    private let thread: OSThread

    private final class StopFlag: Sendable {
        let requested = Atomic<Bool>(false)
    }

    public init(name: String, spinNanoseconds: UInt64, worker: some DeviceWorker) throws(VFIOError) {
        let stop = StopFlag()
        self.stop = stop
        thread = try OSThread(name: name) {
            Self.run(worker, spinNanoseconds: spinNanoseconds, until: stop)
        }
    }

    deinit {
        stop.requested.store(true, ordering: .releasing)
        // `thread` joins as it is destroyed, after this.
    }

    /// The run loop of a device in `mode`: started now in `.threaded` mode, none in `.stepped`
    /// mode (the driver's `service()` calls do the work there). In a mutex, so that `close()` can
    /// stop it from any thread; a device whose thread uses memory it unmaps in `deinit` empties
    /// the mutex first. A thread that cannot start is reported as the emulator's own error,
    /// built by `failure` from the errno.
    public static func start<E: Error>(
        for mode: EmulationMode, name: String, spinNanoseconds: UInt64, worker: some DeviceWorker,
        orThrow failure: (_ errno: Int32) -> E
    ) throws(E) -> Mutex<DeviceRunLoop?> {
        guard mode == .threaded else { return Mutex(nil) }
        do {
            return Mutex(try DeviceRunLoop(name: name, spinNanoseconds: spinNanoseconds, worker: worker))
        } catch {
            throw failure(error.errno ?? 0)
        }
    }

    private static func run(_ worker: some DeviceWorker, spinNanoseconds: UInt64, until stop: StopFlag) {
        var lastWork = MonotonicClock.nanoseconds()
        while !stop.requested.load(ordering: .acquiring) {
            let work = worker.serviceOnce()
            let now = MonotonicClock.nanoseconds()
            if work.worked {
                lastWork = now
                continue
            }
            let idle = now - lastWork
            if idle < spinNanoseconds {
                Barrier.cpuPause()
                continue
            }
            let micros = work.waitingOnTime ? 10 : idle < 200_000_000 ? 20 : idle < 2_000_000_000 ? 200 : 1000
            var ts = timespec(tv_sec: 0, tv_nsec: micros * 1000)
            nanosleep(&ts, nil)
        }
    }
}
