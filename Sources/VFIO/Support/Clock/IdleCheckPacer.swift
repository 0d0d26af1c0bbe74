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
