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

#if canImport(Glibc)
import Glibc
#endif
import DriverScenarios
import NIC
import NetFrames
import VFIO

/// Checks of the NIC driver (`E1000E`) against QEMU's e1000e through vfio-pci, with the guest
/// kernel's e1000e on the same QEMU hub as the other end of the wire (`KernelPeer`). Each check
/// brings the NIC up itself and closes it. In every completion mode:
///   nic-ping-MODE  we resolve the peer by ARP and ping it; each echo reply comes back intact
///                  (our transmit and receive paths, seen from the kernel's stack)
///   nic-gen-MODE   a burst of UDP frames all reach the peer (its rx_packets counter)
///   nic-recv-MODE  the kernel's UDP datagrams to our address arrive intact (we answer its ARP)
/// and the generator once with both transmit queues. Figures come back as `# ` lines.
let nicChecks: [HILCheck] = [
    HILCheck("nic-bringup", "bring-up: the station address QEMU was given, link up at 1000 Mb/s full duplex") { context in
        let rig = try NICRig(context, queues: 1, interrupts: true)
        defer { rig.nic.close() }
        let link = rig.nic.linkStatus
        context.log("\(rig.nic.macAddress), link \(link), \(rig.nic.interruptVectors) vectors (\(rig.nic.interruptKind.map { "\($0)" } ?? "none"))")
        if let text = context.environment["HIL_OUR_MAC"] {
            try expect(rig.nic.macAddress == MACAddress(parsing: text), "MAC \(rig.nic.macAddress), QEMU was given \(text)")
        }
        try expect(link.speedMbps == 1000 && link.fullDuplex, "link \(link), QEMU's e1000e reports 1000 Mb/s full duplex")
        try expect(rig.nic.interruptKind == .msix && rig.nic.interruptVectors == 5, "\(rig.nic.interruptVectors) vectors of \(rig.nic.interruptKind.map { "\($0)" } ?? "none"), expected 5 MSI-X")
        return .pass
    },
] + [CompletionMode.poll, .interrupt, .hybrid].flatMap { mode in
    [
        HILCheck("nic-ping-\(mode.kind)", "\(mode.kind) mode: ARP resolves the kernel peer, \(NICRig.pings) pings come back intact, the peer's counters saw them") { context in
            try pingPeer(context, mode: mode)
        },
        HILCheck("nic-gen-\(mode.kind)", "\(mode.kind) mode: \(NICRig.generatedFrames) UDP frames from one transmit queue all reach the peer") { context in
            try generate(context, mode: mode, queues: 1)
        },
        HILCheck("nic-recv-\(mode.kind)", "\(mode.kind) mode: \(NICRig.datagrams) UDP datagrams the kernel sends to our address arrive intact (we answer its ARP)") { context in
            try receiveFromPeer(context, mode: mode)
        },
    ]
} + [
    HILCheck("nic-gen-poll-2-queues", "poll mode: \(NICRig.generatedFrames) UDP frames from both transmit queues, interleaved, all reach the peer") { context in
        try generate(context, mode: .poll, queues: 2)
    },
]

/// Our NIC brought up for one check, and the kernel's peer; addresses from the environment
/// (HIL_OUR_IP, HIL_PEER_IF, HIL_PEER_MAC, HIL_PEER_IP; see scripts/hil-test.sh).
struct NICRig {
    static let pings = 5
    static let generatedFrames = 10_000
    static let datagrams = 20
    static let identifier: UInt16 = 0x4849  // "HI"
    static let udpPort: UInt16 = 4242

    let nic: E1000E<VFIODevice>
    let ourIP: IPv4Address
    let peer: KernelPeer

    init(_ context: HILContext, queues: Int, interrupts: Bool) throws {
        let environment = context.environment
        guard let ourText = environment["HIL_OUR_IP"], let ourIP = IPv4Address(parsing: ourText),
              let interface = environment["HIL_PEER_IF"], let macText = environment["HIL_PEER_MAC"],
              let peerMAC = MACAddress(parsing: macText), let ipText = environment["HIL_PEER_IP"],
              let peerIP = IPv4Address(parsing: ipText)
        else { throw ScenarioFailure("HIL_OUR_IP, HIL_PEER_IF, HIL_PEER_MAC and HIL_PEER_IP must all be set (scripts/hil/nic.sh sets them)") }
        self.ourIP = ourIP
        peer = KernelPeer(interface: interface, mac: peerMAC, ip: peerIP)
        var options = NICOptions()
        options.receiveQueues = queues
        options.transmitQueues = queues
        options.interrupts = interrupts
        nic = try E1000E(device: try context.openDevice(), options: options)
        let link = nic.waitForLink(timeoutMilliseconds: 10_000)
        try expect(link.isUp, "link down 10 s after bring-up")
    }

    /// Sends one frame that `fill` writes (returning its length), waiting for room when the ring
    /// is full.
    func send(_ tx: inout TransmitQueue<VFIODevice>, mode: CompletionMode, _ fill: (UnsafeMutableRawBufferPointer) -> Int) throws {
        let deadline = Deadline(milliseconds: 5000)
        while try tx.send(count: 1, { _, buffer in fill(buffer) }) == 0 {
            try expect(!deadline.hasPassed, "the transmit ring stayed full for 5 s")
            try tx.flush(mode: mode, timeoutMilliseconds: 1000)
        }
    }

    /// The payload of a UDP datagram from the kernel peer to our address and port, or nil.
    func peerDatagram(_ frame: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard FrameKind(frame) == .udp, MACAddress(reading: frame, at: 6) == peer.mac,
              let ip = IPv4Header(frame, at: Ethernet.headerLength), ip.source == peer.ip, ip.destination == ourIP
        else { return nil }
        let udp = ip.payloadOffset
        guard ip.totalLength - ip.headerLength >= 8, frame.be16(udp + 2) == NICRig.udpPort else { return nil }
        return UnsafeRawBufferPointer(rebasing: frame[(udp + 8)..<(ip.offset + ip.totalLength)])
    }

    /// Receives in `mode` for up to `milliseconds`, handing each frame to `body` until it returns
    /// true, and answers the ARP requests for our address that arrive meanwhile (the kernel asks
    /// before it sends to us, and again to confirm). True when `body` was satisfied.
    func receive(
        _ rx: inout ReceiveQueue<VFIODevice>, _ tx: inout TransmitQueue<VFIODevice>, mode: CompletionMode, milliseconds: Int,
        _ body: (UnsafeRawBufferPointer) throws -> Bool
    ) throws -> Bool {
        let deadline = Deadline(milliseconds: milliseconds)
        var satisfied = false
        var failure: (any Error)?
        var askers: [(MACAddress, IPv4Address)] = []
        while !satisfied && failure == nil && !deadline.hasPassed {
            _ = try rx.receive(batch: 32, mode: mode, timeoutMilliseconds: min(200, max(1, deadline.remainingMilliseconds))) { packet in
                guard !satisfied && failure == nil else { return }
                if case .arpRequest(let mac, let ip, let target) = FrameKind(packet.bytes), target == ourIP {
                    askers.append((mac, ip))
                    return
                }
                do { satisfied = try body(packet.bytes) } catch { failure = error }
            }
            for (mac, ip) in askers {
                try send(&tx, mode: mode) { ARP.writeReply(into: $0, ourMAC: nic.macAddress, ourIP: ourIP, toMAC: mac, toIP: ip) }
            }
            askers.removeAll()
        }
        if let failure { throw failure }
        return satisfied
    }
}

/// ARP for the peer, then pings: each reply must carry our identifier, the sequence number just
/// sent and the payload unchanged.
func pingPeer(_ context: HILContext, mode requested: CompletionMode) throws -> ScenarioOutcome {
    // Hybrid with a short poll budget: with the default 2000 idle polls, 6.12's faster replies
    // (iommufd boot) were found by polling or by the last look after re-arming in all 60 pings, so
    // the interrupt never woke the queue; 64 polls keep the same poll, sleep and mask cycle.
    let mode = requested.kind == .hybrid ? CompletionMode.hybrid(idlePolls: 64) : requested
    let rig = try NICRig(context, queues: 1, interrupts: mode.usesInterrupts)
    defer { rig.nic.close() }
    let peer = rig.peer, ourMAC = rig.nic.macAddress
    var rx = try rig.nic.makeReceiveQueue()
    var tx = try rig.nic.makeTransmitQueue()
    let rx0 = try peer.counter("rx_packets"), tx0 = try peer.counter("tx_packets")

    var resolved: MACAddress?
    for _ in 0..<5 where resolved == nil {
        try rig.send(&tx, mode: mode) { ARP.writeRequest(into: $0, senderMAC: ourMAC, senderIP: rig.ourIP, target: peer.ip) }
        _ = try rig.receive(&rx, &tx, mode: mode, milliseconds: 2000) { frame in
            guard case .arpReply(let mac, let ip, _, _) = FrameKind(frame), ip == peer.ip else { return false }
            resolved = mac
            return true
        }
    }
    try expect(resolved == peer.mac, "ARP for \(peer.ip): \(resolved.map { "answered \($0)" } ?? "no answer"), the peer is \(peer.mac)")

    // The pings, and in the interrupt modes more (up to 60 in all) until a reply was found by a
    // wake-up of the receive interrupt: a reply that lands while the waiter looks at the ring or
    // between its bounded sleeps needs none (on QEMU's e1000e under TCG most replies came without
    // one: a wake-up in 1 of 5 to 1 of 14 pings).
    var sent = 0
    var slowest: UInt64 = 0
    while sent < NICRig.pings || (mode.usesInterrupts && rx.statistics.interrupts.wakeups == 0 && sent < 60) {
        sent += 1
        slowest = max(slowest, try ping(rig, &rx, &tx, mode: mode, sequence: UInt16(sent)))
    }
    // Still no wake-up: every reply beat the waiter to sleep (seen on the iommufd boot's 6.12 under
    // load: 60 pings, 37 signals drained at re-arms, 0 wake-ups). A datagram the kernel sends 30 ms
    // after we start waiting can only be found by the interrupt waking the sleeping queue.
    var late = 0
    while mode.usesInterrupts && rx.statistics.interrupts.wakeups == 0 && late < 5 {
        late += 1
        try receiveLateDatagram(rig, &rx, &tx, mode: mode, index: late)
    }
    let rx1 = try peer.waitForCounter("rx_packets", atLeast: rx0 + UInt64(1 + sent), milliseconds: 2000)
    let tx1 = try peer.counter("tx_packets")
    let stats = rx.statistics
    context.log("\(mode): \(sent) pings, the slowest reply after \(slowest / 1000) us; peer received \(rx1 - rx0), sent \(tx1 - tx0); our receive queue: \(stats.packets) frames, \(stats.interrupts.interrupts) interrupts, \(stats.interrupts.wakeups) wake-ups, \(stats.interrupts.rearms) re-arms")
    try expect(rx1 - rx0 >= UInt64(1 + sent), "the peer's rx_packets rose by \(rx1 - rx0), we sent it \(1 + sent) frames")
    try expect(tx1 - tx0 >= UInt64(1 + sent), "the peer's tx_packets rose by \(tx1 - tx0), it answered \(1 + sent) frames")
    if mode.usesInterrupts {
        try expect(stats.interrupts.wakeups > 0, "in \(sent) pings and \(late) late datagrams no frame woke the receive queue by its interrupt (\(stats.interrupts.interrupts) signals drained)")
    }
    return .pass
}

/// A datagram the kernel peer sends 30 ms after we start receiving, from a thread of its own, so
/// that it lands while the receive queue sleeps on its interrupt.
func receiveLateDatagram(_ rig: NICRig, _ rx: inout ReceiveQueue<VFIODevice>, _ tx: inout TransmitQueue<VFIODevice>,
                         mode: CompletionMode, index: Int) throws {
    let peer = rig.peer, ourIP = rig.ourIP
    let payload = Array("swift-vfio hil late \(index)".utf8)
    let sender = try OSThread(name: "hil-late-datagram") {
        usleep(30_000)
        try? peer.sendDatagrams([payload], to: ourIP, port: NICRig.udpPort)
    }
    let received = try rig.receive(&rx, &tx, mode: mode, milliseconds: 3000) { frame in
        rig.peerDatagram(frame)?.elementsEqual(payload) == true
    }
    sender.join()
    try expect(received, "the peer's late datagram \(index) did not arrive within 3 s")
}

/// One echo request to the peer and its reply: our identifier, the sequence number just sent,
/// the payload unchanged. Returns the nanoseconds from sending to the reply.
func ping(_ rig: NICRig, _ rx: inout ReceiveQueue<VFIODevice>, _ tx: inout TransmitQueue<VFIODevice>, mode: CompletionMode,
          sequence: UInt16) throws -> UInt64 {
    let payload = 56, peer = rig.peer, ourMAC = rig.nic.macAddress
    let start = MonotonicClock.nanoseconds()
    try rig.send(&tx, mode: mode) {
        ICMPEcho.writeRequest(into: $0, from: ourMAC, to: peer.mac, sourceIP: rig.ourIP, destinationIP: peer.ip,
                              identifier: NICRig.identifier, sequence: sequence, payload: payload)
    }
    let answered = try rig.receive(&rx, &tx, mode: mode, milliseconds: 5000) { frame in
        guard case .icmpEchoReply(let source, let ihl, let total) = FrameKind(frame), source == peer.ip else { return false }
        let icmp = Ethernet.headerLength + ihl
        // A late reply to an earlier ping is not this one's.
        guard frame.be16(icmp + 4) == NICRig.identifier, frame.be16(icmp + 6) == sequence else { return false }
        try expect(total - ihl - ICMPEcho.headerLength == payload, "echo reply \(sequence) carries \(total - ihl - ICMPEcho.headerLength) bytes, sent \(payload)")
        let data = icmp + ICMPEcho.headerLength
        for i in 0..<payload where frame[data + i] != UInt8(truncatingIfNeeded: Int(sequence) &+ i) {
            throw ScenarioFailure("echo reply \(sequence): payload byte \(i) is \(frame[data + i])")
        }
        return true
    }
    try expect(answered, "no echo reply to ping \(sequence) within 5 s")
    return MonotonicClock.nanoseconds() - start
}

/// The generator: UDP frames (NetFrames' UDPTemplate, 60 bytes) to the peer in batches of 32, as
/// fast as the rings take them; with two queues, in turns of 256 frames per queue.
func generate(_ context: HILContext, mode: CompletionMode, queues: Int) throws -> ScenarioOutcome {
    let rig = try NICRig(context, queues: queues, interrupts: mode.usesInterrupts)
    defer { rig.nic.close() }
    let template = UDPTemplate(source: rig.nic.macAddress, destination: rig.peer.mac, sourceIP: rig.ourIP,
                               destinationIP: rig.peer.ip, length: Ethernet.minimumFrameLength)
    let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: template.length, alignment: 64)
    defer { frame.deallocate() }
    template.write(into: frame)
    let count = NICRig.generatedFrames
    _ = rig.nic.statistics()  // the counters clear on read: start from zero
    let rx0 = try rig.peer.counter("rx_packets")
    let start = MonotonicClock.nanoseconds()
    var sent = 0
    var waits = InterruptStatistics()
    if queues == 1 {
        var tx = try rig.nic.makeTransmitQueue(0)
        try pump(&tx, frame, first: 0, count: count, mode: mode)
        try tx.flush(mode: mode, timeoutMilliseconds: 5000)
        sent = count
        waits = tx.statistics.interrupts
    } else {
        var a = try rig.nic.makeTransmitQueue(0)
        var b = try rig.nic.makeTransmitQueue(1)
        while sent < count {
            let turn = min(256, count - sent)
            if sent / 256 % 2 == 0 {
                try pump(&a, frame, first: sent, count: turn, mode: mode)
            } else {
                try pump(&b, frame, first: sent, count: turn, mode: mode)
            }
            sent += turn
        }
        try a.flush(mode: mode, timeoutMilliseconds: 5000)
        try b.flush(mode: mode, timeoutMilliseconds: 5000)
        waits.interrupts = a.statistics.interrupts.interrupts + b.statistics.interrupts.interrupts
        waits.wakeups = a.statistics.interrupts.wakeups + b.statistics.interrupts.wakeups
    }
    let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
    let counted = rig.nic.statistics().goodPacketsTransmitted
    let rx1 = try rig.peer.waitForCounter("rx_packets", atLeast: rx0 + UInt64(count), milliseconds: 10_000)
    let pps = Double(count) / seconds
    context.log("\(mode), \(queues) queue(s): transmit interrupts \(waits.interrupts), wake-ups \(waits.wakeups)")
    resultInfo("gen mode=\(mode.kind) queues=\(queues): \(Int(pps.rounded())) pps, \(String(format1: pps * Double(template.length * 8) / 1e6)) Mbit/s (\(count) frames of \(template.length) B in \(String(format1: seconds)) s, TCG guest)")
    try expect(counted == UInt64(count), "the NIC counted \(counted) frames sent (GPTC), we queued \(count)")
    try expect(rx1 - rx0 >= UInt64(count), "the peer's rx_packets rose by \(rx1 - rx0), expected \(count) (rx_missed_errors \((try? rig.peer.counter("rx_missed_errors")).map(String.init) ?? "?"))")
    return .pass
}

/// Queues `count` copies of `frame`, sequence numbers from `first`, in batches of 32; when the
/// ring is full, poll mode tries again at once (send reclaims what is done), the other modes wait
/// for the transmit interrupt in `flush`.
func pump(_ tx: inout TransmitQueue<VFIODevice>, _ frame: UnsafeMutableRawBufferPointer, first: Int, count: Int, mode: CompletionMode) throws {
    let source = UnsafeRawPointer(frame.baseAddress!), length = frame.count
    let deadline = Deadline(milliseconds: 30_000)
    var done = 0
    while done < count {
        let want = min(32, count - done)
        let n = try tx.send(count: want) { i, buffer in
            buffer.baseAddress!.copyMemory(from: source, byteCount: length)
            UDPTemplate.stamp(buffer, sequence: UInt32(truncatingIfNeeded: first + done + i))
            return length
        }
        done += n
        guard n < want else { continue }
        try expect(!deadline.hasPassed, "\(count - done) of \(count) frames still unsent after 30 s")
        if mode.kind == .poll { Barrier.cpuPause() } else { try tx.flush(mode: mode, timeoutMilliseconds: 5000) }
    }
}

/// The kernel sends UDP datagrams from the peer's address to ours; we answer its ARP request and
/// must see every datagram, payload intact.
func receiveFromPeer(_ context: HILContext, mode: CompletionMode) throws -> ScenarioOutcome {
    let rig = try NICRig(context, queues: 1, interrupts: mode.usesInterrupts)
    defer { rig.nic.close() }
    var rx = try rig.nic.makeReceiveQueue()
    var tx = try rig.nic.makeTransmitQueue()
    let peer = rig.peer
    let payloads = (0..<NICRig.datagrams).map { i in Array("swift-vfio hil recv \(mode.kind) \(i) ".utf8) + (0..<64).map { UInt8(truncatingIfNeeded: i &* 7 &+ $0) } }
    let tx0 = try peer.counter("tx_packets")
    try peer.sendDatagrams(payloads, to: rig.ourIP, port: NICRig.udpPort)
    var seen = Set<Int>()
    _ = try rig.receive(&rx, &tx, mode: mode, milliseconds: 30_000) { frame in
        guard let data = rig.peerDatagram(frame) else { return false }
        guard let index = payloads.firstIndex(where: { $0.elementsEqual(data) }) else {
            throw ScenarioFailure("a datagram to port \(NICRig.udpPort) of \(data.count) bytes matches none the kernel was given")
        }
        seen.insert(index)
        return seen.count == payloads.count
    }
    let tx1 = try peer.counter("tx_packets")
    let stats = rx.statistics
    context.log("\(mode): \(seen.count) of \(payloads.count) datagrams; peer sent \(tx1 - tx0) frames; our receive queue: \(stats.packets) frames, \(stats.interrupts.interrupts) interrupts, \(stats.interrupts.wakeups) wake-ups")
    try expect(seen.count == payloads.count, "received \(seen.count) of the \(payloads.count) datagrams the kernel sent (its tx_packets rose by \(tx1 - tx0))")
    return .pass
}

extension String {
    /// One decimal place.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
