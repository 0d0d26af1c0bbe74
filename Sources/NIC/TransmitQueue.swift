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

/// A transmit descriptor ring and its buffers (82574 datasheet 7.2), owned by one thread.
///
/// **Ring.** `clean` is the oldest descriptor the device may still be working on, `tail` the
/// first free one (the TDT value); at most `entries - 1` are outstanding. Every descriptor asks
/// for status (RS), and its buffer returns to the pool only after the device wrote DD back for
/// it: until then the device may still be reading the frame.
///
/// **Hot path.** `send` reclaims done descriptors, lets the caller fill free 2 KiB DMA buffers
/// in place (no copy, no allocation), writes one legacy descriptor per frame, then one `wmb()`
/// and one TDT store for the batch; it inlines into the caller (checked in the assembly:
/// docs/design-notes.md).
///
/// **Lifetime.** Dropping the queue waits (bounded) for outstanding descriptors, turns the ring
/// off in the device, then unmaps the ring and buffers.
public struct TransmitQueue<Device: PCIFunction>: ~Copyable, @unchecked Sendable {
    /// The ring, its tail (TDT), buffers, doorbell and interrupt cause.
    @usableFromInline var ring: DescriptorRing<Device>
    @usableFromInline var clean = 0
    @usableFromInline var outstanding = 0
    @usableFromInline var stats = TransmitQueueStatistics()
    /// Queue number (0 or 1).
    public let index: Int
    let owner: E1000E<Device>

    init(owner: E1000E<Device>, index: Int, ring: consuming DescriptorRing<Device>) {
        self.owner = owner
        self.index = index
        self.ring = ring
    }

    deinit {
        // Let the device finish what it was given (bounded), so it never reads freed memory.
        // The device works through the ring in order, so the newest descriptor done means all are.
        // A function gone from the bus (all ones) reads nothing any more: no wait, no warning.
        let gone = outstanding > 0 && ring.deviceGone
        let deadline = Deadline(milliseconds: 1000)
        var done = outstanding == 0 || gone
        while !done && !deadline.hasPassed {
            ring.serviceDevice()
            let newest = ring.descriptor((ring.tail &- 1) & (ring.entries &- 1))
            done = DMAWord.load32(newest + LegacyTransmitDescriptor.statusOffset) & 1 != 0
            if !done { Barrier.cpuPause() }
        }
        if !done && !gone {
            owner.logger.warning("82574L \(ring.device.name): transmit queue \(index) dropped with \(outstanding) descriptor(s) not done")
        }
        ring.interrupt.mask()
        owner.retireTransmitQueue(index)
    }

    /// Counters so far.
    public var statistics: TransmitQueueStatistics { stats }
    /// Descriptors handed to the device and not yet reclaimed.
    public var outstandingDescriptors: Int { outstanding }
    /// Descriptors in the ring.
    public var ringEntries: Int { ring.entries }
    /// Pool buffers free for new frames.
    public var freeBuffers: Int { ring.pool.available }
    /// Whether this queue has an interrupt vector (its own MSI-X one, or the shared MSI/INTx one).
    public var hasInterrupt: Bool { ring.interrupt.eventFD != nil }
    /// Largest frame one buffer holds.
    public static var maximumFrameLength: Int { PacketBufferPool.bufferSize }

    // MARK: - Transmit

    /// Queues up to `count` frames: for each, `fill(i, buffer)` writes frame `i` into a free
    /// 2 KiB DMA buffer and returns its length (1...2048), or 0 to end the batch early. One TDT
    /// store publishes the batch. Returns how many frames were queued: fewer than `count` when
    /// the ring or pool is full (backpressure; done descriptors are reclaimed first).
    ///
    /// Throws `invalidArgument` for a length beyond the buffer (frames filled before it are
    /// still sent, and counted in `statistics.packets`), and `unpostedDescriptorCompleted`, before
    /// queueing anything, if the device marked a free slot done.
    @inlinable
    public mutating func send(
        count: Int, _ fill: (_ index: Int, _ buffer: UnsafeMutableRawBufferPointer) -> Int
    ) throws(NICError) -> Int {
        ring.serviceDevice()
        // A device that marked a free slot done is not given more frames.
        if let hostile = reclaimDone() { throw hostile }
        var failure: NICError? = nil
        var queued = 0
        while queued < count && outstanding < ring.entries &- 1 {
            guard let buffer = ring.pool.allocate() else { break }
            let address = ring.pool.address(of: buffer)
            let length = fill(queued, UnsafeMutableRawBufferPointer(start: address, count: PacketBufferPool.bufferSize))
            guard length > 0 && length <= PacketBufferPool.bufferSize else {
                ring.pool.free(buffer)
                if length != 0 && failure == nil {
                    failure = .invalidArgument("frame length \(length); a frame is 1...\(PacketBufferPool.bufferSize) bytes")
                }
                break
            }
            let descriptor = ring.descriptor(ring.tail)
            // Legacy descriptor: address; length, CSO 0, CMD (EOP | IFCS | RS); status 0, CSS 0,
            // special 0. Written as two little-endian quadwords.
            let command = TransmitDescriptorCommand([.endOfPacket, .insertFCS, .reportStatus]).rawValue
            descriptor.storeBytes(of: ring.pool.iova(of: buffer).littleEndian, toByteOffset: 0, as: UInt64.self)
            descriptor.storeBytes(of: (UInt64(length) | UInt64(command) << 24).littleEndian, toByteOffset: 8, as: UInt64.self)
            ring.post(buffer)
            outstanding &+= 1
            queued &+= 1
            stats.bytes &+= UInt64(length)
        }
        if queued < count && failure == nil { stats.backpressure &+= 1 }
        if queued > 0 {
            // Descriptors and frames visible before the device can see the new tail.
            ring.publishTail()
            stats.tailWrites &+= 1
            stats.packets &+= UInt64(queued)
        }
        if let failure { throw failure }
        return queued
    }

    /// Copies one frame into a DMA buffer and queues it. False when the ring or pool is full.
    @inlinable
    public mutating func send(_ frame: UnsafeRawBufferPointer) throws(NICError) -> Bool {
        guard frame.count > 0 && frame.count <= PacketBufferPool.bufferSize else {
            throw .invalidArgument("frame length \(frame.count); a frame is 1...\(PacketBufferPool.bufferSize) bytes")
        }
        return try send(count: 1) { _, buffer in
            buffer.copyMemory(from: frame)
            return frame.count
        } == 1
    }

    /// Gives back the buffers of descriptors the device has finished, oldest first, stopping at
    /// the first without DD. Returns how many; throws if a free slot was marked done.
    @inlinable
    public mutating func reclaim() throws(NICError) -> Int {
        ring.serviceDevice()
        let before = stats.reclaimed
        if let failure = reclaimDone() { throw failure }
        return Int(stats.reclaimed &- before)
    }

    /// The reclaim loop. Returns a failure instead of throwing so `send` can still queue.
    @inlinable
    mutating func reclaimDone() -> NICError? {
        while outstanding > 0 {
            let descriptor = ring.descriptor(clean)
            // STA (byte 12); the acquire load of its dword is re-read on every pass.
            guard DMAWord.load32(descriptor + LegacyTransmitDescriptor.statusOffset) & 1 != 0 else { break }
            Barrier.dmaRead()
            // Clear the write-back so a done bit here later can only be a device writing a slot
            // it was not given.
            descriptor.storeBytes(of: 0, toByteOffset: LegacyTransmitDescriptor.statusOffset, as: UInt32.self)
            ring.pool.free(Int(ring.slotBuffer[clean]))
            ring.slotBuffer[clean] = -1
            clean = ring.slot(after: clean)
            outstanding &-= 1
            stats.reclaimed &+= 1
        }
        if ring.unpostedSlotIsDone(posted: outstanding, statusOffset: LegacyTransmitDescriptor.statusOffset) {
            stats.invalidDescriptors &+= 1
            return .unpostedDescriptorCompleted(kind: "transmit", queue: index, index: ring.tail)
        }
        return nil
    }

    /// Waits until every queued frame's descriptor is done (and reclaimed), in the given
    /// completion mode (VFIO's `WaitLoop`), or throws `transmitTimedOut`.
    @inlinable
    public mutating func flush(mode: CompletionMode = .poll, timeoutMilliseconds: Int) throws(NICError) {
        var wait = try ring.startWait(
            kind: "transmit", index: index, mode: mode, target: outstanding, timeoutMilliseconds: timeoutMilliseconds)
        defer { ring.endWait(wait, statistics: &stats.interrupts) }
        try runWait(&wait) { (queue: inout Self) throws(NICError) -> Int in
            try queue.reclaim()
        }
        if wait.timedOut {
            throw .transmitTimedOut(queue: index, outstanding: outstanding, milliseconds: timeoutMilliseconds)
        }
        // Nothing left to poll for: the next flush arms the cause before it sleeps.
        wait.phase.polling = false
    }
}

extension TransmitQueue: DescriptorRingQueue {
    @inlinable public var descriptorRing: DescriptorRing<Device> { _read { yield ring } }
}

extension E1000E {
    /// Creates transmit queue `index` (0 or 1, below `options.transmitQueues`): its ring and a
    /// pool of `ringEntries` 2 KiB buffers; the transmitter is enabled. One thread owns the result.
    public func makeTransmitQueue(_ index: Int = 0) throws(NICError) -> TransmitQueue<Device> {
        // MSI-X: TXQn on the queue's own vector; a shared vector: TXDW (both queues).
        let ring = try makeRing(
            kind: "transmit", index: index, available: options.transmitQueues, live: \.transmitQueueLive,
            registers: E1000ERegister.transmitQueue(index), cause: .transmitQueue(index),
            sharedCause: .transmitDescriptorWritten, source: index == 0 ? .transmitQueue0 : .transmitQueue1)
        let tarc = registers.read(E1000ERegister.transmitArbitration(index))
        registers.write(E1000ERegister.transmitArbitration(index), tarc | E1000ERegister.transmitArbitrationEnable)
        let queue = TransmitQueue(owner: self, index: index, ring: ring)
        state.withLock { s in
            setUnit(E1000ERegister.transmitControl, &s.transmitControl, enabled: true)
        }
        return queue
    }

    /// Called by a dropped transmit queue, after its outstanding descriptors were waited for:
    /// afterwards the device no longer fetches from the ring. The queue is taken out of
    /// arbitration (TARC.ENABLE clear: the 82574's per-queue transmit enable, which QEMU checks
    /// before each transmission; TXDCTL holds only thresholds) and, when it was the last queue,
    /// the transmitter stops; then the device gets up to `transmitStopMilliseconds` to reach the
    /// tail it was given (TDH == TDT) before the ring registers are cleared.
    func retireTransmitQueue(_ index: Int) {
        state.withLock { s in
            s.transmitQueueLive[index] = false
            let arbitration = E1000ERegister.transmitArbitration(index)
            registers.write(arbitration, registers.read(arbitration) & ~E1000ERegister.transmitArbitrationEnable)
            if !s.transmitQueueLive.contains(true) {
                setUnit(E1000ERegister.transmitControl, &s.transmitControl, enabled: false)
            }
            let ring = E1000ERegister.transmitQueue(index)
            _ = Self.poll(milliseconds: Self.transmitStopMilliseconds, device: device) {
                registers.read(ring.head) == registers.read(ring.tail)
            }
            clearRing(ring)
            _ = registers.read(E1000ERegister.deviceStatus)
        }
    }

    /// How long a dropped transmit queue waits for the device to reach its tail.
    static var transmitStopMilliseconds: Int { 10 }
}
