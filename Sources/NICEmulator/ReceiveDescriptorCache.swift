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

import E1000ESpec

/// The 82574's on-chip receive descriptor cache (82574 datasheet 7.1.4.1, descriptor fetching):
/// the device fetches posted descriptors in bursts, ahead of the frames that will use them, and
/// uses them from the cache without looking at the ring registers again. Only stopping the
/// receiver (RCTL.EN cleared) or a reset empties it.
///
/// So a driver that rewrites a live queue's ring registers (RDLEN, RDBA, RDH, RDT) while the
/// receiver runs has not stopped the device from writing into buffers it had posted. QEMU's
/// e1000e re-reads the ring for every frame and hides this; the emulator models it so that tests
/// catch a queue torn down that way (Linux `e1000e_down` clears RCTL.EN before freeing rings).
struct ReceiveDescriptorCache {
    /// One fetched descriptor: where it lives (for the write-back) and the buffer it names.
    struct Entry {
        var slot: Int
        var slots: Int
        var descriptor: UInt64
        var buffer: UInt64
    }

    /// Descriptors fetched per burst.
    static let capacity = 8

    /// Fetched and not yet used, oldest first.
    var entries: [Entry] = []
}

extension NICEngine {
    /// The next descriptor of receive queue `q`: from the cache, else a burst fetched from RDH up
    /// to RDT. nil with `faulted` when the IOMMU refused the first fetch, nil alone when none is
    /// posted.
    mutating func nextReceiveDescriptor(_ q: Int) -> (entry: ReceiveDescriptorCache.Entry?, faulted: Bool) {
        if receiveCache[q].entries.isEmpty {
            let ring = E1000ERegister.receiveQueue(q)
            let posted = postedDescriptors(ring)
            let base = ringBase(ring)
            var slot = posted.head
            for _ in 0..<min(posted.free, ReceiveDescriptorCache.capacity) {
                let address = base &+ UInt64(slot * 16)
                guard let (buffer, _) = readDescriptor(address) else {
                    if receiveCache[q].entries.isEmpty { return (nil, true) }
                    break
                }
                receiveCache[q].entries.append(.init(slot: slot, slots: posted.slots, descriptor: address, buffer: buffer))
                slot = slot + 1 == posted.slots ? 0 : slot + 1
            }
        }
        guard !receiveCache[q].entries.isEmpty else { return (nil, false) }
        return (receiveCache[q].entries.removeFirst(), false)
    }

    /// Descriptors queue `q` can use now: those cached, or those posted in the ring if more.
    func usableReceiveDescriptors(_ q: Int, posted: Int) -> Int {
        max(receiveCache[q].entries.count, posted)
    }

    /// RCTL.EN cleared or a reset: the fetched descriptors are dropped.
    mutating func flushReceiveDescriptorCaches() {
        for q in receiveCache.indices { receiveCache[q].entries.removeAll() }
    }
}
