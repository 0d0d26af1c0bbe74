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
import VFIO
import VFIOHost

/// `vfioctl net` as a user runs it, against the emulated 82574L. Its software peer on the wire
/// checks every frame our driver sends and sends the frames our driver must receive or answer,
/// so each figure asserted here was seen from the other side, not only counted by the sender.
/// (The same commands run against QEMU's e1000e and the guest kernel's NIC in scripts/hil/nic.sh.)

/// The top-level object of a `--json` run.
func jsonObject(_ r: Run) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: r.output) as? [String: Any]) ?? [:]
}

func number(_ object: [String: Any], _ key: String) -> Double? {
    (object[key] as? NSNumber)?.doubleValue
}

/// A sanitized test run builds vfioctl with the same sanitizer, so where the emulated e1000e
/// cannot run in this process (ThreadSanitizer, not x86-64) it cannot run in vfioctl either.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"),
       .enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)"))
struct NetCommandTests {
    static let modes = ["poll", "interrupt", "hybrid"]

    @Test func infoReportsTheMACLinkAndVectors() throws {
        let r = try vfioctl(["net", "info", "--json", "--emu-mac", "02:11:22:33:44:55", "--queues", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(o["mac"] as? String == "02:11:22:33:44:55")
        #expect(o["link_up"] as? Bool == true)
        #expect(number(o, "speed_mbps") == 1000)
        #expect(number(o, "interrupt_vectors") == 5)
        #expect(number(o, "receive_queues") == 2)
        #expect(o["extended_receive_descriptors"] as? Bool == true)
    }

    @Test(arguments: modes)
    func sendDeliversEveryFrameInOrder(mode: String) throws {
        let r = try vfioctl(["net", "send", "--json", "--count", "300", "--size", "200", "--dst-mac", "02:00:00:00:00:09", "--mode", mode])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(number(o, "sent") == 300)
        #expect(number(o, "device_tx_packets") == 300)
        #expect(number(o, "peer_verified") == 300)
        #expect(number(o, "peer_sequence_gaps") == 0)
        #expect(number(o, "peer_bad") == 0)
    }

    @Test(arguments: modes)
    func generatorReportsRatesAndThePeerSeesEveryPacket(mode: String) throws {
        let r = try vfioctl(["net", "gen", "--json", "--count", "3000", "--mode", mode])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(number(o, "packets") == 3000)
        #expect(number(o, "device_tx_packets") == 3000)
        #expect(number(o, "peer_verified") == 3000)
        #expect(number(o, "peer_sequence_gaps") == 0)
        #expect((number(o, "pps") ?? 0) > 0)
        #expect((number(o, "mbit_per_s") ?? 0) > 0)
        #expect((number(o, "cpu_ns_per_packet") ?? 0) > 0)
        if mode != "poll" { #expect((number(o, "interrupts") ?? 0) > 0, "no transmit interrupt in \(mode) mode") }
    }

    @Test func generatorSplitsTheCountOverTwoQueues() throws {
        let r = try vfioctl(["net", "gen", "--json", "--count", "2001", "--queues", "2", "--size", "128"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(number(o, "packets") == 2001)
        #expect(number(o, "peer_verified") == 2001)
        #expect(number(o, "peer_sequence_gaps") == 0)
        #expect(number(o, "bytes") == Double(2001 * 128))
    }

    @Test(arguments: modes)
    func recvCountsTheFramesThePeerSends(mode: String) throws {
        let r = try vfioctl(["net", "recv", "--json", "--count", "60", "--src-mac", "52:54:00:ee:ee:01", "--mode", mode])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect((number(o, "matched") ?? 0) >= 60)
        #expect((number(o, "icmp_echo_requests") ?? 0) >= 60)
        #expect((number(o, "device_rx_packets") ?? 0) >= 60)
        #expect(number(o, "malformed") == 0)
        if mode != "poll" { #expect((number(o, "interrupts") ?? 0) > 0, "no receive interrupt in \(mode) mode") }
    }

    @Test func recvWithTwoQueuesSpreadsFlowsAndMissesNone() throws {
        let r = try vfioctl(["net", "recv", "--json", "--queues", "2", "--count", "64"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(number(o, "frames") == 64)
        let perQueue = (o["per_queue"] as? [NSNumber])?.map(\.intValue) ?? []
        #expect(perQueue.count == 2)
        #expect(perQueue.reduce(0, +) == 64)
        #expect(perQueue.allSatisfy { $0 > 0 }, "RSS sent every flow to one queue: \(perQueue)")
    }

    @Test func recvShortOfItsCountFailsInOneLine() throws {
        let r = try vfioctl(["net", "recv", "--count", "10", "--emu-inject", "3", "--time", "1s"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("received 3 of 10 matching frames"), "\(r.stderr)")
        // One error line; a progress line drawn in the run's last moments is erased before it.
        #expect(r.stderr.components(separatedBy: "vfioctl:").count - 1 == 1, "\(r.stderr.debugDescription)")
        #expect(r.stderr.hasSuffix("\n") && r.stderrLines.last?.split(separator: "\r").last?.hasPrefix("vfioctl: ") == true, "\(r.stderr.debugDescription)")
    }

    @Test func recvPrintsEachFrame() throws {
        let r = try vfioctl(["net", "recv", "--time", "1s", "--emu-inject", "2", "--print"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.components(separatedBy: "ICMP echo request to 10.77.0.2").count - 1 == 2, "\(r.stdout)")
    }

    @Test(arguments: modes)
    func echoAnswersARPAndEveryPing(mode: String) throws {
        let r = try vfioctl(["net", "echo", "--json", "--ip", "10.77.0.2", "--emu-pings", "6", "--mode", mode])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(o["peer_arp_resolved"] as? Bool == true)
        #expect(number(o, "peer_pings_sent") == 6)
        #expect(number(o, "peer_pings_answered") == 6)
        #expect(number(o, "icmp_replies") == 6)
        #expect(r.stderr.contains("answering ARP and ICMP echo for 10.77.0.2"))
    }

    @Test func echoIgnoresPingsForAnotherAddress() throws {
        // The peer asks for 10.77.0.2; we answer only for .3: no ARP reply, so no ping goes out.
        let r = try vfioctl(["net", "echo", "--ip", "10.77.0.3", "--emu-ping-ip", "10.77.0.2", "--emu-pings", "2", "--time", "8s"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("ARP unanswered, 0 of 0 answered"), "\(r.stderr)")
    }

    @Test func echoReflectsFramesWithTwoQueues() throws {
        let r = try vfioctl(["net", "echo", "--json", "--ip", "10.77.0.2", "--reflect", "--emu-pings", "150", "--queues", "2", "--mode", "hybrid"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = jsonObject(r)
        #expect(number(o, "peer_reflected") == 150)
        #expect(number(o, "reflected") == 150)
    }

    @Test func badNetOptionsAreOneLineEach() throws {
        for (arguments, needle) in [
            (["net", "info", "--queues", "3"], "the 82574L has 1 or 2"),
            (["net", "info", "--ring", "100"], "use a power of two from 8 to 4096"),
            (["net", "send", "--mode", "fast"], "use poll, interrupt or hybrid"),
            (["net", "send", "--size", "20"], "a frame is 60...1514 bytes"),
            (["net", "send", "--dst-mac", "02:00:00:00:00"], "is not a MAC address"),
            (["net", "send", "--count", "0"], "--count must be greater than 0"),
            (["net", "gen", "--time", "soon"], "is not a duration"),
            (["net", "gen", "--batch", "0"], "--batch 0"),
            (["net", "gen", "--spin", "often"], "--spin 'often' is not a spin policy"),
            (["net", "gen", "--mode", "interrupt", "--spin", "pause"], "--spin applies to poll mode only"),
            (["net", "recv", "--src-mac", "xx"], "is not a MAC address"),
            (["net", "echo", "--ip", "10.77.0"], "is not an IPv4 address"),
            (["net", "echo", "--ip", "10.77.0.2", "--replies", "0"], "--replies must be greater than 0"),
            (["net", "info", "--emu-mac", "01:00:5e:00:00:01"], "not a unicast station address"),
        ] {
            let r = try vfioctl(arguments)
            #expect(r.status == 1, "\(arguments): \(r.stderr)")
            #expect(r.stderrLines.count == 1, "\(arguments): \(r.stderr)")
            #expect(r.stderr.hasPrefix("vfioctl: "), "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(needle), "\(arguments): \(r.stderr)")
        }
    }

    /// The frame size is checked where every other value is, not by ArgumentParser's `validate()`,
    /// which printed `Error: ...` instead of the tool's `vfioctl: ...`.
    @Test func aFrameTooShortIsRefusedWithTheToolsErrorPrefix() throws {
        let r = try vfioctl(["net", "send", "--size", "10"])
        #expect(r.status == 1)
        #expect(r.stderrLines == ["vfioctl: --size 10: a frame is 60...1514 bytes without the FCS"], "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    /// 10000 frames take milliseconds: the text says how many, with a rate that agrees with the
    /// count and the time (it said "in 0.0 s").
    @Test func aShortGeneratorRunReportsItsDurationInMilliseconds() throws {
        let r = try vfioctl(["net", "gen", "--count", "10000"])
        #expect(r.status == 0, "\(r.stderr)")
        let line = r.stdout.split(separator: "\n").first { $0.contains("10000 packets in ") }.map(String.init) ?? ""
        let words = line.split(separator: " ")
        guard let at = words.firstIndex(of: "in"), at + 3 < words.count, let value = Double(words[at + 1]) else {
            Issue.record("no duration in \(r.stdout)")
            return
        }
        let unit = words[at + 2].trimmingCharacters(in: CharacterSet(charactersIn: ":"))
        let seconds = value * (unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "µs" ? 1e-6 : .nan)
        #expect(value > 0, "\(line)")
        #expect(unit != "s" || value >= 1, "a run under a second is given in ms or µs: \(line)")
        let pps = Double(words[at + 3]) ?? 0
        #expect(abs(pps - 10000 / seconds) <= 0.06 * pps, "\(line): the rate does not match 10000 packets in \(seconds) s")
    }

    /// This machine's own devices (virtio NICs and disks) are not vfio-pci's: `net` refuses each
    /// in one line and binds nothing.
    @Test func hostDevicesAreRefusedAndLeftBound() throws {
        let discovery = PCIDiscovery(lookUpNames: false)
        let functions = try discovery.functions()
        let before = functions.map { discovery.driver(of: $0.address) }
        let nics = functions.filter { $0.classCode >> 16 == 0x02 && $0.driver != "vfio-pci" }
        for f in (nics.isEmpty ? Array(functions.prefix(1)) : Array(nics.prefix(2))) where f.driver != "vfio-pci" {
            let r = try vfioctl(["net", "info", "--device", f.address.description])
            #expect(r.status == 1, "\(f.address)")
            #expect(r.stderrLines.count == 1, "\(r.stderr)")
            #expect(r.stderr.contains("\(f.address)") && (r.stderr.contains("vfioctl bind") || r.stderr.contains("IOMMU")), "\(r.stderr)")
        }
        #expect(functions.map { discovery.driver(of: $0.address) } == before)
    }
}
