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

/// The sleep between polls of a register or queue that is not ready yet: short at first (the
/// emulated device in stepped mode finishes in one `service()` call; real controllers in
/// microseconds), doubling to a cap so that a slow device (NVMe CAP.TO is up to 127 s) does not
/// cost a spinning core.
@frozen
public struct Backoff: Sendable {
    @usableFromInline var microseconds: UInt32
    @usableFromInline let cap: UInt32

    @inlinable
    public init(startMicroseconds: UInt32 = 20, capMicroseconds: UInt32 = 10_000) {
        microseconds = startMicroseconds
        cap = capMicroseconds
    }

    /// Sleeps for the current interval, then doubles it up to the cap.
    @inlinable
    public mutating func sleep() {
        _ = usleep(microseconds)
        microseconds = min(cap, microseconds &* 2)
    }

    /// The current interval in milliseconds, rounded up, for `poll(2)`-style waits; doubles it.
    @inlinable
    public mutating func nextMilliseconds() -> Int32 {
        let ms = Int32((microseconds + 999) / 1000)
        microseconds = min(cap, microseconds &* 2)
        return ms
    }
}
