#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import NIC
import NetFrames
import VFIO

/// `vfioctl net echo`: a tiny host on the wire. It answers ARP requests for `--ip` and ICMP echo
/// requests to it, so another machine (the VM's kernel across QEMU's hub) can `ping` us: every
/// reply it gets has crossed our receive path, our code and our transmit path. With `--reflect`
/// it also sends every other unicast frame for our MAC back to where it came from (MACs swapped),
/// a one-port forwarder in the manner of ixy's `ixy-fwd`.
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

    struct Tally: Sendable {
        var received: UInt64 = 0
        var arpRequests: UInt64 = 0
        var icmpRequests: UInt64 = 0
        var icmpReplies: UInt64 = 0
        var reflected: UInt64 = 0
        var ignored: UInt64 = 0
        var malformed: UInt64 = 0
        var sent: UInt64 = 0
        var bytes: UInt64 = 0
        var cpuNanoseconds: UInt64 = 0
        var interrupts: UInt64 = 0

        static func + (a: Tally, b: Tally) -> Tally {
            Tally(received: a.received + b.received, arpRequests: a.arpRequests + b.arpRequests,
                  icmpRequests: a.icmpRequests + b.icmpRequests, icmpReplies: a.icmpReplies + b.icmpReplies,
                  reflected: a.reflected + b.reflected, ignored: a.ignored + b.ignored, malformed: a.malformed + b.malformed,
                  sent: a.sent + b.sent, bytes: a.bytes + b.bytes, cpuNanoseconds: a.cpuNanoseconds + b.cpuNanoseconds,
                  interrupts: a.interrupts + b.interrupts)
        }
    }

    struct Job: NICJob {
        let ip: IPv4Address
        let seconds: Double
        let replies: Int?
        let reflect: Bool
        let batch: Int
        let pings: Int
        let pingIP: IPv4Address
        let mode: CompletionMode
        let linkTimeout: Int
        let json: Bool

        func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
            let queues = nic.options.receiveQueues
            try peer?.start(reflect ? .reflect(count: pings, ourMAC: nic.macAddress) : .ping(count: pings, ourIP: pingIP))
            var rxs: [QueueHandOff<ReceiveQueue<Device>>] = []
            var txs: [QueueHandOff<TransmitQueue<Device>>] = []
            for q in 0..<queues {
                rxs.append(QueueHandOff(try nic.makeReceiveQueue(q)))
                txs.append(QueueHandOff(try nic.makeTransmitQueue(q)))
            }
            try nic.requireLink(timeoutMilliseconds: linkTimeout)
            let run = NetRun()
            let tallies = PerQueue(queues, Tally())
            let (ip, batch, mode, replies, reflect, ourMAC) = (self.ip, self.batch, self.mode, self.replies, self.reflect, nic.macAddress)
            let start = monotonicNanoseconds()
            let deadline = start + UInt64(seconds * 1e9)
            printError("answering ARP and ICMP echo for \(ip) at \(ourMAC) on \(nic.device.name), mode \(mode), \(queues) queue(s)\(reflect ? ", reflecting" : "")")
            peer?.markReady()
            let (rxQueues, txQueues) = (rxs, txs)
            try onQueueThreads(queues, run) { q in
                var rx = rxQueues[q].take()
                var tx = txQueues[q].take()
                let t = try echo(&rx, &tx, ip: ip, ourMAC: ourMAC, reflect: reflect, batch: batch, mode: mode,
                                 deadline: deadline, replies: replies, peer: peer, run: run)
                tallies.set(q, t)
            }
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            try run.throwIfFailed()
            let report = peer?.stop()
            let total = tallies.all.reduce(Tally(), +)
            let rate = PacketRate(packets: total.received, bytes: total.bytes, seconds: elapsed, cpuNanoseconds: total.cpuNanoseconds, cpuMHz: cpuMegahertz())
            if json {
                var fields: [(String, JSON)] = [
                    ("device", .string(nic.device.name)), ("ip", .string(ip.description)), ("mac", .string(ourMAC.description)),
                    ("mode", .string(mode.description)), ("queues", .int(queues)),
                    ("received", .uint(total.received)), ("arp_requests", .uint(total.arpRequests)), ("arp_replies", .uint(total.arpRequests)),
                    ("icmp_requests", .uint(total.icmpRequests)), ("icmp_replies", .uint(total.icmpReplies)),
                    ("reflected", .uint(total.reflected)), ("ignored", .uint(total.ignored)), ("malformed", .uint(total.malformed)),
                    ("sent", .uint(total.sent)), ("seconds", .double(round3(elapsed))), ("interrupts", .uint(total.interrupts)),
                    ("cpu_ns_per_packet", .double(round3(rate.cpuNanosecondsPerPacket))),
                    ("cycles_per_packet", rate.cyclesPerPacket.map { .double($0.rounded()) } ?? .null),
                ]
                fields += peerFields(report)
                print(JSON.object(fields).render())
            } else {
                print("echo for \(ip) at \(ourMAC) on \(nic.device.name), mode \(mode), \(queues) queue(s), \(format1(elapsed)) s")
                print("  received \(total.received): ARP requests for us \(total.arpRequests), ICMP echo requests \(total.icmpRequests), reflected \(total.reflected), ignored \(total.ignored), malformed \(total.malformed)")
                print("  sent \(total.sent): ARP replies \(total.arpRequests), ICMP echo replies \(total.icmpReplies), reflections \(total.reflected); \(total.interrupts) interrupts")
                print("  \(Int(rate.cpuNanosecondsPerPacket.rounded())) ns CPU per received frame\(rate.cyclesPerPacket.map { " (~\(Int($0.rounded())) cycles)" } ?? "")")
                if let r = report {
                    if reflect {
                        print("  peer: sent \(r.injected) frames, \(r.reflected) came back reflected")
                    } else {
                        print("  peer: ARP \(r.arpResolved ? "resolved \(ip) to \(r.resolvedMAC!)" : "unanswered"), \(r.pingsAnswered) of \(r.pingsSent) pings answered")
                    }
                }
            }
            if let replies, total.icmpReplies < UInt64(replies) {
                throw ValidationFailure("answered \(total.icmpReplies) of \(replies) ICMP echo requests within \(format1(seconds)) s")
            }
            if let r = report {
                if reflect && r.reflected < r.injected {
                    throw ValidationFailure("the emulated peer got \(r.reflected) of \(r.injected) frames back\(r.firstProblem.map { "; first problem: \($0)" } ?? "")")
                }
                if !reflect && (!r.arpResolved || r.resolvedMAC != ourMAC || r.pingsAnswered < r.pingsSent || r.pingsSent == 0) {
                    throw ValidationFailure("the emulated peer's pings: ARP \(r.arpResolved ? "resolved" : "unanswered"), \(r.pingsAnswered) of \(r.pingsSent) answered\(r.firstProblem.map { "; first problem: \($0)" } ?? "")")
                }
            }
        }
    }

    func run() throws {
        try reportingErrors {
            if let replies, replies <= 0 { throw ValidationFailure("--replies must be greater than 0") }
            if let emulatedPings, emulatedPings <= 0 { throw ValidationFailure("--emu-pings must be greater than 0") }
            guard batch >= 1 && batch <= 512 else { throw ValidationFailure("--batch \(batch): use 1...512") }
            let address = try parseIPv4(ip, what: "--ip")
            _ = try target.nicOptions()
            try target.withNIC(Job(ip: address, seconds: try parseDuration(time, what: "--time"), replies: replies, reflect: reflect,
                                   batch: batch, pings: emulatedPings ?? replies ?? 5,
                                   pingIP: try emulatedPingIP.map { try parseIPv4($0, what: "--emu-ping-ip") } ?? address, mode: try target.completionMode(),
                                   linkTimeout: try target.linkTimeoutMilliseconds(), json: json))
        }
    }
}

/// One queue's echo loop: receive a batch, build the answers into scratch buffers while the
/// received frames are lent to us, then send the answers as one batch (one tail write).
func echo<Device: PCIFunction>(
    _ rx: inout ReceiveQueue<Device>, _ tx: inout TransmitQueue<Device>, ip: IPv4Address, ourMAC: MACAddress,
    reflect: Bool, batch: Int, mode: CompletionMode, deadline: UInt64, replies: Int?, peer: EmulatedWirePeer?, run: NetRun
) throws -> NetEcho.Tally {
    let slot = PacketBufferPool.bufferSize
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * slot, alignment: 64)
    let lengths = UnsafeMutablePointer<Int>.allocate(capacity: batch)
    defer { scratch.deallocate(); lengths.deallocate() }
    var t = NetEcho.Tally()
    let cpuStart = threadCPUNanoseconds()
    while !run.stopping {
        let now = monotonicNanoseconds()
        if now >= deadline { break }
        if let peer, peer.isDone { break }
        var k = 0
        var answeredPings = 0
        _ = try rx.receive(batch: batch, mode: mode, timeoutMilliseconds: Int(max(1, min(100, (deadline - now) / 1_000_000)))) { packet in
            let f = packet.bytes
            t.received += 1
            t.bytes += UInt64(f.count)
            let out = UnsafeMutableRawBufferPointer(rebasing: scratch[(k * slot)..<((k + 1) * slot)])
            switch FrameKind(f) {
            case .arpRequest(let mac, let senderIP, let target) where target == ip:
                t.arpRequests += 1
                lengths[k] = ARP.writeReply(into: out, ourMAC: ourMAC, ourIP: ip, toMAC: mac, toIP: senderIP)
                k += 1
            case .icmpEchoRequest(let destination, let ihl, let total) where destination == ip:
                t.icmpRequests += 1
                // classify bounded the IPv4 length by the frame, which the driver bounded by the buffer.
                lengths[k] = ICMPEcho.writeReply(from: f, into: out, ourMAC: ourMAC, ipHeaderLength: ihl, ipTotalLength: total)
                k += 1
                answeredPings += 1
            case .malformed:
                t.malformed += 1
            default:
                if reflect && f.count >= Ethernet.headerLength && f.count <= slot && MACAddress(reading: f, at: 0) == ourMAC {
                    out.copyMemory(from: f)
                    MACAddress(reading: f, at: 6).write(to: out, at: 0)
                    ourMAC.write(to: out, at: 6)
                    lengths[k] = f.count
                    k += 1
                    t.reflected += 1
                } else {
                    t.ignored += 1
                }
            }
        }
        var done = 0
        while done < k {
            let n = try tx.send(count: k - done) { i, buffer in
                let length = lengths[done + i]
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[((done + i) * slot)..<((done + i) * slot + length)]))
                return length
            }
            done += n
            if n == 0 { try tx.flush(mode: mode, timeoutMilliseconds: 1000) }
        }
        t.sent += UInt64(k)
        t.icmpReplies += UInt64(answeredPings)
        if answeredPings > 0, let replies, run.progress.add(answeredPings, ordering: .relaxed).newValue >= replies {
            run.stop.store(true, ordering: .relaxed)
        }
    }
    try tx.flush(mode: mode, timeoutMilliseconds: 1000)
    t.cpuNanoseconds = threadCPUNanoseconds() - cpuStart
    t.interrupts = rx.statistics.interrupts.interrupts + tx.statistics.interrupts.interrupts
    return t
}
