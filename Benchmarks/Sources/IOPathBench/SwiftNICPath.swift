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

import NIC
import NullNIC
import VFIO

/// The Swift NIC driver's packet path over the null 82574L: one receive and one transmit queue,
/// batches of 32, and the measured loops.
///
/// A receive loop iteration is `ReceiveQueue.receive(batch: 32)`: the device's `service()`
/// (which writes back every posted descriptor), then per frame the DD check, `dma_rmb`, length
/// and error checks, the caller's closure, the buffer back to the pool; then one refill of 32
/// descriptors with one `wmb` and RDT store. A transmit iteration is `TransmitQueue.send(count:
/// 32)`: the device's `service()`, the reclaim of the previous batch, 32 frames filled in place
/// (4 bytes written each), 32 descriptors, one `wmb` and TDT store. The device's share is kept
/// apart in instruction counts by attributing `NullE1000E.service()` to it (scripts/bench.sh).
///
/// `@unchecked Sendable`: used by the one thread that runs the benchmark.
public final class SwiftNICPath: @unchecked Sendable {
    public let device: NullE1000E
    public let nic: E1000E<NullE1000E>
    var receiveQueue: ReceiveQueue<NullE1000E>
    var transmitQueue: TransmitQueue<NullE1000E>

    public init(ringEntries: Int = 512) throws(NICError) {
        device = NullE1000E()
        var options = NICOptions()
        options.interrupts = false
        options.ringEntries = ringEntries
        nic = try E1000E(device: device, options: options)
        receiveQueue = try nic.makeReceiveQueue()
        transmitQueue = try nic.makeTransmitQueue()
    }

    /// Receives `count` frames (a multiple of 32) in batches of 32. Returns the bytes received
    /// plus the RSS hashes and types (0 with one queue), which must be `count` times the null
    /// device's frame length, or `.max` if anything failed.
    public func receive(_ count: Int) -> UInt64 { swiftNICPathReceive(&receiveQueue, count) }

    /// Sends `count` frames (a multiple of 32) in batches of 32. Returns how many were queued,
    /// or `.max` if anything failed.
    public func transmit(_ count: Int) -> UInt64 { swiftNICPathTransmit(&transmitQueue, count) }

    public var receiveStatistics: ReceiveQueueStatistics { receiveQueue.statistics }
    public var transmitStatistics: TransmitQueueStatistics { transmitQueue.statistics }
}

@inline(never) @_silgen_name("swift_nicpath_rx")
func swiftNICPathReceive(_ rx: inout ReceiveQueue<NullE1000E>, _ count: Int) -> UInt64 {
    var received = 0
    var bytes: UInt64 = 0
    while received < count {
        do throws(NICError) {
            let n = try rx.receive(batch: 32) { packet in
                bytes &+= UInt64(truncatingIfNeeded: packet.bytes.count) &+ UInt64(packet.rssHash) &+ UInt64(packet.rssType)
            }
            if n == 0 { return .max }
            received &+= n
        } catch {
            return .max
        }
    }
    return bytes
}

@inline(never) @_silgen_name("swift_nicpath_tx")
func swiftNICPathTransmit(_ tx: inout TransmitQueue<NullE1000E>, _ count: Int) -> UInt64 {
    var sent = 0
    while sent < count {
        do throws(NICError) {
            let n = try tx.send(count: 32) { i, buffer in
                buffer.storeBytes(of: UInt32(truncatingIfNeeded: i), as: UInt32.self)
                return 60
            }
            if n == 0 { return .max }
            sent &+= n
        } catch {
            return .max
        }
    }
    return UInt64(sent)
}
