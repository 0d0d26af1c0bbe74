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

/// Which MSI-X vector each I/O queue's CQ interrupts on, and the vectors several CQs share.
///
/// Vector 0 belongs to the admin queue. With `n` vectors enabled, I/O queue `q` gets vector
/// `1 + (q - 1) mod (n - 1)`: its own while there are enough (`q`, as before), else shared
/// round-robin, as the kernel's nvme driver spreads queues over the vectors it was granted
/// (QEMU's `msix_qsize=2` with 4 queue pairs: all four on vector 1). A shared vector's waiters
/// hand each message on to the others (`SharedInterruptVector`).
extension Controller {
    /// The vector I/O queue `id`'s CQ interrupts on, or nil when no vector is left for I/O.
    public func interruptVector(forQueue id: UInt16) -> Int? {
        Self.interruptVector(forQueue: id, vectors: interruptVectors)
    }

    static func interruptVector(forQueue id: UInt16, vectors: Int) -> Int? {
        let ioVectors = vectors - 1
        guard id >= 1, ioVectors >= 1 else { return nil }
        return 1 + (Int(id) - 1) % ioVectors
    }

    /// One `SharedInterruptVector` for each vector that more than one of the `queuePairs` I/O
    /// queues would use; the others stay plain (a queue's own eventfd, no hand-on).
    static func sharedVectors(device: Device, vectors: Int, queuePairs: Int) -> [Int: SharedInterruptVector] {
        guard queuePairs >= 1 else { return [:] }
        var users: [Int: Int] = [:]
        for id in 1...queuePairs {
            if let vector = interruptVector(forQueue: UInt16(id), vectors: vectors) { users[vector, default: 0] += 1 }
        }
        var shared: [Int: SharedInterruptVector] = [:]
        for (vector, count) in users where count > 1 {
            guard let fd = device.interruptEventFD(vector: vector) else { continue }
            shared[vector] = SharedInterruptVector(vector: vector, eventFD: fd) { [device] masked in
                device.setInterruptMasked(vector: vector, masked)
            }
        }
        return shared
    }
}
