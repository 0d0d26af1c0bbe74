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

/// CPU time consumed, in nanoseconds: what a workload reports as CPU per I/O or per packet
/// (a busy-polling thread's CPU time is its wall time; an interrupt-driven one's is less).
public enum CPUTime {
    /// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
    @inlinable
    public static func thread() -> UInt64 { MonotonicClock.read(CLOCK_THREAD_CPUTIME_ID) }
}
