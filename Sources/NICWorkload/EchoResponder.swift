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
import NetFrames
import VFIO

/// What `EchoResponder` answers.
public struct EchoSpec: Sendable {
    /// The address we answer ARP and ICMP echo for.
    public var ip: IPv4Address
    /// The longest run time.
    public var seconds: Double
    /// Stop after answering this many echo requests.
    public var replies: Int?
    /// Also send every other unicast frame for our MAC back, MACs swapped.
    public var reflect: Bool
    /// Frames per receive call.
    public var batch: Int
    public var mode: CompletionMode
    public var linkTimeoutMilliseconds: Int
    /// Emulated wire only: the echo requests (with `reflect`, frames) the peer sends, and the
    /// address it pings.
    public var peerPings: Int
    public var peerPingIP: IPv4Address

    public init(ip: IPv4Address, seconds: Double, replies: Int?, reflect: Bool, batch: Int, mode: CompletionMode,
                linkTimeoutMilliseconds: Int, peerPings: Int, peerPingIP: IPv4Address) {
        self.ip = ip
        self.seconds = seconds
        self.replies = replies
        self.reflect = reflect
        self.batch = batch
        self.mode = mode
        self.linkTimeoutMilliseconds = linkTimeoutMilliseconds
        self.peerPings = peerPings
        self.peerPingIP = peerPingIP
    }
}

/// What an echo run received and sent.
public struct EchoTally: Sendable {
    public var received: UInt64 = 0
    /// ARP requests for our address; each was answered.
    public var arpRequests: UInt64 = 0
    public var icmpRequests: UInt64 = 0
    public var icmpReplies: UInt64 = 0
    public var reflected: UInt64 = 0
    public var ignored: UInt64 = 0
    public var malformed: UInt64 = 0
    public var sent: UInt64 = 0
    public var bytes: UInt64 = 0
    public var cpuNanoseconds: UInt64 = 0
    public var interrupts: UInt64 = 0

    public init() {}

    public static func + (a: EchoTally, b: EchoTally) -> EchoTally {
        var s = a
        s.received += b.received; s.arpRequests += b.arpRequests; s.icmpRequests += b.icmpRequests
        s.icmpReplies += b.icmpReplies; s.reflected += b.reflected; s.ignored += b.ignored; s.malformed += b.malformed
        s.sent += b.sent; s.bytes += b.bytes; s.cpuNanoseconds += b.cpuNanoseconds; s.interrupts += b.interrupts
        return s
    }
}

/// What an echo run did.
public struct EchoResult: Sendable {
    public var spec: EchoSpec
    public var mac: MACAddress
    public var queues: Int
    public var total: EchoTally
    public var rate: PacketRate
    public var peer: EmulatedWirePeer.Report?
    /// Ended early by `shouldStop`; the figures are those so far.
    public var stopped: Bool

    @usableFromInline
    init(spec: EchoSpec, mac: MACAddress, queues: Int, total: EchoTally, rate: PacketRate, peer: EmulatedWirePeer.Report?, stopped: Bool) {
        self.spec = spec
        self.mac = mac
        self.queues = queues
        self.total = total
        self.rate = rate
        self.peer = peer
        self.stopped = stopped
    }

    /// Fewer replies than asked for, or the emulated peer's pings or reflections not all
    /// answered; nil when all is well or the run was stopped.
    public var problem: NICWorkloadError? {
        if stopped { return nil }
        if let replies = spec.replies, total.icmpReplies < UInt64(replies) {
            return .shortfall("answered \(total.icmpReplies) of \(replies) ICMP echo requests within \(seconds(spec.seconds))")
        }
        guard let r = peer else { return nil }
        let firstProblem = r.firstProblem.map { "; first problem: \($0)" } ?? ""
        if spec.reflect && r.reflected < r.injected {
            return .shortfall("the emulated peer got \(r.reflected) of \(r.injected) frames back\(firstProblem)")
        }
        if !spec.reflect && (!r.arpResolved || r.resolvedMAC != mac || r.pingsAnswered < r.pingsSent || r.pingsSent == 0) {
            return .shortfall("the emulated peer's pings: ARP \(r.arpResolved ? "resolved" : "unanswered"), \(r.pingsAnswered) of \(r.pingsSent) answered\(firstProblem)")
        }
        return nil
    }
}

/// `vfioctl net echo`: a tiny host on the wire. It answers ARP requests for its address and ICMP
/// echo requests to it, so another machine (the VM's kernel across QEMU's hub) can `ping` us:
/// every reply it gets has crossed our receive path, our code and our transmit path. With
/// `reflect` it also sends every other unicast frame for our MAC back to where it came from
/// (MACs swapped), a one-port forwarder in the manner of ixy's `ixy-fwd`.
public enum EchoResponder {
    @inlinable
    public static func run<Device: PCIFunction>(
        _ nic: E1000E<Device>, _ spec: EchoSpec, peer: EmulatedWirePeer?,
        shouldStop: (() -> Bool)? = nil, progress: ((RunProgress) -> Void)? = nil
    ) throws(NICWorkloadError) -> EchoResult {
        let queues = nic.options.receiveQueues
        let ourMAC = nic.macAddress
        let tallies = PerQueue(queues, EchoTally())
        let outcome = try QueueRun.run(
            queues: queues, seconds: spec.seconds, peer: peer,
            script: spec.reflect ? .reflect(count: spec.peerPings, ourMAC: ourMAC) : .ping(count: spec.peerPings, ourIP: spec.peerPingIP),
            shouldStop: shouldStop, progress: progress
        ) { () throws(NICWorkloadError) in
            let receiveQueues = try QueueRun.handOffs(queues) { q throws(NICError) in try nic.makeReceiveQueue(q) }
            let transmitQueues = try QueueRun.handOffs(queues) { q throws(NICError) in try nic.makeTransmitQueue(q) }
            try nic.requireLink(timeoutMilliseconds: spec.linkTimeoutMilliseconds)
            return (receiveQueues, transmitQueues)
        } body: { made, q, run, deadline throws(NICWorkloadError) in
            var rx = made.0[q].take()
            var tx = made.1[q].take()
            tallies.set(q, try answer(&rx, &tx, spec: spec, ourMAC: ourMAC, deadline: deadline, peer: peer, run: run))
        }
        let total = tallies.all.reduce(EchoTally(), +)
        return EchoResult(
            spec: spec, mac: ourMAC, queues: queues, total: total,
            rate: PacketRate(packets: total.received, bytes: total.bytes, seconds: outcome.seconds, cpuNanoseconds: total.cpuNanoseconds,
                             cpuMHz: PacketRate.cpuMegahertz()),
            peer: outcome.peer, stopped: outcome.stopped)
    }

    /// One queue's loop: receive a batch, build the answers into scratch buffers while the
    /// received frames are lent to us, then send the answers as one batch (one tail write).
    /// The scratch buffers are allocated once per run, nothing per packet.
    @inlinable
    static func answer<Device: PCIFunction>(
        _ rx: inout ReceiveQueue<Device>, _ tx: inout TransmitQueue<Device>, spec: EchoSpec, ourMAC: MACAddress,
        deadline: UInt64, peer: EmulatedWirePeer?, run: QueueRun
    ) throws(NICWorkloadError) -> EchoTally {
        let slot = PacketBufferPool.bufferSize
        let batch = spec.batch
        let ip = spec.ip
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * slot, alignment: 64)
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: batch)
        defer { scratch.deallocate(); lengths.deallocate() }
        var t = EchoTally()
        let cpuStart = CPUTime.thread()
        do throws(NICError) {
            while !run.stopping {
                let now = MonotonicClock.coarseNanoseconds()
                if now >= deadline { break }
                if let peer, peer.isDone { break }
                var k = 0
                var answeredPings = 0
                let n = try rx.receive(batch: batch, mode: spec.mode, timeoutMilliseconds: Int(max(1, min(100, (deadline - now) / 1_000_000)))) { packet in
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
                        // FrameKind bounded the IPv4 length by the frame, which the driver bounded by the buffer.
                        lengths[k] = ICMPEcho.writeReply(from: f, into: out, ourMAC: ourMAC, ipHeaderLength: ihl, ipTotalLength: total)
                        k += 1
                        answeredPings += 1
                    case .malformed:
                        t.malformed += 1
                    default:
                        if spec.reflect && f.count >= Ethernet.headerLength && f.count <= slot && MACAddress(reading: f, at: 0) == ourMAC {
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
                run.count(n)
                var done = 0
                while done < k {
                    let sent = try tx.send(count: k - done) { i, buffer in
                        let length = lengths[done + i]
                        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[((done + i) * slot)..<((done + i) * slot + length)]))
                        return length
                    }
                    done += sent
                    if sent == 0 { try tx.flush(mode: spec.mode, timeoutMilliseconds: 1000) }
                }
                t.sent += UInt64(k)
                t.icmpReplies += UInt64(answeredPings)
                run.met(answeredPings, of: spec.replies)
            }
            try tx.flush(mode: spec.mode, timeoutMilliseconds: 1000)
        } catch {
            throw .nic(error)
        }
        t.cpuNanoseconds = CPUTime.thread() &- cpuStart
        t.interrupts = rx.statistics.interrupts.interrupts + tx.statistics.interrupts.interrupts
        return t
    }
}
