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

/// What the receive and the transmit queue share (82574 datasheet 7.1, 7.2): the descriptor ring
/// in DMA memory, the tail the driver owns (RDT/TDT), the pool buffer each slot carries, the tail
/// doorbell and the queue's interrupt cause. One thread owns it, inside its queue.
///
/// Each slot remembers its buffer, so the device's write-back is never trusted for an address.
/// The slot table is freed, and the ring unmapped, only after the owning queue turned the ring
/// off in the device (its `deinit` runs before this one's).
///
/// Public only as the type of `DescriptorRingQueue.ring`: it has no public operations.
public struct DescriptorRing<Device: PCIFunction>: ~Copyable {
    /// The descriptors, `entries` of `descriptorSize` bytes.
    @usableFromInline let base: UnsafeMutableRawPointer
    /// A power of two, so slot arithmetic is a mask.
    @usableFromInline let entries: Int
    /// The first slot not handed to the device: the value the tail register was given last.
    @usableFromInline var tail = 0
    /// Buffer index per slot, -1 when the slot carries none.
    @usableFromInline let slotBuffer: UnsafeMutablePointer<Int32>
    @usableFromInline var pool: PacketBufferPool
    @usableFromInline let doorbell: Doorbell
    @usableFromInline var interrupt: QueueInterrupt
    /// The device, unretained: the queue's `owner` keeps it alive, and a strong or `unowned`
    /// reference would cost a retain/release around every `service()` call.
    @usableFromInline let deviceRef: Unmanaged<Device>
    let memory: DMABuffer

    init(device: Device, memory: consuming DMABuffer, pool: consuming PacketBufferPool, entries: Int, doorbell: Doorbell,
         interrupt: QueueInterrupt) {
        self.deviceRef = Unmanaged.passUnretained(device)
        self.entries = entries
        self.base = memory.address
        self.memory = memory
        self.pool = pool
        self.doorbell = doorbell
        self.interrupt = interrupt
        self.slotBuffer = .allocate(capacity: entries)
        self.slotBuffer.initialize(repeating: -1, count: entries)
    }

    // @inlinable: the queues' `ring` setters are inlinable code; Swift 6.3's -O inliner asserts
    // ("inlining a resilient function into a fragile function") on a deinit that is not.
    @inlinable deinit { slotBuffer.deallocate() }

    /// Every 82574 descriptor format (legacy and extended receive, legacy transmit) is 16 bytes.
    @inlinable static var descriptorSize: Int { LegacyTransmitDescriptor.size }

    @usableFromInline var device: Device { deviceRef.takeUnretainedValue() }

    /// The device's progress hook (`PCIFunction.service()`), through the unretained reference.
    @inlinable @inline(__always)
    func serviceDevice() { deviceRef._withUnsafeGuaranteedRef { $0.service() } }

    /// The slot after `slot`, wrapping.
    @inlinable @inline(__always)
    func slot(after slot: Int) -> Int { (slot &+ 1) & (entries &- 1) }

    /// The descriptor of `slot`.
    @inlinable @inline(__always)
    func descriptor(_ slot: Int) -> UnsafeMutableRawPointer { base + slot &* Self.descriptorSize }

    /// Gives `buffer` to the tail slot and moves the tail on (not yet published).
    @inlinable @inline(__always)
    mutating func post(_ buffer: Int) {
        slotBuffer[tail] = Int32(truncatingIfNeeded: buffer)
        tail = slot(after: tail)
    }

    /// Publishes the descriptors written so far: `wmb()`, then one tail store (Linux e1000e:
    /// `wmb(); writel(i, ring->tail)`).
    @inlinable @inline(__always)
    func publishTail() {
        Barrier.write()
        doorbell.ring(UInt32(truncatingIfNeeded: tail))
    }

    /// Whether the device marked the tail slot, which it was never given, done (its DD bit in the
    /// status dword at `statusOffset`); if so that dword is cleared so the next look does not
    /// see it again. `posted` is the number of slots the device holds.
    @inlinable
    func unpostedSlotIsDone(posted: Int, statusOffset: Int) -> Bool {
        guard posted < entries else { return false }
        let status = descriptor(tail) + statusOffset
        guard DMAWord.load32(status) & 1 != 0 else { return false }
        status.storeBytes(of: 0, as: UInt32.self)
        return true
    }
}

extension E1000E {
    /// The part of making a queue that receive and transmit share: claims queue `index` of
    /// `kind` in `live`, allocates its ring and a pool of `ringEntries` 2 KiB buffers, programs
    /// the ring registers (base, length, head and tail 0, descriptor granularity, write-back
    /// threshold 1) and picks the queue's cause and eventfd: with MSI-X `cause` on the queue's
    /// own vector (`source`), else `sharedCause` on the one MSI/INTx vector.
    func makeRing(
        kind: String, index: Int, available: Int, live: WritableKeyPath<State, [Bool]>,
        registers ring: DescriptorRingRegisters, cause: InterruptCause, sharedCause: InterruptCause,
        source: InterruptVectorAllocation.Source
    ) throws(NICError) -> DescriptorRing<Device> {
        guard index >= 0 && index < available else {
            throw .queueUnavailable(kind: kind, index: index, reason: "the NIC was brought up with \(available) \(kind) queue(s)")
        }
        try state.withLock { (s) throws(NICError) in
            guard !s.closed else { throw .queueUnavailable(kind: kind, index: index, reason: "the NIC is closed") }
            guard !s[keyPath: live][index] else { throw .queueUnavailable(kind: kind, index: index, reason: "it already exists") }
            s[keyPath: live][index] = true
        }
        let entries = options.ringEntries
        let memory: DMABuffer
        do {
            memory = try device.dma.allocate(length: entries * DescriptorRing<Device>.descriptorSize, alignment: 4096)
        } catch {
            state.withLock { $0[keyPath: live][index] = false }
            throw .vfio(error)
        }
        let pool: PacketBufferPool
        do {
            pool = try PacketBufferPool(allocator: device.dma, count: entries)
        } catch {
            state.withLock { $0[keyPath: live][index] = false }
            throw .vfio(error)
        }
        let iova = memory.iova.rawValue
        registers.write(ring.baseAddressLow, UInt32(truncatingIfNeeded: iova))
        registers.write(ring.baseAddressHigh, UInt32(truncatingIfNeeded: iova >> 32))
        registers.write(ring.length, UInt32(entries * DescriptorRing<Device>.descriptorSize))
        registers.write(ring.head, 0)
        registers.write(ring.tail, 0)
        var control = DescriptorQueueControl(rawValue: 0)
        control.descriptorGranularity = true
        control.writeBackThreshold = 1
        registers.write(ring.control, control)
        let eventFD: Int32? = switch interruptKind {
        case .msix: device.interruptEventFD(vector: Self.vector(for: source))
        case .msi, .intx: device.interruptEventFD(vector: 0)
        case nil: nil
        }
        let shared = interruptKind != nil && interruptKind != .msix
        let interrupt = QueueInterrupt(cause: shared ? sharedCause : cause, eventFD: eventFD, registers: registers,
                                       shared: shared, level: interruptKind == .intx)
        return DescriptorRing(device: device, memory: memory, pool: pool, entries: entries,
                              doorbell: registers.doorbell(at: ring.tail.offset), interrupt: interrupt)
    }

    /// Sets EN in RCTL or TCTL, in the copy `State` keeps (these registers are written whole,
    /// so the driver remembers what it wrote) and in the device: how a new queue turns its unit
    /// on and the last transmit queue turns it off.
    func setUnit<Control: UnitEnableControl>(_ register: Register<Control>, _ kept: inout Control, enabled: Bool) {
        kept.enable = enabled
        registers.write(register, kept)
    }

    /// Clears a dropped queue's ring registers, once the device no longer uses the ring.
    func clearRing(_ ring: DescriptorRingRegisters) {
        registers.write(ring.length, 0)
        registers.write(ring.baseAddressLow, 0)
        registers.write(ring.baseAddressHigh, 0)
        registers.write(ring.head, 0)
        registers.write(ring.tail, 0)
    }
}

/// RCTL and TCTL: the two unit control registers whose EN bit (bit 1, datasheet 10.2.5.1 and
/// 10.2.6.1) starts and stops the receive or transmit unit.
protocol UnitEnableControl: RegisterValue {
    var enable: Bool { get set }
}

extension ReceiveControl: UnitEnableControl {}
extension TransmitControl: UnitEnableControl {}
