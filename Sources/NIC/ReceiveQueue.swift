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

/// One received frame, lent to the caller's closure: the bytes live in a DMA buffer that goes
/// back to the ring as soon as the closure returns, so they must be copied to be kept.
@frozen
public struct ReceivedPacket {
    /// The frame, from the destination address to the end of the payload (CRC stripped).
    public let bytes: UnsafeRawBufferPointer
    /// Receive queue it arrived on.
    public let queue: Int
    /// RSS hash (extended descriptors with RSS only; 0 otherwise).
    public let rssHash: UInt32
    /// RSS type (MRQ bits 3:0; 0 when no hash was computed).
    public let rssType: UInt8

    @inlinable
    init(bytes: UnsafeRawBufferPointer, queue: Int, rssHash: UInt32, rssType: UInt8) {
        self.bytes = bytes
        self.queue = queue
        self.rssHash = rssHash
        self.rssType = rssType
    }
}

/// A receive descriptor ring and its buffers (82574 datasheet 7.1), owned by one thread.
///
/// **Ring.** `next` is the oldest descriptor handed to the device, `tail` the first one not
/// handed over (the RDT value); at most `entries - 1` are posted, so RDT never catches up with
/// RDH (a full ring would look empty, datasheet 7.1.8). Each slot remembers the pool buffer it
/// carries, so the device's write-back is never trusted for an address.
///
/// **Hot path.** `receive` reads the status dword of `next` (an acquire load, re-read every pass),
/// checks DD, issues `dma_rmb()`, then reads length (and the RSS hash), validates them, lends the
/// frame to the closure, and recycles the buffer. Refill happens once per batch and ends with one
/// `wmb()` and one RDT store. No allocation, lock or reference count (checked in the assembly:
/// docs/design-notes.md).
///
/// **Lifetime.** Dropping the queue turns its ring off in the device (receiver stopped if it was
/// the last queue, ring registers cleared, a register read to flush) before the ring and buffers
/// are unmapped, so the device cannot write into freed memory.
public struct ReceiveQueue<Device: PCIFunction>: ~Copyable, @unchecked Sendable {
    /// The ring, its tail (RDT), buffers, doorbell and interrupt cause.
    @usableFromInline var ring: DescriptorRing<Device>
    @usableFromInline var next = 0
    @usableFromInline var posted = 0
    /// Extended descriptors: status/error dword at byte 8, length at 12, RSS in bytes 0-7.
    /// Legacy: status, errors and special at byte 12 (one dword), length at 8.
    @usableFromInline let extended: Bool
    /// Where the device writes the status dword and the length back, for this queue's format.
    @usableFromInline let statusOffset: Int
    @usableFromInline let lengthOffset: Int
    @usableFromInline var stats = ReceiveQueueStatistics()
    /// Queue number (0 or 1).
    public let index: Int
    let owner: E1000E<Device>

    init(owner: E1000E<Device>, index: Int, ring: consuming DescriptorRing<Device>, extended: Bool) {
        self.owner = owner
        self.index = index
        self.ring = ring
        self.extended = extended
        self.statusOffset = extended ? ExtendedReceiveDescriptor.statusOffset : LegacyReceiveDescriptor.statusOffset
        self.lengthOffset = extended ? ExtendedReceiveDescriptor.lengthOffset : LegacyReceiveDescriptor.lengthOffset
    }

    deinit {
        ring.interrupt.mask()
        owner.retireReceiveQueue(index)
    }

    /// Counters so far.
    public var statistics: ReceiveQueueStatistics { stats }
    /// Descriptors handed to the device and not yet written back.
    public var postedDescriptors: Int { posted }
    /// Descriptors in the ring.
    public var ringEntries: Int { ring.entries }
    /// Pool buffers not on the ring and not lent out.
    public var freeBuffers: Int { ring.pool.available }
    /// Whether this queue has an interrupt vector (interrupt and hybrid modes need one).
    public var hasInterrupt: Bool { ring.interrupt.eventFD != nil }

    // MARK: - Receive

    /// Hands up to `batch` frames that have arrived to `body`, without waiting, then reposts
    /// their buffers with one RDT store. Returns how many were handed over.
    ///
    /// A descriptor written back with values that cannot be right (a length of 0 or beyond the
    /// 2 KiB buffer, a frame split over descriptors although every frame fits one buffer) or a
    /// done bit on a descriptor that was never posted is consumed, counted and reported by
    /// throwing after the frames before it were delivered; the queue stays usable.
    @inlinable
    public mutating func receive(batch: Int = 32, _ body: (ReceivedPacket) -> Void) throws(NICError) -> Int {
        ring.serviceDevice()
        var count = 0
        var failure: NICError? = nil
        while count < batch && posted > 0 {
            let slot = next
            let descriptor = ring.descriptor(slot)
            // DD first, re-read on every pass (acquire load); the rest only after dma_rmb().
            let statusWord = DMAWord.load32(descriptor + statusOffset)
            guard statusWord & 1 != 0 else { break }
            Barrier.dmaRead()
            let length = Int(descriptor.load(fromByteOffset: lengthOffset, as: UInt16.self))
            let status = ReceiveDescriptorStatus(rawValue: UInt8(truncatingIfNeeded: statusWord))
            let errors = ReceiveDescriptorErrors(rawValue: UInt8(truncatingIfNeeded: extended ? statusWord >> 24 : statusWord >> 8))
            let rssHash = extended ? descriptor.load(fromByteOffset: ExtendedReceiveDescriptor.rssHashOffset, as: UInt32.self) : 0
            let rssType = extended ? UInt8(descriptor.load(fromByteOffset: ExtendedReceiveDescriptor.multipleReceiveQueuesOffset, as: UInt32.self) & 0xF) : 0
            let buffer = Int(ring.slotBuffer[slot])
            // The slot is ours again: forget its buffer and clear the write-back, so a done bit
            // seen here later can only come from a device writing where it was not asked to.
            ring.slotBuffer[slot] = -1
            descriptor.storeBytes(of: 0, toByteOffset: 8, as: UInt64.self)
            next = ring.slot(after: slot)
            posted &-= 1
            // Device values, checked before use: the length must fit the buffer we posted, and
            // with 2 KiB buffers and no long-packet mode every frame ends in its first descriptor.
            if !status.contains(.endOfPacket) || length == 0 || length > PacketBufferPool.bufferSize {
                ring.pool.free(buffer)
                stats.invalidDescriptors &+= 1
                failure = .invalidReceiveDescriptor(
                    queue: index, index: slot,
                    reason: !status.contains(.endOfPacket)
                        ? "no end-of-packet although every frame fits one 2048-byte buffer"
                        : "length \(length) outside 1...\(PacketBufferPool.bufferSize)")
                break
            }
            if !errors.intersection(.frameErrors).isEmpty {
                ring.pool.free(buffer)
                stats.errorFrames &+= 1
                continue
            }
            body(ReceivedPacket(
                bytes: UnsafeRawBufferPointer(start: ring.pool.address(of: buffer), count: length),
                queue: index, rssHash: rssHash, rssType: rssType))
            ring.pool.free(buffer)
            stats.packets &+= 1
            stats.bytes &+= UInt64(length)
            count &+= 1
        }
        // The first slot not posted must not be done: the device would have overrun RDT.
        if failure == nil && ring.unpostedSlotIsDone(posted: posted, statusOffset: statusOffset) {
            stats.invalidDescriptors &+= 1
            failure = .unpostedDescriptorCompleted(kind: "receive", queue: index, index: ring.tail)
        }
        refill()
        if let failure { throw failure }
        return count
    }

    /// Posts free buffers up to `entries - 1` descriptors, then publishes them with one
    /// `wmb()` + RDT store (Linux `e1000_alloc_rx_buffers`: `wmb(); writel(i, rx_ring->tail)`).
    @inlinable
    mutating func refill() {
        var added = 0
        while posted < ring.entries &- 1, let buffer = ring.pool.allocate() {
            let descriptor = ring.descriptor(ring.tail)
            // Read format for both layouts: buffer address, then zero (legacy write-back fields
            // or the extended format's reserved/DD dword).
            descriptor.storeBytes(of: ring.pool.iova(of: buffer).littleEndian, toByteOffset: 0, as: UInt64.self)
            descriptor.storeBytes(of: 0, toByteOffset: 8, as: UInt64.self)
            ring.post(buffer)
            posted &+= 1
            added &+= 1
        }
        guard added > 0 else { return }
        ring.publishTail()
        stats.tailWrites &+= 1
    }

    /// Waits until at least one frame has arrived or `timeoutMilliseconds` pass, in the given
    /// completion mode (VFIO's `WaitLoop`), handing up to `batch` frames to `body` on each look.
    /// Returns how many (0 on timeout, at most one coarse clock tick after it).
    ///
    /// - poll: spins on the next descriptor's DD bit.
    /// - interrupt: re-arms the queue's cause (IMS), drains the eventfd, looks once more, sleeps.
    /// - hybrid: after an interrupt the cause stays masked (IMC) and later calls poll; after
    ///   `idlePolls` empty polls in a row the cause is re-armed, the eventfd drained, the ring
    ///   looked at once more, and the queue sleeps again (NAPI).
    @inlinable
    public mutating func receive(
        batch: Int = 32, mode: CompletionMode, timeoutMilliseconds: Int, _ body: (ReceivedPacket) -> Void
    ) throws(NICError) -> Int {
        var wait = try ring.startWait(
            kind: "receive", index: index, mode: mode, target: 1, timeoutMilliseconds: timeoutMilliseconds)
        defer { ring.endWait(wait, statistics: &stats.interrupts) }
        try runWait(&wait) { (queue: inout Self) throws(NICError) -> Int in
            try queue.receive(batch: batch, body)
        }
        return wait.done
    }
}

extension ReceiveQueue: DescriptorRingQueue {
    @inlinable public var descriptorRing: DescriptorRing<Device> { _read { yield ring } }
}

extension E1000E {
    /// Creates receive queue `index` (0 or 1, below `options.receiveQueues`): its ring and a pool
    /// of `ringEntries` 2 KiB buffers, all but one posted; the receiver is enabled. One thread
    /// owns the result; each queue can exist once at a time.
    public func makeReceiveQueue(_ index: Int = 0) throws(NICError) -> ReceiveQueue<Device> {
        // MSI-X: RXQn on the queue's own vector; a shared vector: RXT0 (both queues).
        let ring = try makeRing(
            kind: "receive", index: index, available: options.receiveQueues, live: \.receiveQueueLive,
            registers: E1000ERegister.receiveQueue(index), cause: .receiveQueue(index), sharedCause: .receiveTimer,
            source: index == 0 ? .receiveQueue0 : .receiveQueue1)
        var queue = ReceiveQueue(owner: self, index: index, ring: ring, extended: extendedReceiveDescriptors)
        queue.refill()
        state.withLock { s in
            // RSS spreads over the queues that exist, this one now included.
            if extendedReceiveDescriptors {
                Self.writeRedirectionTable(registers: registers, queues: (0..<2).filter { s.receiveQueueLive[$0] })
            }
            setUnit(E1000ERegister.receiveControl, &s.receiveControl, enabled: true)
        }
        return queue
    }

    /// Called by a dropped receive queue before its memory goes; afterwards the device neither
    /// steers frames to the ring nor writes into it. With the other queue still live, RSS first
    /// sends every flow to that one. Then the receive unit stops (RCTL.EN clear) for
    /// `receiveStopMilliseconds`: the 82574 has no per-queue receive enable (RXDCTL holds only
    /// thresholds), and stopping the unit is what ends the frame in flight and drops the
    /// descriptors the device had already fetched into its cache, which clearing the ring
    /// registers alone does not (Linux `e1000_configure_rx` and `e1000e_down` likewise clear
    /// RCTL.EN and sleep 10 ms before touching rings). The ring registers are cleared, and the
    /// receiver restarts for the other queue; frames arriving in that window are missed (MPC).
    func retireReceiveQueue(_ index: Int) {
        state.withLock { s in
            s.receiveQueueLive[index] = false
            let ring = E1000ERegister.receiveQueue(index)
            let live = (0..<2).filter { s.receiveQueueLive[$0] }
            if !live.isEmpty && extendedReceiveDescriptors {
                Self.writeRedirectionTable(registers: registers, queues: live)
            }
            var rctl = s.receiveControl
            rctl.enable = false
            registers.write(E1000ERegister.receiveControl, rctl)
            _ = registers.read(E1000ERegister.deviceStatus)  // the stop is posted: flush it
            let stop = Deadline(milliseconds: Self.receiveStopMilliseconds)
            var backoff = Backoff(startMicroseconds: 100, capMicroseconds: 2000)
            repeat {
                device.service()
                backoff.sleep()
            } while !stop.hasPassed
            clearRing(ring)
            if !live.isEmpty && !s.closed {
                registers.write(E1000ERegister.receiveControl, s.receiveControl)
            } else {
                s.receiveControl.enable = false
            }
            _ = registers.read(E1000ERegister.deviceStatus)
        }
    }

    /// How long the receive unit stays stopped when a queue is dropped (Linux e1000e: 10 ms).
    static var receiveStopMilliseconds: Int { 10 }
}
