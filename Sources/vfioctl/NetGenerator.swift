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

/// `vfioctl net gen`: a packet generator in the manner of ixy's `ixy-pktgen`: 60-byte UDP frames
/// (or --size) in batches, as fast as the transmit ring takes them, one thread per queue; reports
/// packets per second, Mbit/s and CPU cycles per packet.
struct NetGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen", abstract: "Packet generator: send as fast as the NIC takes frames; report pps, Mbit/s and cycles per packet.")
    @OptionGroup var target: NetDeviceOptions
    @OptionGroup var frame: FrameOptions
    @Option(help: "Frames to send in all (split over the queues); default: for --time.") var count: Int?
    @Option(help: "Run time when no --count is given (e.g. 10s).") var time: String = "10s"
    @Option(help: "Frames per send call (one tail write each).") var batch: Int = 32
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            if let count, count <= 0 { throw ValidationFailure("--count must be greater than 0") }
            guard batch >= 1 && batch <= 512 else { throw ValidationFailure("--batch \(batch): use 1...512") }
            let spec = try frame.spec(count: count, seconds: try parseDuration(time, what: "--time"), batch: batch, target: target)
            try StopSignal.install()
            try target.withNIC(GeneratorJob(spec: spec, json: json, brief: false))
        }
    }
}

/// `net gen` and `net send`: the generator, and its figures.
struct GeneratorJob: NICJob {
    let spec: GeneratorSpec
    let json: Bool
    /// `net send`'s report (what was sent and what the peer verified) instead of `net gen`'s rates.
    let brief: Bool

    func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
        let control = NetRunControl(showsProgress: !json && !brief, noun: "sent")
        defer { control.endProgress() }  // also when the run throws
        let r = try netRun(linkTimeout: spec.linkTimeoutMilliseconds) { () throws(NICWorkloadError) in
            try PacketGenerator.run(nic, spec, peer: peer, shouldStop: control.shouldStop, progress: control.progress)
        }
        control.endProgress()
        let endedBy = control.endedBy(stopped: r.stopped, removed: r.removed, otherwise: spec.count != nil ? "count" : "time")
        if json {
            var fields: [(String, JSON)] = [("device", .string(nic.device.name)), ("mode", .string(spec.mode.description))]
            if brief {
                fields += [
                    ("sent", .uint(r.rate.packets)), ("bytes", .uint(r.rate.bytes)), ("size", .int(r.template.length)),
                    ("seconds", .double(round6(r.rate.seconds))), ("device_tx_packets", .uint(r.deviceTransmitted)),
                    ("tail_writes", .uint(r.tailWrites)),
                ]
            } else {
                fields += [
                    ("queues", .int(r.queues)), ("batch", .int(spec.batch)), ("size", .int(r.template.length)),
                    ("destination", .string(r.template.destination.description)),
                ]
                fields += r.rate.json
                fields += [
                    ("device_tx_packets", .uint(r.deviceTransmitted)), ("interrupts", .uint(r.interrupts)),
                    ("backpressure", .uint(r.backpressure)), ("tail_writes", .uint(r.tailWrites)),
                    ("ended_by", .string(endedBy)),
                ]
            }
            fields += peerFields(r.peer)
            print(JSON.object(fields).render())
        } else {
            if brief {
                print("sent \(r.rate.packets) frames of \(r.template.length) bytes to \(r.template.destination) in \(formatDuration(r.rate.seconds)) (mode \(spec.mode)); the NIC counted \(r.deviceTransmitted) (GPTC)")
            } else {
                print("gen \(r.template.length) B to \(r.template.destination), mode \(spec.mode), \(r.queues) queue(s), batch \(spec.batch) on \(nic.device.name)")
                if r.stopped { print(control.stoppedLine(r.rate.seconds)) }
                print("  \(r.rate.text)")
                // A removed NIC's counters cannot be read.
                print("  \(r.removed ? "" : "NIC counted \(r.deviceTransmitted) sent (GPTC); ")\(r.tailWrites) tail writes, \(r.interrupts) interrupts")
            }
            if let p = r.peer { print("\(brief ? "" : "  ")peer: received \(p.framesTaken), verified \(p.framesVerified), \(p.sequenceGaps) out of order") }
        }
        // The figures above count the frames handed to the NIC before it went.
        if r.removed { throw control.removal(of: nic.device.name, after: r.rate.packets, "handed to the NIC", r.rate.seconds) }
        if let problem = r.problem { throw problem }
    }
}
