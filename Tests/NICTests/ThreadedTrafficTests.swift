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

import Dispatch
import NIC
import NICEmulator
import Synchronization
import Testing
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// Longer tests with the device on its own thread and each queue on its own thread, as a real
/// application runs them. Seconds, not milliseconds; separate from the stepped unit tests.
@Suite(.serialized, .enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct ThreadedTrafficTests {
    @Test(arguments: [CompletionMode.poll, .hybrid(idlePolls: 500)])
    func queuesOnTheirOwnThreadsMoveThousandsOfFramesIntact(_ mode: CompletionMode) throws {
        var options = NICOptions()
        options.ringEntries = 64
        let rig = try Rig(options, configuration: EmulatedE1000EConfiguration(mode: .threaded))
        defer { rig.device.close() }
        rig.device.loopback = true
        let nic = rig.nic
        let mac = nic.macAddress
        let total: UInt32 = 5000
        let failures = Mutex<[String]>([])
        let received = Atomic<UInt32>(0)
        let receiverReady = Atomic<Bool>(false)
        let receiver = QueueThread {
            do {
                var rx = try nic.makeReceiveQueue()
                receiverReady.store(true, ordering: .releasing)
                var expected: UInt32 = 0
                let deadline = DispatchTime.now() + .seconds(30)
                while expected < total && DispatchTime.now() < deadline {
                    _ = try rx.receive(batch: 32, mode: mode, timeoutMilliseconds: 100) { p in
                        if Frames.sequence(of: p.bytes) != expected || !Frames.isIntact(p.bytes, to: mac, length: 64 + Int(expected % 64)) {
                            failures.withLock { $0.append("frame \(expected) arrived wrong or out of order") }
                        }
                        expected += 1
                    }
                    received.store(expected, ordering: .releasing)
                }
            } catch {
                failures.withLock { $0.append("receive: \(error)") }
            }
        }
        // The receiver has its ring before the first frame is sent (the loopback drops frames
        // that find the receiver off).
        let ready = DispatchTime.now() + .seconds(10)
        while !receiverReady.load(ordering: .acquiring) && DispatchTime.now() < ready { _ = sched_yield() }
        let transmitter = QueueThread {
            do {
                var tx = try nic.makeTransmitQueue()
                var next: UInt32 = 0
                let deadline = DispatchTime.now() + .seconds(30)
                while next < total && DispatchTime.now() < deadline {
                    // Stay within what the receive ring can hold: the loopback drops on overrun.
                    if next &- received.load(ordering: .acquiring) > 32 {
                        _ = try tx.reclaim()
                        continue
                    }
                    next += UInt32(try tx.send(count: Int(min(16, total - next))) { i, b in
                        Frames.fill(b, to: mac, sequence: next + UInt32(i), length: 64 + Int((next + UInt32(i)) % 64))
                    })
                }
                try tx.flush(mode: .poll, timeoutMilliseconds: 5000)
            } catch {
                failures.withLock { $0.append("transmit: \(error)") }
            }
        }
        receiver.join()
        transmitter.join()
        #expect(failures.withLock { $0 } == [])
        #expect(received.load(ordering: .acquiring) == total)
        let stats = nic.statistics()
        #expect(stats.goodPacketsReceived == UInt64(total))
        #expect(stats.missedPackets == 0)
    }

    @Test func twoReceiveQueuesOnTheirOwnThreadsShareTheFlowsByRSS() throws {
        var options = NICOptions()
        options.receiveQueues = 2
        options.ringEntries = 128
        let rig = try Rig(options, configuration: EmulatedE1000EConfiguration(mode: .threaded))
        defer { rig.device.close() }
        let nic = rig.nic
        let mac = nic.macAddress
        let total = 2000
        let received = Atomic<Int>(0)
        let perQueue = Mutex<[Int]>([0, 0])
        let ready = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let threads = (0..<2).map { q in
            QueueThread {
                do {
                    var rx = try nic.makeReceiveQueue(q)
                    ready.add(1, ordering: .releasing)
                    let deadline = DispatchTime.now() + .seconds(30)
                    while received.load(ordering: .acquiring) < total && DispatchTime.now() < deadline {
                        let n = try rx.receive(batch: 32, mode: .hybrid(idlePolls: 200), timeoutMilliseconds: 20) { p in
                            // A flow's source port picks its queue; the frame must be the TCP frame we built.
                            let port = UInt16(p.bytes[34]) << 8 | UInt16(p.bytes[35])
                            if Array(p.bytes) != Frames.tcp(to: mac, sourcePort: port, destinationPort: 80) || p.queue != q {
                                failures.withLock { $0.append("queue \(q): frame for port \(port) corrupted") }
                            }
                        }
                        perQueue.withLock { $0[q] += n }
                        received.add(n, ordering: .releasing)
                    }
                } catch {
                    failures.withLock { $0.append("queue \(q): \(error)") }
                }
            }
        }
        let start = DispatchTime.now() + .seconds(10)
        while ready.load(ordering: .acquiring) < 2 && DispatchTime.now() < start { _ = sched_yield() }
        var injected = 0
        let deadline = DispatchTime.now() + .seconds(30)
        while injected < total && DispatchTime.now() < deadline {
            // Keep what is in flight below what the rings hold, so nothing is dropped.
            if injected - received.load(ordering: .acquiring) >= 96 { _ = sched_yield(); continue }
            rig.device.inject(frame: Frames.tcp(to: mac, sourcePort: UInt16(1024 + injected % 512), destinationPort: 80))
            injected += 1
        }
        for t in threads { t.join() }
        #expect(failures.withLock { $0 } == [])
        #expect(received.load(ordering: .acquiring) == total)
        let counts = perQueue.withLock { $0 }
        #expect(counts[0] > total / 8 && counts[1] > total / 8)
        #expect(nic.statistics().missedPackets == 0)
    }
}
