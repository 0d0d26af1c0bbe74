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

import CShims

/// Timestamps for measurement (per-I/O latency): the CPU's time-stamp counter where it is
/// invariant, calibrated once against CLOCK_MONOTONIC, otherwise `MonotonicClock.nanoseconds()`.
///
/// Per-I/O timestamps read a clock twice per I/O. Through the vDSO that costs ~20 ns; where the
/// clocksource is not vDSO-capable (the HPET, some VMs) each read is a system call and an
/// emulated register read, which cost `vfioctl nvme perf` 2-3x its IOPS at QD32 under TCG. SPDK
/// and libvfn read the TSC. Only an invariant TSC (CPUID 8000_0007h EDX bit 8: constant rate in
/// every P-, C- and T-state) is used, so ticks convert to nanoseconds by one calibrated factor.
/// For intervals on one machine, not for wall-clock time; deadlines keep `MonotonicClock`, which
/// is also its calibration base and its fallback, so a tick interval and a `MonotonicClock`
/// interval measure the same time.
@frozen
public struct TickClock: Sendable {
    public enum Source: Sendable, Equatable {
        /// The invariant TSC (`rdtsc`).
        case tsc
        /// CLOCK_MONOTONIC through the vDSO: a tick is a nanosecond.
        case monotonic
    }

    public let source: Source
    /// Nanoseconds per tick in 32.32 fixed point (1 << 32 for `.monotonic`).
    @usableFromInline let nanosecondsPerTickQ32: UInt64

    @inlinable
    init(source: Source, nanosecondsPerTickQ32: UInt64) {
        self.source = source
        self.nanosecondsPerTickQ32 = nanosecondsPerTickQ32
    }

    /// The monotonic-clock fallback.
    public static let monotonic = TickClock(source: .monotonic, nanosecondsPerTickQ32: 1 << 32)

    /// The process's tick clock: the TSC when it is invariant and its calibration is sane, else
    /// `monotonic`. Calibrated on first use (about 10 ms).
    public static let shared: TickClock = detect(invariantTSC: hasInvariantTSC)

    /// Whether this CPU's TSC is invariant (CPUID 8000_0007h EDX bit 8; false off x86-64).
    public static var hasInvariantTSC: Bool { shim_has_invariant_tsc() != 0 }

    /// A TSC clock calibrated now when `invariantTSC`, else (or when the calibration is not
    /// sane) `monotonic`.
    public static func detect(invariantTSC: Bool, calibrationNanoseconds: UInt64 = 10_000_000) -> TickClock {
        guard invariantTSC else { return .monotonic }
        let ticks0 = shim_rdtsc()
        let ns0 = MonotonicClock.nanoseconds()
        var ns1 = ns0
        while ns1 &- ns0 < calibrationNanoseconds { ns1 = MonotonicClock.nanoseconds() }
        let ticks1 = shim_rdtsc()
        return calibrated(ticks: ticks1 &- ticks0, nanoseconds: ns1 &- ns0) ?? .monotonic
    }

    /// A TSC clock from one calibration interval, or nil unless the rate is between 100 MHz and
    /// 20 GHz (a TSC that did not move, ran backwards or was virtualised into nonsense).
    public static func calibrated(ticks: UInt64, nanoseconds: UInt64) -> TickClock? {
        guard ticks > 0, nanoseconds > 0 else { return nil }
        let hz = Double(ticks) / Double(nanoseconds) * 1e9
        guard hz >= 1e8, hz <= 2e10 else { return nil }
        let q32 = (Double(nanoseconds) / Double(ticks) * 4_294_967_296).rounded()
        return TickClock(source: .tsc, nanosecondsPerTickQ32: UInt64(q32))
    }

    /// Ticks per second.
    public var frequency: Double { 4_294_967_296 / Double(nanosecondsPerTickQ32) * 1e9 }

    /// Now, in ticks.
    @inlinable @inline(__always)
    public func now() -> UInt64 {
        source == .tsc ? shim_rdtsc() : MonotonicClock.nanoseconds()
    }

    /// An interval of `ticks` in nanoseconds.
    @inlinable @inline(__always)
    public func nanoseconds(_ ticks: UInt64) -> UInt64 {
        let (high, low) = ticks.multipliedFullWidth(by: nanosecondsPerTickQ32)
        return high << 32 | low >> 32
    }
}
