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
import NICEmulator
import NICWorkload
import NetFrames
import Testing
import VFIO

/// The traffic engines against the threaded emulated 82574L and its wire peer: a run asked to
/// stop ends promptly, says so, and its figures are those of what really crossed the wire.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)"))
struct WorkloadStopTests {
    /// A threaded emulated NIC brought up with interrupts, and the peer on its wire.
    static func withNIC<T>(queues: Int = 1, _ body: (E1000E<EmulatedE1000E>, EmulatedWirePeer) throws -> T) throws -> T {
        let device = try EmulatedE1000E(configuration: EmulatedE1000EConfiguration(mode: .threaded))
        defer { device.close() }
        var options = NICOptions()
        options.receiveQueues = queues
        options.transmitQueues = queues
        options.interrupts = true
        let nic = try E1000E(device: device, options: options)
        defer { nic.close() }
        return try body(nic, EmulatedWirePeer(device: device))
    }

    /// `shouldStop` turns true `afterMilliseconds` after the first call.
    static func stopAfter(milliseconds: UInt64) -> () -> Bool {
        var first: UInt64?
        return {
            let now = MonotonicClock.nanoseconds()
            if first == nil { first = now }
            return now &- first! >= milliseconds * 1_000_000
        }
    }

    @Test(arguments: [1, 2])
    func aStoppedGeneratorReportsWhatThePeerVerified(queues: Int) throws {
        let r = try Self.withNIC(queues: queues) { nic, peer in
            try PacketGenerator.run(
                nic, GeneratorSpec(destination: EmulatedWirePeer.mac, sourceIP: EmulatedWirePeer.ourIP, destinationIP: EmulatedWirePeer.ip,
                                   length: 60, count: nil, seconds: 60, batch: 32, mode: .poll, linkTimeoutMilliseconds: 5000),
                peer: peer, shouldStop: Self.stopAfter(milliseconds: 300))
        }
        #expect(r.stopped)
        #expect(r.rate.seconds < 10, "a 60 s run asked to stop after 0.3 s took \(r.rate.seconds) s")
        #expect(r.rate.packets > 0)
        #expect(r.deviceTransmitted == r.rate.packets, "every frame counted was flushed out of the NIC")
        #expect(r.peer.map { UInt64($0.framesVerified) } == r.rate.packets)
        #expect(r.problem == nil, "\(r.problem.map(String.init(describing:)) ?? "")")
    }

    @Test func aStoppedReceiverOwesNoFramesItWasPromised() throws {
        let r = try Self.withNIC { nic, peer in
            try FrameReceiver.run(
                nic, ReceiveSpec(count: 1_000_000, seconds: 60, source: nil, batch: 32, mode: .interrupt, linkTimeoutMilliseconds: 5000,
                                 peerFrames: 1_000_000),
                peer: peer, shouldStop: Self.stopAfter(milliseconds: 300))
        }
        #expect(r.stopped)
        #expect(r.rate.seconds < 10)
        #expect(r.total.frames > 0 && r.total.frames < 1_000_000)
        #expect(r.problem == nil, "a stopped run is not short of its count")
    }

    /// The peer has far more pings than fit in the run, so only the stop can end it: with 1000, a
    /// fast run answered them all in 0.58 s and ended by itself just as the 500 ms stop came due.
    @Test func aStoppedEchoStillAnsweredEveryPingItReceived() throws {
        let r = try Self.withNIC { nic, peer in
            try EchoResponder.run(
                nic, EchoSpec(ip: EmulatedWirePeer.ourIP, seconds: 60, replies: nil, reflect: false, batch: 32, mode: .hybrid,
                              linkTimeoutMilliseconds: 5000, peerPings: 1_000_000, peerPingIP: EmulatedWirePeer.ourIP),
                peer: peer, shouldStop: Self.stopAfter(milliseconds: 500))
        }
        #expect(r.stopped)
        #expect(r.rate.seconds < 10)
        #expect(r.total.icmpReplies == r.total.icmpRequests)
        #expect(r.peer?.arpResolved == true)
        #expect(r.problem == nil)
    }

    @Test func aRunNobodyStopsEndsByItsCountAndIsNotMarkedStopped() throws {
        let r = try Self.withNIC { nic, peer in
            try PacketGenerator.run(
                nic, GeneratorSpec(destination: .broadcast, sourceIP: EmulatedWirePeer.ourIP, destinationIP: EmulatedWirePeer.ip,
                                   length: 128, count: 500, seconds: 60, batch: 16, mode: .interrupt, linkTimeoutMilliseconds: 5000),
                peer: peer, shouldStop: { false })
        }
        #expect(!r.stopped)
        #expect(r.rate.packets == 500 && r.rate.bytes == 500 * 128)
        #expect(r.peer?.framesVerified == 500)
    }
}
