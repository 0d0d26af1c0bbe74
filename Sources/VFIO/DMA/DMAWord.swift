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

/// Loads of DMA memory the device writes concurrently, confined to one place: how a driver reads
/// the word that says an entry is new (an NVMe CQE's phase tag, a NIC descriptor's DD bit).
///
/// That word is spun on: it must be loaded afresh on every pass (READ_ONCE in Linux), which a
/// plain Swift load does not promise inside a loop. The acquire load also orders the following
/// reads of the entry on weakly ordered CPUs; the driver still issues `Barrier.dmaRead()` after
/// it, as Linux does after `nvme_cqe_pending`.
///
/// The other side of the same word is the device's: an emulated device writes it last, with a
/// release store, so a driver that sees it with its acquire load sees the rest of the entry.
public enum DMAWord {
    /// The 16-bit word at `address`, loaded once with acquire ordering.
    @inlinable @inline(__always)
    public static func load16(_ address: UnsafeRawPointer) -> UInt16 {
        shim_dma_load16_acquire(address)
    }

    /// The 32-bit word at `address`, loaded once with acquire ordering.
    @inlinable @inline(__always)
    public static func load32(_ address: UnsafeRawPointer) -> UInt32 {
        shim_dma_load32_acquire(address)
    }

    /// The device's side: stores the 32-bit word at `address` with release ordering, after the
    /// rest of the entry (an emulated controller's CQE DW3, an emulated NIC's descriptor status).
    @inlinable @inline(__always)
    public static func storeRelease32(_ address: UnsafeMutableRawPointer, _ value: UInt32) {
        shim_dma_store32_release(address, value)
    }
}
