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
import Synchronization
import VFIO

/// SIGINT (Ctrl-C) and SIGTERM as a request to end a long run cleanly: the run stops starting
/// work, reaps what is outstanding, shuts the device down, prints its figures so far, and the tool
/// exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM; see docs/errors.md).
///
/// No code runs in signal context: `install()` blocks both signals in the calling thread, and so
/// in every thread started after it (the mask is inherited), and one detached thread takes them
/// with `sigwait`. That thread only records the signal and signals an eventfd, so long runs check
/// `requested` (one relaxed atomic load) and waits can add `eventFD` to their poll set. Blocking
/// the signals also keeps them from interrupting the queue threads' system calls with EINTR.
/// A second signal ends the process at once, for a run whose cleanup hangs.
enum StopSignal {
    /// The first SIGINT or SIGTERM taken, 0 before one arrives.
    private static let first = Atomic<Int32>(0)
    private static let installed = Atomic<Bool>(false)
    /// Readable once a stop was requested; created before the signal thread starts.
    private static let wake = Mutex<Wake?>(nil)

    private final class Wake: Sendable {
        let event: EventFD
        init() throws(VFIOError) { event = try EventFD() }
    }

    /// Starts taking SIGINT and SIGTERM. Call it first in a command's `run()`, before the command
    /// opens a device or starts a thread: a thread started earlier would still be killed by them.
    static func install() throws {
        guard !installed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let event = try Wake()
        wake.withLock { $0 = event }
        var set = signals
        let masked = pthread_sigmask(SIG_BLOCK, &set, nil)
        guard masked == 0 else { throw VFIOError.system(operation: "pthread_sigmask(SIGINT, SIGTERM)", errno: masked) }
        try OSThread(name: "the signal thread") { StopSignal.takeSignals() }.detach()
    }

    /// True once SIGINT or SIGTERM arrived.
    static var requested: Bool { first.load(ordering: .relaxed) != 0 }

    /// The signal that asked to stop, nil before one arrived.
    static var signal: Int32? {
        let s = first.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// "SIGINT" or "SIGTERM", nil before one arrived.
    static var signalName: String? { signal.map(name) }

    /// The exit status after a stopped run: 128 + the signal number, as a shell reports it.
    static var exitStatus: Int32? { signal.map { 128 + $0 } }

    /// An eventfd that becomes readable when a stop is requested (-1 before `install()`).
    static var eventFD: Int32 { wake.withLock { $0?.event.rawValue ?? -1 } }

    private static var signals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    private static func name(_ signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }

    /// The signal thread: records the first signal and wakes waiters; exits on the second.
    private static func takeSignals() -> Never {
        var set = signals
        guard let event = wake.withLock({ $0 }) else { fatalError("StopSignal thread started before its eventfd") }
        while true {
            var taken: Int32 = 0
            guard sigwait(&set, &taken) == 0 else { continue }
            if first.compareExchange(expected: 0, desired: taken, ordering: .acquiringAndReleasing).exchanged {
                event.event.signal()
            } else {
                printError("vfioctl: second \(name(taken)): exiting without finishing the run")
                _exit(128 + taken)
            }
        }
    }
}
