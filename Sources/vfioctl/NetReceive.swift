#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import NIC
import NetFrames
import VFIO

/// What arrived, by kind, on one queue or in all.
struct FrameTally: Sendable {
    var frames: UInt64 = 0
    var bytes: UInt64 = 0
    var matched: UInt64 = 0
    var arp: UInt64 = 0
    var icmpEchoRequests: UInt64 = 0
    var icmpOther: UInt64 = 0
    var udp: UInt64 = 0
    var otherIPv4: UInt64 = 0
    var other: UInt64 = 0
    var malformed: UInt64 = 0
    var broadcast: UInt64 = 0
    var cpuNanoseconds: UInt64 = 0
    var interrupts: UInt64 = 0

    mutating func count(_ kind: FrameKind) {
        switch kind {
        case .arpRequest, .arpReply: arp += 1
        case .icmpEchoRequest: icmpEchoRequests += 1
        case .icmpEchoReply: icmpOther += 1
        case .udp: udp += 1
        case .otherIPv4: otherIPv4 += 1
        case .other: other += 1
        case .malformed: malformed += 1
        }
    }

    static func + (a: FrameTally, b: FrameTally) -> FrameTally {
        var s = a
        s.frames += b.frames; s.bytes += b.bytes; s.matched += b.matched; s.arp += b.arp
        s.icmpEchoRequests += b.icmpEchoRequests; s.icmpOther += b.icmpOther; s.udp += b.udp
        s.otherIPv4 += b.otherIPv4; s.other += b.other; s.malformed += b.malformed; s.broadcast += b.broadcast
        s.cpuNanoseconds += b.cpuNanoseconds; s.interrupts += b.interrupts
        return s
    }

    var json: [(String, JSON)] {
        [
            ("frames", .uint(frames)), ("bytes", .uint(bytes)), ("matched", .uint(matched)), ("broadcast", .uint(broadcast)),
            ("arp", .uint(arp)), ("icmp_echo_requests", .uint(icmpEchoRequests)), ("icmp_other", .uint(icmpOther)),
            ("udp", .uint(udp)), ("other_ipv4", .uint(otherIPv4)), ("other", .uint(other)), ("malformed", .uint(malformed)),
            ("interrupts", .uint(interrupts)),
        ]
    }
}

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
        let count: Int?
        let seconds: Double
        let source: MACAddress?
        let batch: Int
        let printFrames: Bool
        let hex: Bool
        let inject: Int?
        let mode: CompletionMode
        let linkTimeout: Int
        let json: Bool

        func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
            let queues = nic.options.receiveQueues
            try peer?.start(.inject(count: inject ?? count ?? 100, ourMAC: nic.macAddress, ourIP: IPv4Address(0x0A4D_0002),
                                    intervalMicroseconds: 100))
            var handOffs: [QueueHandOff<ReceiveQueue<Device>>] = []
            for q in 0..<queues { handOffs.append(QueueHandOff(try nic.makeReceiveQueue(q))) }
            try nic.requireLink(timeoutMilliseconds: linkTimeout)
            let before = nic.statistics()
            let run = NetRun()
            let tallies = PerQueue(queues, FrameTally())
            let (batch, mode, count, source, printFrames, hex) = (self.batch, self.mode, self.count, self.source, self.printFrames, self.hex)
            let start = monotonicNanoseconds()
            let deadline = start + UInt64(seconds * 1e9)
            printError("receiving on \(nic.device.name) (\(nic.macAddress)), mode \(mode), \(queues) queue(s)")
            peer?.markReady()
            let queueHandOffs = handOffs
            try onQueueThreads(queues, run) { q in
                var rx = queueHandOffs[q].take()
                var t = FrameTally()
                let cpuStart = threadCPUNanoseconds()
                while !run.stopping {
                    let now = monotonicNanoseconds()
                    if now >= deadline { break }
                    let wait = Int(min(100, (deadline - now) / 1_000_000))
                    _ = try rx.receive(batch: batch, mode: mode, timeoutMilliseconds: max(1, wait)) { packet in
                        let f = packet.bytes
                        t.frames += 1
                        t.bytes += UInt64(f.count)
                        let kind = FrameKind(f)
                        t.count(kind)
                        if f.count >= 6 && MACAddress(reading: f, at: 0) == .broadcast { t.broadcast += 1 }
                        let matches = source.map { f.count >= 12 && MACAddress(reading: f, at: 6) == $0 } ?? true
                        if matches {
                            t.matched += 1
                            if let count, run.progress.add(1, ordering: .relaxed).newValue >= count { run.stop.store(true, ordering: .relaxed) }
                        }
                        if printFrames { print(describe(f, kind: kind, queue: packet.queue) + (hex ? "\n" + hexDump(f, count: 64) : "")) }
                    }
                }
                t.cpuNanoseconds = threadCPUNanoseconds() - cpuStart
                t.interrupts = rx.statistics.interrupts.interrupts
                tallies.set(q, t)
            }
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            try run.throwIfFailed()
            let stats = nic.statistics()
            let report = peer?.stop()
            let perQueue = tallies.all
            let total = perQueue.reduce(FrameTally(), +)
            let rate = PacketRate(packets: total.frames, bytes: total.bytes, seconds: elapsed, cpuNanoseconds: total.cpuNanoseconds, cpuMHz: cpuMegahertz())
            let deviceReceived = stats.goodPacketsReceived - before.goodPacketsReceived
            let missed = stats.missedPackets - before.missedPackets
            if json {
                var fields: [(String, JSON)] = [("device", .string(nic.device.name)), ("mode", .string(mode.description)), ("queues", .int(queues))]
                fields += total.json
                fields += [("per_queue", .array(perQueue.map { .uint($0.frames) })),("seconds", .double(round3(elapsed))), ("pps", .double(rate.packetsPerSecond.rounded())),
                           ("cpu_ns_per_packet", .double(round3(rate.cpuNanosecondsPerPacket))),
                           ("device_rx_packets", .uint(deviceReceived)), ("device_missed", .uint(missed))]
                fields += peerFields(report)
                print(JSON.object(fields).render())
            } else {
                print("received \(total.frames) frames (\(total.bytes) bytes) in \(format1(elapsed)) s on \(nic.device.name), mode \(mode), \(queues) queue(s)\(queues > 1 ? " (per queue: \(perQueue.map { String($0.frames) }.joined(separator: ", ")))" : "")")
                if let source { print("  from \(source): \(total.matched)") }
                print("  ARP \(total.arp), ICMP echo requests \(total.icmpEchoRequests), other ICMP \(total.icmpOther), UDP \(total.udp), other IPv4 \(total.otherIPv4), other \(total.other), malformed \(total.malformed)")
                print("  NIC counted \(deviceReceived) received (GPRC), \(missed) missed (MPC); \(total.interrupts) interrupts")
                if let r = report { print("  peer: sent \(r.injected) (\(r.injectRefused) refused at the wire)") }
            }
            if let count, total.matched < UInt64(count) {
                throw ValidationFailure("received \(total.matched) of \(count) matching frames within \(format1(seconds)) s")
            }
            if let r = report, count == nil, total.frames < UInt64(r.injected) {
                throw ValidationFailure("the emulated peer sent \(r.injected) frames, \(total.frames) arrived")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            if let count, count <= 0 { throw ValidationFailure("--count must be greater than 0") }
            guard batch >= 1 && batch <= 512 else { throw ValidationFailure("--batch \(batch): use 1...512") }
            try target.withNIC(Job(count: count, seconds: try parseDuration(time, what: "--time"), source: try sourceMAC.map { try parseMAC($0, what: "--src-mac") },
                                   batch: batch, printFrames: printFrames, hex: hex, inject: emulatedInject, mode: try target.completionMode(),
                                   linkTimeout: try target.linkTimeoutMilliseconds(), json: json))
        }
    }
}

/// One line for `net recv --print`: queue, addresses, EtherType, length, what it is.
func describe(_ f: UnsafeRawBufferPointer, kind: FrameKind, queue: Int) -> String {
    guard f.count >= Ethernet.headerLength else { return "q\(queue) runt frame of \(f.count) bytes" }
    let type = String(f.be16(12), radix: 16)
    let what: String
    switch kind {
    case .arpRequest(_, let sender, let target): what = "ARP who-has \(target) tell \(sender)"
    case .arpReply: what = "ARP reply"
    case .icmpEchoRequest(let destination, _, let total): what = "ICMP echo request to \(destination), \(total) bytes IPv4"
    case .icmpEchoReply: what = "ICMP echo reply"
    case .udp: what = "IPv4 UDP"
    case .otherIPv4: what = "IPv4 protocol \(f[Ethernet.headerLength + 9])"
    case .other: what = "EtherType 0x\(type)"
    case .malformed: what = "malformed"
    }
    return "q\(queue) \(MACAddress(reading: f, at: 6)) > \(MACAddress(reading: f, at: 0)) len \(f.count): \(what)"
}
