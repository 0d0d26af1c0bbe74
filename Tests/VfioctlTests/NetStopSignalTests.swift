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

import Foundation
import NICEmulator
import Testing

/// SIGINT (Ctrl-C) and SIGTERM end a long `net gen`, `net recv` or `net echo` cleanly: the
/// queues stop, the NIC is closed, the figures so far are printed (text or --json) after the
/// progress line is erased, and the exit status is 128 + the signal. The process used to die at
/// once with no output.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"),
       .enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)"))
struct NetStopSignalTests {
    @Test func sigintDuringATimedGeneratorPrintsTheFiguresSoFarAndExits130() throws {
        let r = try vfioctl(["net", "gen", "--time", "20s"], send: DelayedSignal(signal: SIGINT, afterSeconds: 3))
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stdout.contains("  stopped by SIGINT after "), "\(r.stdout)")
        #expect(r.stdout.contains(" pps"), "\(r.stdout)")
        // The peer saw every frame the generator counted: the queues were flushed before the NIC closed.
        let peer = r.stdout.split(separator: "\n").first { $0.hasPrefix("  peer: received ") }.map(String.init) ?? ""
        let words = peer.split(separator: " ")
        #expect(words.count > 4 && words[2] == words[4], "\(r.stdout)")
        // The progress line was drawn (the run lasted seconds) and erased; no error.
        #expect(r.stderr.hasPrefix("\r[") && r.stderr.contains(" frames sent, "), "\(r.stderr.debugDescription)")
        #expect(r.stderr.hasSuffix("\r") && r.stderr.split(separator: "\r").last?.allSatisfy { $0 == " " } == true, "\(r.stderr.debugDescription)")
        #expect(!r.stderr.contains("vfioctl:"), "\(r.stderr.debugDescription)")
    }

    @Test(arguments: [(SIGINT, "SIGINT", Int32(130)), (SIGTERM, "SIGTERM", Int32(143))])
    func aSignalDuringAJSONGeneratorPrintsTheFiguresSoFar(signal: Int32, name: String, status: Int32) throws {
        let r = try vfioctl(["net", "gen", "--json", "--time", "20s", "--mode", "interrupt"],
                            send: DelayedSignal(signal: signal, afterSeconds: 3))
        #expect(r.status == status, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(o["ended_by"] as? String == name, "\(r.stdout)")
        let packets = number(o, "packets") ?? 0
        #expect(packets > 0)
        #expect(number(o, "peer_verified") == packets)
        #expect(number(o, "device_tx_packets") == packets)
        let seconds = number(o, "seconds") ?? 0
        #expect(seconds > 0 && seconds < 15, "\(seconds)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }

    @Test func sigtermDuringATimedReceiveReportsWhatArrived() throws {
        let r = try vfioctl(["net", "recv", "--json", "--time", "20s", "--emu-inject", "40"],
                            send: DelayedSignal(signal: SIGTERM, afterSeconds: 3))
        #expect(r.status == 143, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(o["ended_by"] as? String == "SIGTERM", "\(r.stdout)")
        #expect((number(o, "frames") ?? 0) >= 40)
        #expect((number(o, "seconds") ?? 99) < 15)
        #expect(!r.stderr.contains("vfioctl:"), "\(r.stderr)")
    }

    /// The emulated peer pings one request at a time (each waits for its reply, 100 µs sleeps
    /// between looks), so 65535 of them outlast the 3 s before the signal.
    @Test func sigintDuringEchoReportsTheAnswersSoFar() throws {
        let r = try vfioctl(["net", "echo", "--ip", "10.77.0.2", "--emu-pings", "65535", "--time", "20s"],
                            send: DelayedSignal(signal: SIGINT, afterSeconds: 3))
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stdout.contains("  stopped by SIGINT after "), "\(r.stdout)")
        // "  peer: ARP resolved 10.77.0.2 to ..., A of S pings answered": all but the one in flight.
        let peer = r.stdout.split(separator: "\n").first { $0.hasPrefix("  peer: ARP resolved") }.map(String.init) ?? ""
        let words = peer.split(separator: " ")
        let answered = words.count > 3 ? Int(words[words.count - 5]) ?? 0 : 0
        let sent = words.count > 3 ? Int(words[words.count - 3]) ?? 0 : 0
        #expect(answered > 0 && answered >= sent - 1 && sent < 65535, "\(r.stdout)")
        #expect(r.stderr.contains("frames received, "), "\(r.stderr.debugDescription)")
        #expect(!r.stderr.contains("vfioctl:"), "\(r.stderr)")
    }

    /// A run that ends by its own count is not reported as stopped.
    @Test func aCountedRunEndsByItsCount() throws {
        let r = try vfioctl(["net", "gen", "--json", "--count", "500"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(jsonObject(r)["ended_by"] as? String == "count", "\(r.stdout)")
    }
}
