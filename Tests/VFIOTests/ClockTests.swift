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
import Testing
import VFIO

/// The clock set in `Sources/VFIO/Support/Clock`: the precise and coarse monotonic readings and
/// the thread CPU time go through one `clock_gettime` reader, so they must agree with each other
/// and with the kernel's own reading.
@Suite struct MonotonicClockTests {
    @Test func preciseReadingMatchesTheKernelsClockMonotonic() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let kernel = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        let ours = MonotonicClock.nanoseconds()
        #expect(ours >= kernel && ours - kernel < 1_000_000_000, "\(ours) against \(kernel)")
    }

    @Test func coarseReadingLagsThePreciseOneByAtMostOneStep() {
        #expect(MonotonicClock.coarseResolution >= 1 && MonotonicClock.coarseResolution <= 100_000_000)
        for _ in 0..<1000 {
            let coarse = MonotonicClock.coarseNanoseconds()
            let precise = MonotonicClock.nanoseconds()
            #expect(coarse <= precise)
            // One step, plus scheduling slack between the two reads on a loaded machine.
            #expect(precise - coarse <= MonotonicClock.coarseResolution + 50_000_000)
        }
    }

    @Test func threadCPUTimeGrowsWithWorkButNotWithSleep() {
        let start = CPUTime.thread()
        let wallStart = MonotonicClock.nanoseconds()
        var spins: UInt64 = 0
        while MonotonicClock.nanoseconds() - wallStart < 5_000_000 { spins &+= 1 }
        let worked = CPUTime.thread() - start
        #expect(worked > 0 && spins > 0)
        #expect(worked <= MonotonicClock.nanoseconds() - wallStart + 1_000_000)
        let beforeSleep = CPUTime.thread()
        var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
        nanosleep(&ts, nil)
        #expect(CPUTime.thread() - beforeSleep < 10_000_000, "a sleeping thread used CPU time")
    }
}

@Suite struct TickClockTests {
    @Test func ticksNeverGoBackwards() {
        let clock = TickClock.shared
        var last = clock.now()
        for _ in 0..<100_000 {
            let t = clock.now()
            #expect(t >= last)
            last = t
        }
    }

    @Test func aCalibratedClockMeasuresAnIntervalLikeTheMonotonicClock() {
        let clock = TickClock.detect(invariantTSC: TickClock.hasInvariantTSC)
        let t0 = clock.now()
        let n0 = MonotonicClock.nanoseconds()
        while MonotonicClock.nanoseconds() - n0 < 20_000_000 {}
        let measured = clock.nanoseconds(clock.now() &- t0)
        let reference = MonotonicClock.nanoseconds() - n0
        // Within 5 % (the TSC's rate is calibrated against this clock over 10 ms).
        #expect(measured > reference * 95 / 100 && measured < reference * 105 / 100, "\(measured) ns against \(reference) ns")
        if clock.source == .tsc { #expect(clock.frequency > 1e8 && clock.frequency < 2e10) }
    }

    @Test func withoutAnInvariantTSCTheMonotonicClockIsUsed() {
        let clock = TickClock.detect(invariantTSC: false)
        #expect(clock.source == .monotonic)
        #expect(clock.nanoseconds(123_456_789) == 123_456_789)
        let before = MonotonicClock.nanoseconds()
        let t = clock.now()
        #expect(t >= before && t <= MonotonicClock.nanoseconds())
    }

    @Test func anInsaneCalibrationIsRefused() {
        #expect(TickClock.calibrated(ticks: 0, nanoseconds: 10_000_000) == nil)
        #expect(TickClock.calibrated(ticks: 10, nanoseconds: 10_000_000) == nil)  // 1 kHz
        #expect(TickClock.calibrated(ticks: 1 << 62, nanoseconds: 1) == nil)
        let ghz3 = TickClock.calibrated(ticks: 30_000_000, nanoseconds: 10_000_000)
        #expect(ghz3?.source == .tsc)
        let second = ghz3?.nanoseconds(3_000_000_000) ?? 0
        #expect(second >= 999_999_999 && second <= 1_000_000_001)
    }
}
