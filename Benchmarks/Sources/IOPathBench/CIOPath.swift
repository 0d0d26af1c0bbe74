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

import CReferenceDriver

/// The C reference (`CReferenceDriver`) over the same null device engine: same ring layout,
/// same checks, same device code, so Swift/C is a like-for-like ratio.
///
/// `@unchecked Sendable` for the benchmark closures; used by one thread only.
public final class CIOPath: @unchecked Sendable {
    let bench: OpaquePointer

    public init?(entries: Int = 256, transferBytes: Int = 4096) {
        guard let b = ref_bench_create(UInt32(entries), UInt32(transferBytes)) else { return nil }
        bench = b
    }

    deinit { ref_bench_destroy(bench) }

    /// QD1: submit, doorbell, device, reap; `count` times. Same checksum as `SwiftIOPath.qd1`.
    public func qd1(_ count: Int) -> UInt64 { ref_bench_qd1(bench, UInt64(count)) }

    public func batched(_ count: Int, batch: Int) -> UInt64 { ref_bench_batch(bench, UInt64(count), UInt32(batch)) }

    public var submissionDoorbells: UInt64 { ref_bench_stats(bench).sq_doorbells }
    public var invalidCompletions: UInt64 { ref_bench_stats(bench).invalid_completions }
    public var deviceCompletions: UInt64 { ref_bench_device_completions(bench) }
}

/// The C reference NIC path (`ref_nic.c`) over the same null 82574L engine, so Swift/C per
/// packet is a like-for-like ratio. Used by one thread only.
public final class CNICPath: @unchecked Sendable {
    let bench: OpaquePointer

    public init?(ringEntries: Int = 512) {
        guard let b = ref_nic_bench_create(UInt32(ringEntries)) else { return nil }
        bench = b
    }

    deinit { ref_nic_bench_destroy(bench) }

    /// Same results as `SwiftNICPath.receive` and `.transmit`.
    public func receive(_ count: Int) -> UInt64 { ref_nic_bench_rx(bench, UInt64(count)) }
    public func transmit(_ count: Int) -> UInt64 { ref_nic_bench_tx(bench, UInt64(count)) }

    public var deviceReceived: UInt64 { ref_nic_bench_device_rx(bench) }
    public var deviceTransmitted: UInt64 { ref_nic_bench_device_tx(bench) }
}
