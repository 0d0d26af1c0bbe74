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

import VFIO

/// One queue's entries in the Doorbell Buffer Config pages (NVMe base 1.3, 5.7 and 7.13): the
/// shadow doorbell the host always writes, and the event index the controller writes to say when
/// it wants an MMIO doorbell write as well. In a VM, skipping the MMIO store skips a VM exit.
///
/// A non-owning view: the pages belong to the controller's `DoorbellBuffers`, which outlive
/// every queue (they go with the controller, after it is disabled).
@frozen
public struct ShadowDoorbell {
    /// The shadow doorbell: the value the MMIO doorbell would get, in host memory.
    @usableFromInline let value: UnsafeMutableRawPointer
    /// The controller's event index for this doorbell (device data: untrusted).
    @usableFromInline let eventIndex: UnsafeMutableRawPointer

    @inlinable
    init(value: UnsafeMutableRawPointer, eventIndex: UnsafeMutableRawPointer) {
        self.value = value
        self.eventIndex = eventIndex
    }

    /// Stores `newValue` in the shadow doorbell and says whether the MMIO doorbell must be
    /// written too, after the index moved by `moved` entries (1...size) in a ring of `size`.
    ///
    /// Linux `nvme_dbbuf_update_and_check_event`: the caller's `wmb()` made the entries visible
    /// before this store; the full barrier orders the shadow store before the event index load,
    /// pairing with the controller's (event index store, then shadow load), so either we see its
    /// new event index or it sees our new value. A compare and a store on top of the MMIO
    /// path, plus the fence; no allocation, no reference counting.
    @inlinable @inline(__always)
    func update(_ newValue: UInt32, moved: UInt32, size: UInt32) -> Bool {
        DMAWord.storeRelease32(value, newValue)
        Barrier.full()
        let event = DMAWord.load32(UnsafeRawPointer(eventIndex))
        return Self.needsEvent(eventIndex: event, newValue: newValue, moved: moved, size: size)
    }

    /// Whether the controller asked to be told: its event index lies in the entries just
    /// published, `[newValue - moved, newValue)` around the ring (Linux `nvme_dbbuf_need_event`,
    /// `(u16)(new - event - 1) < (u16)(new - old)`, here modulo the ring size).
    ///
    /// The event index is device data: one outside the ring (`>= size`) is not trusted to mean
    /// "no need", so the MMIO doorbell is written. Wrapping arithmetic only: nothing traps.
    @inlinable @inline(__always)
    public static func needsEvent(eventIndex: UInt32, newValue: UInt32, moved: UInt32, size: UInt32) -> Bool {
        // Distance back from the last published entry (newValue - 1) to the event index.
        let back = newValue > eventIndex ? newValue &- 1 &- eventIndex : newValue &+ size &- 1 &- eventIndex
        return back < moved || eventIndex >= size
    }
}
