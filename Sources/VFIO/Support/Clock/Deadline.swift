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
