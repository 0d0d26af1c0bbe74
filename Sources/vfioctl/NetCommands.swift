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

/// `vfioctl net ...`: drive an Intel 82574L (QEMU's e1000e) from userspace. Parsing and printing
/// only: the traffic engines are in NICWorkload.
struct NetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "Drive an Intel 82574L NIC (QEMU e1000e) through VFIO (or the emulated one).",
        discussion: """
            With --device emulated (the default) an in-process 82574L is cabled to a software peer \
            that checks every frame sent and sends the frames to receive or answer, so each command \
            reports what the other side saw. On a real device the other side is whatever the wire \
            leads to; `net` never binds: run `vfioctl bind` first (it refuses a NIC whose interface \
            is up unless --force).
            """,
        subcommands: [NetInfo.self, NetSend.self, NetRecv.self, NetGen.self, NetEcho.self])
}

// MARK: - info

struct NetInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Bring the NIC up and show its MAC, link, speed, queues and interrupts.")
    @OptionGroup var target: NetDeviceOptions
    @Flag(help: "Print JSON.") var json = false

    struct Job: NICJob {
        let json: Bool
        let linkTimeout: Int
        func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
            let link = nic.waitForLink(timeoutMilliseconds: linkTimeout)
            let o = nic.options
            let backend = vfioBackendDescription(of: nic.device)
            if json {
                print(JSON.object([
                    ("device", .string(nic.device.name)), ("model", .string("Intel 82574L (e1000e)")),
                    ("vfio_backend", .string(backend.kind)), ("vfio_backend_detail", .string(backend.summary)),
                    ("mac", .string(nic.macAddress.description)), ("link_up", .bool(link.isUp)),
                    ("speed_mbps", link.isUp ? .int(link.speedMbps) : .null), ("full_duplex", .bool(link.fullDuplex)),
                    ("receive_queues", .int(o.receiveQueues)), ("transmit_queues", .int(o.transmitQueues)),
                    ("ring_entries", .int(o.ringEntries)), ("interrupt_vectors", .int(nic.interruptVectors)),
                    ("msix_vectors_offered", .int(nic.device.interruptCount(.msix))),
                    ("extended_receive_descriptors", .bool(nic.extendedReceiveDescriptors)),
                    ("promiscuous", .bool(o.promiscuous)),
                ]).render())
                return
            }
            print("device:      \(nic.device.name)")
            print("model:       Intel 82574L (e1000e)")
            print("VFIO:        \(backend.summary)")
            print("MAC:         \(nic.macAddress)")
            print("link:        \(link)")
            print("queues:      \(o.receiveQueues) RX / \(o.transmitQueues) TX of \(o.ringEntries) descriptors\(nic.extendedReceiveDescriptors ? ", RSS (extended descriptors)" : "")")
            print("interrupts:  \(nic.interruptVectors) MSI-X vectors in use (device offers \(nic.device.interruptCount(.msix)))")
        }
    }

    func run() throws {
        try reportingErrors { try target.withNIC(Job(json: json, linkTimeout: try target.linkTimeoutMilliseconds())) }
    }
}

// MARK: - send

/// `--size`, `--dst-mac`, `--dst-ip`, `--src-ip`: the UDP test frame of `send` and `gen`.
struct FrameOptions: ParsableArguments {
    @Option(help: "Frame size in bytes without the FCS (60...1514).") var size: Int = 60
    @Option(name: .customLong("dst-mac"), help: "Destination MAC.") var destinationMAC: String = "ff:ff:ff:ff:ff:ff"
    @Option(name: .customLong("dst-ip"), help: "Destination IPv4 address.") var destinationIP: String = "10.77.0.1"
    @Option(name: .customLong("src-ip"), help: "Source IPv4 address.") var sourceIP: String = "10.77.0.2"

    /// The generator's description of the frame, or a one-line error naming the option.
    func spec(count: Int?, seconds: Double, batch: Int, queues: Int? = nil, target: NetDeviceOptions) throws -> GeneratorSpec {
        guard UDPTemplate.lengths.contains(size) else {
            throw ValidationFailure("--size \(size): a frame is \(UDPTemplate.lengths.lowerBound)...\(UDPTemplate.lengths.upperBound) bytes without the FCS")
        }
        return GeneratorSpec(destination: try parseMAC(destinationMAC, what: "--dst-mac"), sourceIP: try parseIPv4(sourceIP, what: "--src-ip"),
                             destinationIP: try parseIPv4(destinationIP, what: "--dst-ip"), length: size, count: count, seconds: seconds,
                             batch: batch, queues: queues, mode: try target.completionMode(),
                             linkTimeoutMilliseconds: try target.linkTimeoutMilliseconds())
    }
}

struct NetSend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send", abstract: "Send N UDP frames on queue 0 and wait until the NIC has sent each one.")
    @OptionGroup var target: NetDeviceOptions
    @OptionGroup var frame: FrameOptions
    @Option(help: "Frames to send.") var count: Int = 1
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            guard count > 0 else { throw ValidationFailure("--count must be greater than 0") }
            let spec = try frame.spec(count: count, seconds: 0, batch: 32, queues: 1, target: target)
            _ = try target.nicOptions()
            try target.withNIC(GeneratorJob(spec: spec, json: json, brief: true))
        }
    }
}

// MARK: - Shared by the traffic commands

/// Runs a NIC workload, naming the option that changes the link wait in its error.
func netRun<Result>(linkTimeout: Int, _ body: () throws(NICWorkloadError) -> Result) throws -> Result {
    do {
        return try body()
    } catch .linkDown(let device, let ms) {
        throw ValidationFailure("\(device): link is down after \(ms) ms; check the cable (QEMU: `set_link NETDEV on` in the monitor) or raise --link-timeout")
    }
}

/// The emulated peer's figures for `--json`.
func peerFields(_ report: EmulatedWirePeer.Report?) -> [(String, JSON)] {
    guard let r = report else { return [("peer", .null)] }
    return [
        ("peer_received", .int(r.framesTaken)), ("peer_verified", .int(r.framesVerified)),
        ("peer_bad", .int(r.framesBad)), ("peer_sequence_gaps", .int(r.sequenceGaps)),
        ("peer_injected", .int(r.injected)), ("peer_arp_resolved", .bool(r.arpResolved)),
        ("peer_pings_sent", .int(r.pingsSent)), ("peer_pings_answered", .int(r.pingsAnswered)),
        ("peer_reflected", .int(r.reflected)),
    ]
}

/// How a traffic run (`net gen`, `recv`, `echo`) meets the user while it runs: SIGINT or SIGTERM
/// asks the engine to stop (it checks ten times a second, then the queues stop and the NIC is
/// closed as on any other end), and in text mode the progress line on stderr.
final class NetRunControl {
    private let progressLine: ProgressLine?
    private let noun: String

    /// `noun`: what the progress line counts ("sent", "received").
    init(showsProgress: Bool, noun: String) {
        progressLine = showsProgress ? ProgressLine() : nil
        self.noun = noun
    }

    let shouldStop: () -> Bool = { StopSignal.requested }

    var progress: ((RunProgress) -> Void)? {
        guard let progressLine else { return nil }
        return { [noun] p in
            progressLine.draw("[\(format1(p.elapsedSeconds)) s] \(p.frames) frames \(noun), \(Int(p.framesPerSecond.rounded())) pps")
        }
    }

    /// Erases the progress line, if one was drawn, before the figures or an error.
    func endProgress() { progressLine?.erase() }

    /// The `ended_by` figure: the signal that stopped the run, else what the caller says ended it.
    func endedBy(stopped: Bool, removed: Bool = false, otherwise: String) -> String {
        removed ? "device_removed" : stopped ? StopSignal.signalName ?? "stopped" : otherwise
    }

    /// The one line after the figures of a run the NIC's removal ended (`net gen`, `net recv`):
    /// it names the function and what the figures cover; the exit status is 1.
    func removal(of device: String, after frames: UInt64, _ noun: String, _ seconds: Double) -> ValidationFailure {
        ValidationFailure(
            "\(device) was removed during the run after \(frames) frames \(noun) in \(formatDuration(seconds)); once it is back, bind it (vfioctl bind) and run again")
    }

    /// The text report's line for a stopped run.
    func stoppedLine(_ seconds: Double) -> String {
        "  stopped by \(StopSignal.signalName ?? "a stop request") after \(formatDuration(seconds)); the figures cover the run until then"
    }
}
