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

/// CLOCK_MONOTONIC in nanoseconds, precise and coarse: the one clock of the drivers, for
/// deadlines, submit timestamps and the pacing of idle work. Its companions in this folder build
/// on it: `Deadline`, `IdleCheckPacer`, `TickClock` (the TSC, calibrated against it) and
/// `CPUTime` (read the same way).
///
/// `clock_gettime` through the vDSO costs ~20 ns, so the I/O path does not call it per command:
/// queue pairs stamp commands with a time refreshed once per wait-loop pass (see `QueuePair.now`).
public enum MonotonicClock {
    @inlinable
    public static func nanoseconds() -> UInt64 { read(CLOCK_MONOTONIC) }

    /// CLOCK_MONOTONIC_COARSE in nanoseconds: the time of the last scheduler tick, read from the
    /// vDSO's data page without touching a clock device, whatever the clocksource. Under an
    /// emulator whose clocksource is the HPET, `nanoseconds()` is a system call plus an emulated
    /// MMIO read (microseconds); this is a few loads. It never runs ahead of `nanoseconds()` and
    /// lags it by at most `coarseResolution`. For pacing idle work and for deadlines, not latency.
    @inlinable
    public static func coarseNanoseconds() -> UInt64 { read(CLOCK_MONOTONIC_COARSE) }

    /// The coarse clock's step (one tick: 1 to 10 ms), from clock_getres(2); 10 ms if it fails.
    public static let coarseResolution: UInt64 = {
        var ts = timespec()
        guard clock_getres(CLOCK_MONOTONIC_COARSE, &ts) == 0 else { return 10_000_000 }
        return max(1, nanoseconds(ts))
    }()

    /// `clock_gettime(id)` in nanoseconds: the one place a POSIX clock is read (this clock, its
    /// coarse variant, and `CPUTime`'s thread clock). With a valid id it cannot fail.
    @inlinable @inline(__always)
    static func read(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return nanoseconds(ts)
    }

    @inlinable @inline(__always)
    static func nanoseconds(_ ts: timespec) -> UInt64 {
        UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
