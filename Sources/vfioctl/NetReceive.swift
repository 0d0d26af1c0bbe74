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

import ArgumentParser
import NIC
import NICWorkload
import NetFrames
import VFIO

/// `vfioctl net recv`: count (and optionally print) the frames that arrive.
struct NetRecv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recv", abstract: "Receive frames for a time or until a count; print or count them by kind.")
    @OptionGroup var target: NetDeviceOptions
    @Option(help: "Stop after this many matching frames (see --src-mac); default: run for --time.") var count: Int?
    @Option(help: "Longest run time (e.g. 10s).") var time: String = "10s"
    @Option(name: .customLong("src-mac"), help: "Count as matching only frames from this MAC.") var sourceMAC: String?
    @Option(help: "Frames per receive call.") var batch: Int = 32
    @Flag(name: .customLong("print"), help: "Print one line per frame (and its first 64 bytes with --hex).") var printFrames = false
    @Flag(help: "With --print, dump each frame's first 64 bytes.") var hex = false
    @Option(name: .customLong("emu-inject"), help: "Emulated device: frames the peer sends us (default: --count, else 100).") var emulatedInject: Int?
    @Flag(help: "Print JSON.") var json = false

    struct Job: NICJob {
        let spec: ReceiveSpec
        let json: Bool

        func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
            printError("receiving on \(nic.device.name) (\(nic.macAddress)), mode \(spec.mode), \(nic.options.receiveQueues) queue(s)")
            // --print writes a line per frame to stdout: no progress line between them.
            let control = NetRunControl(showsProgress: !json && spec.onFrame == nil, noun: "received")
            defer { control.endProgress() }  // also when the run throws
            let r = try netRun(linkTimeout: spec.linkTimeoutMilliseconds) { () throws(NICWorkloadError) in
                try FrameReceiver.run(nic, spec, peer: peer, shouldStop: control.shouldStop, progress: control.progress)
            }
            control.endProgress()
            let total = r.total
            let queues = r.perQueue.count
            let endedBy = control.endedBy(stopped: r.stopped, removed: r.removed, otherwise: spec.count.map { total.matched >= UInt64($0) } == true ? "count" : "time")
            if json {
                var fields: [(String, JSON)] = [("device", .string(nic.device.name)), ("mode", .string(spec.mode.description)), ("queues", .int(queues))]
                fields += [
                    ("frames", .uint(total.frames)), ("bytes", .uint(total.bytes)), ("matched", .uint(total.matched)), ("broadcast", .uint(total.broadcast)),
                    ("arp", .uint(total.arp)), ("icmp_echo_requests", .uint(total.icmpEchoRequests)), ("icmp_other", .uint(total.icmpOther)),
                    ("udp", .uint(total.udp)), ("other_ipv4", .uint(total.otherIPv4)), ("other", .uint(total.other)), ("malformed", .uint(total.malformed)),
                    ("interrupts", .uint(total.interrupts)),
                    ("per_queue", .array(r.perQueue.map { .uint($0.frames) })), ("seconds", .double(round6(r.rate.seconds))),
                    ("pps", .double(r.rate.packetsPerSecond.rounded())), ("cpu_ns_per_packet", .double(round3(r.rate.cpuNanosecondsPerPacket))),
                    ("device_rx_packets", .uint(r.deviceReceived)), ("device_missed", .uint(r.deviceMissed)),
                    ("ended_by", .string(endedBy)),
                ]
                fields += peerFields(r.peer)
                print(JSON.object(fields).render())
            } else {
                print("received \(total.frames) frames (\(total.bytes) bytes) in \(formatDuration(r.rate.seconds)) on \(nic.device.name), mode \(spec.mode), \(queues) queue(s)\(queues > 1 ? " (per queue: \(r.perQueue.map { String($0.frames) }.joined(separator: ", ")))" : "")")
                if r.stopped { print(control.stoppedLine(r.rate.seconds)) }
                if let source = spec.source { print("  from \(source): \(total.matched)") }
                print("  ARP \(total.arp), ICMP echo requests \(total.icmpEchoRequests), other ICMP \(total.icmpOther), UDP \(total.udp), other IPv4 \(total.otherIPv4), other \(total.other), malformed \(total.malformed)")
                // A removed NIC's counters cannot be read.
                print("  \(r.removed ? "" : "NIC counted \(r.deviceReceived) received (GPRC), \(r.deviceMissed) missed (MPC); ")\(total.interrupts) interrupts")
                if let p = r.peer { print("  peer: sent \(p.injected) (\(p.injectRefused) refused at the wire)") }
            }
            if r.removed { throw control.removal(of: nic.device.name, after: total.frames, "received", r.rate.seconds) }
            if let problem = r.problem { throw problem }
        }
    }

    func run() throws {
        try reportingErrors {
            if let count, count <= 0 { throw ValidationFailure("--count must be greater than 0") }
            guard batch >= 1 && batch <= 512 else { throw ValidationFailure("--batch \(batch): use 1...512") }
            let hex = self.hex
            let printFrame: @Sendable (UnsafeRawBufferPointer, FrameKind, Int) -> Void = { f, kind, queue in
                print(describe(f, kind: kind, queue: queue) + (hex ? "\n" + hexDump(f, count: 64) : ""))
            }
            let source = try sourceMAC.map { try parseMAC($0, what: "--src-mac") }
            let spec = ReceiveSpec(
                count: count, seconds: try parseDuration(time, what: "--time"), source: source, batch: batch,
                mode: try target.completionMode(), linkTimeoutMilliseconds: try target.linkTimeoutMilliseconds(),
                peerFrames: emulatedInject ?? count ?? 100, onFrame: printFrames ? printFrame : nil)
            try StopSignal.install()
            try target.withNIC(Job(spec: spec, json: json))
        }
    }
}

/// One line for `net recv --print`: queue, addresses, EtherType, length, what it is.
func describe(_ f: UnsafeRawBufferPointer, kind: FrameKind, queue: Int) -> String {
    guard f.count >= Ethernet.headerLength else { return "q\(queue) runt frame of \(f.count) bytes" }
    let what: String
    switch kind {
    case .arpRequest(_, let sender, let target): what = "ARP who-has \(target) tell \(sender)"
    case .arpReply(let mac, let ip, _, _): what = "ARP reply \(ip) is-at \(mac)"
    case .icmpEchoRequest(let destination, _, let total): what = "ICMP echo request to \(destination), \(total) bytes IPv4"
    case .icmpEchoReply(let source, _, let total): what = "ICMP echo reply from \(source), \(total) bytes IPv4"
    case .udp: what = "IPv4 UDP"
    case .otherIPv4: what = "IPv4 protocol \(f.count > Ethernet.headerLength + 9 ? String(f[Ethernet.headerLength + 9]) : "?")"
    case .other(let type): what = "EtherType 0x\(String(type, radix: 16))"
    case .malformed: what = "malformed"
    }
    return "q\(queue) \(MACAddress(reading: f, at: 6)) > \(MACAddress(reading: f, at: 0)) len \(f.count): \(what)"
}
