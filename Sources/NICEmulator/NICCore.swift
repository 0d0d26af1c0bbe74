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

import PCIEmulation
import Synchronization
import VFIO

/// The engine behind its lock, the wire side (inbox, outbox, cable) and the register window:
/// what the device object, its thread and the trap handler share.
final class NICCore: TrappedRegisterFile, LockedEngineWorker {
    let engine: TSanVisibleMutex<NICEngine>
    /// Frames from the wire waiting for the device (bounded by `inboxLimit`).
    let inbox = TSanVisibleMutex<[[UInt8]]>([])
    /// Frames sent while no cable leads anywhere, for tests to take.
    let outbox = TSanVisibleMutex<[TransmittedFrame]>([])
    let peer = TSanVisibleMutex<WeakCore>(WeakCore())
    let wireLoopback = Atomic<Bool>(false)
    let inboxDrops = Atomic<Int>(0)
    let inboxLimit: Int

    init(engine: consuming sending NICEngine, inboxLimit: Int) {
        self.engine = TSanVisibleMutex(engine)
        self.inboxLimit = inboxLimit
    }

    // MARK: - Trapped register accesses

    /// Registers are 32 bits wide; narrower accesses read the whole register (with its side
    /// effects) and take their bytes, a 64-bit access is two, low then high (QEMU's e1000e MMIO
    /// region has `impl.min_access_size = max_access_size = 4`).
    func trappedLoad(offset: Int, width: Int) -> UInt64 {
        let aligned = offset & ~3
        return withEngine { e -> UInt64 in
            switch width {
            case 8:
                let low = UInt64(e.readRegister(aligned))
                return low | UInt64(e.readRegister(aligned + 4)) << 32
            default:
                let word = UInt64(e.readRegister(aligned))
                return word >> UInt64(8 * (offset & 3))
            }
        }
    }

    func trappedStore(offset: Int, width: Int, value: UInt64) {
        let aligned = offset & ~3
        withEngine { e in
            if width == 8 {
                e.writeRegister(aligned, UInt32(truncatingIfNeeded: value))
                e.writeRegister(aligned + 4, UInt32(truncatingIfNeeded: value >> 32))
            } else {
                e.writeRegister(aligned, UInt32(truncatingIfNeeded: value << UInt64(8 * (offset & 3))))
            }
        }
    }

    // MARK: - The wire

    /// A frame arriving from the wire. False when the inbox is full (the frame is dropped).
    @discardableResult
    func deliver(_ frame: [UInt8]) -> Bool {
        let accepted = inbox.withLock { (queue: inout sending [[UInt8]]) -> Bool in
            guard queue.count < inboxLimit else { return false }
            queue.append(frame)
            return true
        }
        if !accepted { inboxDrops.add(1, ordering: .relaxed) }
        return accepted
    }

    /// One round of device work: transmissions asked for, then the frames waiting in the inbox,
    /// then what was sent goes to its destination. Loopback frames are received in the same call.
    func serviceOnce() -> DeviceWork {
        var worked = false
        var waiting = false
        for _ in 0..<2 {
            let frames = inbox.withLock { (queue: inout sending [[UInt8]]) -> sending [[UInt8]] in
                let taken = queue
                queue = []
                return taken
            }
            let (sent, didWork, isWaiting) = withEngine { e -> ([NICEngine.Outgoing], Bool, Bool) in
                var didWork = e.step()
                for frame in frames {
                    e.receive(frame)
                    didWork = true
                }
                let sent = e.outgoing
                e.outgoing = []
                return (sent, didWork, e.waitingOnThrottle)
            }
            worked = worked || didWork
            waiting = isWaiting
            guard !sent.isEmpty else { break }
            var looped = false
            for item in sent {
                if item.loopback || wireLoopback.load(ordering: .relaxed) {
                    deliver(item.frame.bytes)
                    looped = true
                } else if let other = peer.withLock({ $0.core }) {
                    other.deliver(item.frame.bytes)
                } else {
                    outbox.withLock { $0.append(item.frame) }
                }
            }
            if !looped { break }
        }
        return DeviceWork(worked: worked, waitingOnTime: waiting)
    }
}

/// A cable end: the other device, not kept alive by the cable.
struct WeakCore: @unchecked Sendable {
    weak var core: NICCore?
}
