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

/// What arrived, by kind, on one queue or in all.
public struct FrameTally: Sendable {
    public var frames: UInt64 = 0
    public var bytes: UInt64 = 0
    /// Frames from the wanted source (all frames when no source was given).
    public var matched: UInt64 = 0
    public var arp: UInt64 = 0
    public var icmpEchoRequests: UInt64 = 0
    public var icmpOther: UInt64 = 0
    public var udp: UInt64 = 0
    public var otherIPv4: UInt64 = 0
    public var other: UInt64 = 0
    public var malformed: UInt64 = 0
    public var broadcast: UInt64 = 0
    public var cpuNanoseconds: UInt64 = 0
    public var interrupts: UInt64 = 0

    public init() {}

    @inlinable
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

    public static func + (a: FrameTally, b: FrameTally) -> FrameTally {
        var s = a
        s.frames += b.frames; s.bytes += b.bytes; s.matched += b.matched; s.arp += b.arp
        s.icmpEchoRequests += b.icmpEchoRequests; s.icmpOther += b.icmpOther; s.udp += b.udp
        s.otherIPv4 += b.otherIPv4; s.other += b.other; s.malformed += b.malformed; s.broadcast += b.broadcast
        s.cpuNanoseconds += b.cpuNanoseconds; s.interrupts += b.interrupts
        return s
    }
}

/// What `FrameReceiver` listens for.
public struct ReceiveSpec: Sendable {
    /// Stop after this many matching frames; nil: run for `seconds`.
    public var count: Int?
    /// The longest run time.
    public var seconds: Double
    /// Count as matching only frames from this MAC (nil: every frame).
    public var source: MACAddress?
    /// Frames per receive call.
    public var batch: Int
    public var mode: CompletionMode
    public var linkTimeoutMilliseconds: Int
    /// Emulated wire only: frames the peer sends (ICMP echo requests from sixteen addresses).
    public var peerFrames: Int
    /// Called on the queue's thread for every frame while it is lent to us: the frame, what it
    /// is, and the queue (`net recv --print`).
    public var onFrame: (@Sendable (UnsafeRawBufferPointer, FrameKind, Int) -> Void)?

    public init(count: Int?, seconds: Double, source: MACAddress?, batch: Int, mode: CompletionMode, linkTimeoutMilliseconds: Int,
                peerFrames: Int, onFrame: (@Sendable (UnsafeRawBufferPointer, FrameKind, Int) -> Void)? = nil) {
        self.count = count
        self.seconds = seconds
        self.source = source
        self.batch = batch
        self.mode = mode
        self.linkTimeoutMilliseconds = linkTimeoutMilliseconds
        self.peerFrames = peerFrames
        self.onFrame = onFrame
    }
}

/// What a receive run saw.
public struct ReceiveResult: Sendable {
    public var spec: ReceiveSpec
    public var total: FrameTally
    public var perQueue: [FrameTally]
    public var rate: PacketRate
    /// GPRC and MPC: what the NIC counted as received and as missed (no free descriptor).
    public var deviceReceived: UInt64
    public var deviceMissed: UInt64
    public var peer: EmulatedWirePeer.Report?
    /// Ended early by `shouldStop`; the figures are those so far.
    public var stopped: Bool
    /// Ended by the NIC's removal; the figures are those so far, and the NIC's own counters are
    /// 0, unread.
    public var removed = false

    @usableFromInline
    init(spec: ReceiveSpec, total: FrameTally, perQueue: [FrameTally], rate: PacketRate, deviceReceived: UInt64, deviceMissed: UInt64, peer: EmulatedWirePeer.Report?, stopped: Bool) {
        self.spec = spec
        self.total = total
        self.perQueue = perQueue
        self.rate = rate
        self.deviceReceived = deviceReceived
        self.deviceMissed = deviceMissed
        self.peer = peer
        self.stopped = stopped
    }

    /// The run's goal not met (fewer matching frames than asked for), or frames the emulated
    /// peer sent that did not arrive; nil when all is well or the run was stopped.
    public var problem: NICWorkloadError? {
        if stopped || removed { return nil }
        if let count = spec.count, total.matched < UInt64(count) {
            return .shortfall("received \(total.matched) of \(count) matching frames within \(seconds(spec.seconds))")
        }
        if let r = peer, spec.count == nil, total.frames < UInt64(r.injected) {
            return .shortfall("the emulated peer sent \(r.injected) frames, \(total.frames) arrived")
        }
        return nil
    }
}

/// `vfioctl net recv`: counts (and hands over) the frames that arrive, one thread per receive queue.
public enum FrameReceiver {
    @inlinable
    public static func run<Device: PCIFunction>(
        _ nic: E1000E<Device>, _ spec: ReceiveSpec, peer: EmulatedWirePeer?,
        shouldStop: (() -> Bool)? = nil, progress: ((RunProgress) -> Void)? = nil
    ) throws(NICWorkloadError) -> ReceiveResult {
        let queues = nic.options.receiveQueues
        var before = NICStatistics()
        let tallies = PerQueue(queues, FrameTally())
        // In the interrupt modes the peer's first frames wait for our queues to arm their causes,
        // so that the run takes an interrupt however late its threads start.
        var wakeCauses: InterruptCause = []
        if spec.mode.kind != .poll && nic.interruptKind == .msix {
            for q in 0..<queues { wakeCauses.formUnion(.receiveQueue(q)) }
        }
        let outcome = try QueueRun.run(
            queues: queues, seconds: spec.seconds, peer: peer,
            script: .inject(count: spec.peerFrames, ourMAC: nic.macAddress, ourIP: EmulatedWirePeer.ourIP, intervalMicroseconds: 100,
                            wakeCauses: wakeCauses),
            shouldStop: shouldStop, progress: progress
        ) { () throws(NICWorkloadError) in
            let receiveQueues = try QueueRun.handOffs(queues) { q throws(NICError) in try nic.makeReceiveQueue(q) }
            try nic.requireLink(timeoutMilliseconds: spec.linkTimeoutMilliseconds)
            before = nic.statistics()
            return receiveQueues
        } body: { receiveQueues, q, run, deadline throws(NICWorkloadError) in
            var rx = receiveQueues[q].take()
            tallies.set(q, try receive(&rx, spec: spec, deadline: deadline, run: run))
        }
        // A removed NIC's registers read all ones: no counts from it.
        let stats = outcome.removed ? before : nic.statistics()
        let perQueue = tallies.all
        let total = perQueue.reduce(FrameTally(), +)
        var result = ReceiveResult(
            spec: spec, total: total, perQueue: perQueue,
            rate: PacketRate(packets: total.frames, bytes: total.bytes, seconds: outcome.seconds, cpuNanoseconds: total.cpuNanoseconds,
                             cpuMHz: PacketRate.cpuMegahertz()),
            deviceReceived: stats.goodPacketsReceived &- before.goodPacketsReceived,
            deviceMissed: stats.missedPackets &- before.missedPackets, peer: outcome.peer, stopped: outcome.stopped)
        result.removed = outcome.removed
        return result
    }

    /// One queue's loop: receive batches until the deadline (coarse clock), the count or a stop,
    /// classifying each frame in place.
    @inlinable
    static func receive<Device: PCIFunction>(
        _ rx: inout ReceiveQueue<Device>, spec: ReceiveSpec, deadline: UInt64, run: QueueRun
    ) throws(NICWorkloadError) -> FrameTally {
        var t = FrameTally()
        let cpuStart = CPUTime.thread()
        do throws(NICError) {
            while !run.stopping {
                let now = MonotonicClock.coarseNanoseconds()
                if now >= deadline { break }
                let wait = Int(min(100, (deadline - now) / 1_000_000))
                let n = try rx.receive(batch: spec.batch, mode: spec.mode, timeoutMilliseconds: max(1, wait)) { packet in
                    let f = packet.bytes
                    t.frames += 1
                    t.bytes += UInt64(f.count)
                    let kind = FrameKind(f)
                    t.count(kind)
                    if f.count >= 6 && MACAddress(reading: f, at: 0) == .broadcast { t.broadcast += 1 }
                    if spec.source.map({ f.count >= 12 && MACAddress(reading: f, at: 6) == $0 }) ?? true {
                        t.matched += 1
                        run.met(1, of: spec.count)
                    }
                    spec.onFrame?(f, kind, packet.queue)
                }
                run.count(n)
            }
        } catch {
            // Removed: this queue ends with its figures so far, and the run with it.
            guard case .deviceRemoved = error else { throw .nic(error) }
            run.noteRemoval()
        }
        t.cpuNanoseconds = CPUTime.thread() &- cpuStart
        t.interrupts = rx.statistics.interrupts.interrupts
        return t
    }
}

/// "1.5 s", "12.3 ms": a run's length for a message.
@usableFromInline
func seconds(_ s: Double) -> String {
    s >= 1 ? "\(Double((s * 10).rounded()) / 10) s" : "\(Double((s * 10_000).rounded()) / 10) ms"
}
