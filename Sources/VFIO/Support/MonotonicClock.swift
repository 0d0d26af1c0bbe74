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
/// deadlines, submit timestamps and the pacing of idle work.
///
/// `clock_gettime` through the vDSO costs ~20 ns, so the I/O path does not call it per command:
/// queue pairs stamp commands with a time refreshed once per wait-loop pass (see `QueuePair.now`).
public enum MonotonicClock {
    @inlinable
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// CLOCK_MONOTONIC_COARSE in nanoseconds: the time of the last scheduler tick, read from the
    /// vDSO's data page without touching a clock device, whatever the clocksource. Under an
    /// emulator whose clocksource is the HPET, `nanoseconds()` is a system call plus an emulated
    /// MMIO read (microseconds); this is a few loads. It never runs ahead of `nanoseconds()` and
    /// lags it by at most `coarseResolution`. For pacing idle work and for deadlines, not latency.
    @inlinable
    public static func coarseNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The coarse clock's step (one tick: 1 to 10 ms), from clock_getres(2); 10 ms if it fails.
    public static let coarseResolution: UInt64 = {
        var ts = timespec()
        guard clock_getres(CLOCK_MONOTONIC_COARSE, &ts) == 0 else { return 10_000_000 }
        return max(1, UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }()
}

/// A point in monotonic time after which a wait gives up.
@frozen
public struct Deadline: Sendable {
    public let nanoseconds: UInt64

    @inlinable
    public init(milliseconds: Int) {
        nanoseconds = MonotonicClock.nanoseconds() &+ UInt64(max(0, milliseconds)) &* 1_000_000
    }

    /// A deadline `milliseconds` after `coarseStart` (a `MonotonicClock.coarseNanoseconds()`
    /// reading), plus one coarse step so that it is never earlier than the precise-clock one:
    /// the wait ends at most one tick late, and starting it reads no clock device.
    @inlinable
    public init(milliseconds: Int, coarseStart: UInt64) {
        nanoseconds = coarseStart &+ MonotonicClock.coarseResolution &+ UInt64(max(0, milliseconds)) &* 1_000_000
    }

    @inlinable public var hasPassed: Bool { MonotonicClock.nanoseconds() >= nanoseconds }

    /// Milliseconds left, at least 0.
    @inlinable
    public var remainingMilliseconds: Int {
        let now = MonotonicClock.nanoseconds()
        return now >= nanoseconds ? 0 : Int((nanoseconds - now) / 1_000_000)
    }
}

/// Paces the idle checks of a wait loop by elapsed time on the coarse clock, not by spin count.
///
/// An idle check (a device status read, clock reads, timeouts) is an MMIO read and more, and on a
/// slow device a spin count passes within one I/O; reading the coarse clock is a few loads
/// (measurements: docs/performance.md).
@frozen
public struct IdleCheckPacer: Sendable {
    /// Coarse-clock time of the last idle check (or of the wait's start).
    public var lastCheck: UInt64

    /// Elapsed time between two idle checks: how soon a failed device, a command timeout or the
    /// wait's deadline is noticed (plus one coarse tick, 1-4 ms).
    @inlinable public static var intervalNanoseconds: UInt64 { 1_000_000 }

    /// `start` is a `MonotonicClock.coarseNanoseconds()` reading.
    @inlinable
    public init(start: UInt64) { lastCheck = start }

    /// Whether `intervalNanoseconds` passed since the last idle check (by the coarse clock); if
    /// so, marks now as the last check.
    @inlinable
    public mutating func isDue() -> Bool {
        let t = MonotonicClock.coarseNanoseconds()
        guard t &- lastCheck >= Self.intervalNanoseconds else { return false }
        lastCheck = t
        return true
    }
}
