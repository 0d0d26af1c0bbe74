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
import VFIO

/// `vfioctl net echo`: answer ARP and ping for an address (and reflect frames), so that another
/// machine can ping us through our receive path, our code and our transmit path.
struct NetEcho: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo", abstract: "Answer ARP and ping for an IPv4 address (and reflect frames with --reflect).")
    @OptionGroup var target: NetDeviceOptions
    @Option(help: "IPv4 address to answer for.") var ip: String
    @Option(help: "Longest run time (e.g. 60s).") var time: String = "60s"
    @Option(help: "Stop after answering this many ICMP echo requests.") var replies: Int?
    @Flag(help: "Also send every other unicast frame for our MAC back, MACs swapped.") var reflect = false
    @Option(help: "Frames per receive call.") var batch: Int = 32
    @Option(name: .customLong("emu-pings"), help: "Emulated device: echo requests (or, with --reflect, frames) the peer sends (default: --replies, else 5).") var emulatedPings: Int?
    @Option(name: .customLong("emu-ping-ip"), help: "Emulated device: the address the peer pings (default: --ip).") var emulatedPingIP: String?
    @Flag(help: "Print JSON.") var json = false

    struct Job: NICJob {
        let spec: EchoSpec
        let json: Bool

        func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
            let ip = spec.ip
            printError("answering ARP and ICMP echo for \(ip) at \(nic.macAddress) on \(nic.device.name), mode \(spec.mode), \(nic.options.receiveQueues) queue(s)\(spec.reflect ? ", reflecting" : "")")
            let control = NetRunControl(showsProgress: !json, noun: "received")
            defer { control.endProgress() }  // also when the run throws
            let r = try netRun(linkTimeout: spec.linkTimeoutMilliseconds) { () throws(NICWorkloadError) in
                try EchoResponder.run(nic, spec, peer: peer, shouldStop: control.shouldStop, progress: control.progress)
            }
            control.endProgress()
            let total = r.total
            let endedBy = control.endedBy(stopped: r.stopped, otherwise: spec.replies.map { total.icmpReplies >= UInt64($0) } == true ? "replies" : "time")
            if json {
                var fields: [(String, JSON)] = [
                    ("device", .string(nic.device.name)), ("ip", .string(ip.description)), ("mac", .string(r.mac.description)),
                    ("mode", .string(spec.mode.description)), ("queues", .int(r.queues)),
                    ("received", .uint(total.received)), ("arp_requests", .uint(total.arpRequests)), ("arp_replies", .uint(total.arpRequests)),
                    ("icmp_requests", .uint(total.icmpRequests)), ("icmp_replies", .uint(total.icmpReplies)),
                    ("reflected", .uint(total.reflected)), ("ignored", .uint(total.ignored)), ("malformed", .uint(total.malformed)),
                    ("sent", .uint(total.sent)), ("seconds", .double(round6(r.rate.seconds))), ("interrupts", .uint(total.interrupts)),
                    ("cpu_ns_per_packet", .double(round3(r.rate.cpuNanosecondsPerPacket))),
                    ("cycles_per_packet", r.rate.cyclesPerPacket.map { .double($0.rounded()) } ?? .null),
                    ("ended_by", .string(endedBy)),
                ]
                fields += peerFields(r.peer)
                print(JSON.object(fields).render())
            } else {
                print("echo for \(ip) at \(r.mac) on \(nic.device.name), mode \(spec.mode), \(r.queues) queue(s), \(formatDuration(r.rate.seconds))")
                if r.stopped { print(control.stoppedLine(r.rate.seconds)) }
                print("  received \(total.received): ARP requests for us \(total.arpRequests), ICMP echo requests \(total.icmpRequests), reflected \(total.reflected), ignored \(total.ignored), malformed \(total.malformed)")
                print("  sent \(total.sent): ARP replies \(total.arpRequests), ICMP echo replies \(total.icmpReplies), reflections \(total.reflected); \(total.interrupts) interrupts")
                print("  \(Int(r.rate.cpuNanosecondsPerPacket.rounded())) ns CPU per received frame\(r.rate.cyclesPerPacket.map { " (~\(Int($0.rounded())) cycles)" } ?? "")")
                if let p = r.peer {
                    if spec.reflect {
                        print("  peer: sent \(p.injected) frames, \(p.reflected) came back reflected")
                    } else {
                        print("  peer: ARP \(p.resolvedMAC.map { "resolved \(ip) to \($0)" } ?? "unanswered"), \(p.pingsAnswered) of \(p.pingsSent) pings answered")
                    }
                }
            }
            if let problem = r.problem { throw problem }
        }
    }

    func run() throws {
        try reportingErrors {
            if let replies, replies <= 0 { throw ValidationFailure("--replies must be greater than 0") }
            if let emulatedPings, emulatedPings <= 0 { throw ValidationFailure("--emu-pings must be greater than 0") }
            guard batch >= 1 && batch <= 512 else { throw ValidationFailure("--batch \(batch): use 1...512") }
            let address = try parseIPv4(ip, what: "--ip")
            _ = try target.nicOptions()
            let spec = EchoSpec(
                ip: address, seconds: try parseDuration(time, what: "--time"), replies: replies, reflect: reflect, batch: batch,
                mode: try target.completionMode(), linkTimeoutMilliseconds: try target.linkTimeoutMilliseconds(),
                peerPings: emulatedPings ?? replies ?? 5,
                peerPingIP: try emulatedPingIP.map { try parseIPv4($0, what: "--emu-ping-ip") } ?? address)
            try StopSignal.install()
            try target.withNIC(Job(spec: spec, json: json))
        }
    }
}
