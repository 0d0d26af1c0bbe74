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

/// What `PacketGenerator` sends: UDP test frames (`UDPTemplate`, from the NIC's own MAC) in
/// batches, for a count or a time.
public struct GeneratorSpec: Sendable {
    public var destination: MACAddress
    public var sourceIP: IPv4Address
    public var destinationIP: IPv4Address
    /// Frame length without the FCS, `UDPTemplate.lengths`.
    public var length: Int
    /// Frames in all, split over the queues; nil: send for `seconds`.
    public var count: Int?
    public var seconds: Double
    /// Frames per send call (one tail write each).
    public var batch: Int
    /// Transmit queues to use, from queue 0; nil: every one the NIC has.
    public var queues: Int?
    public var mode: CompletionMode
    public var linkTimeoutMilliseconds: Int

    public init(destination: MACAddress, sourceIP: IPv4Address, destinationIP: IPv4Address, length: Int, count: Int?,
                seconds: Double, batch: Int, queues: Int? = nil, mode: CompletionMode, linkTimeoutMilliseconds: Int) {
        self.destination = destination
        self.sourceIP = sourceIP
        self.destinationIP = destinationIP
        self.length = length
        self.count = count
        self.seconds = seconds
        self.batch = batch
        self.queues = queues
        self.mode = mode
        self.linkTimeoutMilliseconds = linkTimeoutMilliseconds
    }
}

/// What a generator run did.
public struct GeneratorResult: Sendable {
    public var template: UDPTemplate
    public var queues: Int
    public var rate: PacketRate
    /// GPTC: what the NIC counted as sent.
    public var deviceTransmitted: UInt64
    public var interrupts: UInt64 = 0
    public var backpressure: UInt64 = 0
    public var tailWrites: UInt64 = 0
    /// What the emulated wire's other end saw (nil on a real device).
    public var peer: EmulatedWirePeer.Report?
    /// Ended early by `shouldStop`; the figures are those so far.
    public var stopped: Bool
    /// Ended by the NIC's removal; the figures are those so far (frames handed to the NIC: those
    /// still in its ring when it went are lost), and `deviceTransmitted` is 0, unread.
    public var removed = false

    @usableFromInline
    init(template: UDPTemplate, queues: Int, rate: PacketRate, deviceTransmitted: UInt64, peer: EmulatedWirePeer.Report?, stopped: Bool) {
        self.template = template
        self.queues = queues
        self.rate = rate
        self.deviceTransmitted = deviceTransmitted
        self.peer = peer
        self.stopped = stopped
    }

    /// What the figures show went wrong: the emulated peer did not verify every frame sent, in
    /// order. Nil when all is well.
    public var problem: NICWorkloadError? {
        guard !removed, let r = peer, UInt64(r.framesVerified) != rate.packets || r.sequenceGaps != 0 else { return nil }
        return .shortfall("the emulated peer verified \(r.framesVerified) of \(rate.packets) frames (\(r.sequenceGaps) out of order)\(r.firstProblem.map { "; first problem: \($0)" } ?? "")")
    }
}

/// A packet generator in the manner of ixy's `ixy-pktgen` (`vfioctl net gen` and `net send`):
/// frames in batches, as fast as the transmit ring takes them, one thread per queue, then a wait
/// until the NIC has sent every one, so the time includes the last frame leaving.
///
/// Inlinable so that the queue loops are specialized for the caller's device type, as they were
/// when they lived in the tool.
public enum PacketGenerator {
    /// Sends `spec`'s frames. `shouldStop` (checked about ten times a second on the calling
    /// thread) ends the run early with the figures so far; `progress` is called about once a second.
    @inlinable
    public static func run<Device: PCIFunction>(
        _ nic: E1000E<Device>, _ spec: GeneratorSpec, peer: EmulatedWirePeer?,
        shouldStop: (() -> Bool)? = nil, progress: ((RunProgress) -> Void)? = nil
    ) throws(NICWorkloadError) -> GeneratorResult {
        let template = UDPTemplate(source: nic.macAddress, destination: spec.destination, sourceIP: spec.sourceIP,
                                   destinationIP: spec.destinationIP, length: spec.length)
        let queues = min(spec.queues ?? nic.options.transmitQueues, nic.options.transmitQueues)
        var before = NICStatistics()
        let results = PerQueue(queues, QueueResult())
        let outcome = try QueueRun.run(
            queues: queues, seconds: spec.seconds, peer: peer, script: .sink(template), shouldStop: shouldStop, progress: progress
        ) { () throws(NICWorkloadError) in
            try nic.requireLink(timeoutMilliseconds: spec.linkTimeoutMilliseconds)
            let transmitQueues = try QueueRun.handOffs(queues) { q throws(NICError) in try nic.makeTransmitQueue(q) }
            before = nic.statistics()
            return transmitQueues
        } body: { transmitQueues, q, run, deadline throws(NICWorkloadError) in
            var tx = transmitQueues[q].take()
            let share = spec.count.map { $0 / queues + (q == 0 ? $0 % queues : 0) }
            results.set(q, try generate(&tx, queue: q, template: template, batch: spec.batch, mode: spec.mode,
                                        packets: share, deadline: deadline, run: run))
        }
        // A removed NIC's registers read all ones: no count from it.
        let deviceSent = outcome.removed ? 0 : nic.statistics().goodPacketsTransmitted &- before.goodPacketsTransmitted
        let all = results.all
        var result = GeneratorResult(
            template: template, queues: queues,
            rate: PacketRate(packets: all.reduce(0) { $0 + $1.packets }, bytes: all.reduce(0) { $0 + $1.bytes }, seconds: outcome.seconds,
                             cpuNanoseconds: all.reduce(0) { $0 + $1.cpuNanoseconds }, cpuMHz: PacketRate.cpuMegahertz()),
            deviceTransmitted: deviceSent, peer: outcome.peer, stopped: outcome.stopped)
        result.removed = outcome.removed
        for r in all {
            result.interrupts += r.interrupts
            result.backpressure += r.backpressure
            result.tailWrites += r.tailWrites
        }
        return result
    }

    /// One queue's share of the work and what it did.
    @usableFromInline
    struct QueueResult: Sendable {
        @usableFromInline var packets: UInt64 = 0
        @usableFromInline var bytes: UInt64 = 0
        @usableFromInline var cpuNanoseconds: UInt64 = 0
        @usableFromInline var interrupts: UInt64 = 0
        @usableFromInline var backpressure: UInt64 = 0
        @usableFromInline var tailWrites: UInt64 = 0

        @usableFromInline init() {}
    }

    /// One queue's loop. Sends `packets` frames (or until `deadline`, by the coarse clock), then
    /// flushes. The template is written once; each frame is a copy of it with the sequence
    /// number stamped (queue in the top byte). When the ring is full, poll mode calls `send`
    /// again (which reclaims done descriptors), pausing as the mode's `SpinPolicy` says; interrupt and hybrid modes wait in `flush` for
    /// the transmit interrupt. Nothing is allocated per packet.
    @inlinable
    static func generate<Device: PCIFunction>(
        _ tx: inout TransmitQueue<Device>, queue: Int, template: UDPTemplate, batch: Int, mode: CompletionMode,
        packets: Int?, deadline: UInt64, run: QueueRun
    ) throws(NICWorkloadError) -> QueueResult {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: template.length, alignment: 64)
        defer { bytes.deallocate() }
        template.write(into: bytes)
        let source = UnsafeRawPointer(bytes.baseAddress!)
        let length = template.length
        let queueTag = UInt32(queue) << 24
        let cpuStart = CPUTime.thread()
        var sent = 0
        var removalPacer = IdleCheckPacer(start: MonotonicClock.coarseNanoseconds())
        var spinner = Spinner(mode.spin)
        do throws(NICError) {
            while !run.stopping {
                let want: Int
                if let packets {
                    if sent >= packets { break }
                    want = min(batch, packets - sent)
                } else {
                    if MonotonicClock.coarseNanoseconds() >= deadline { break }
                    want = batch
                }
                let n = try tx.send(count: want) { i, buffer in
                    buffer.baseAddress!.copyMemory(from: source, byteCount: length)
                    UDPTemplate.stamp(buffer, sequence: queueTag | UInt32(truncatingIfNeeded: sent &+ i) & 0xFF_FFFF)
                    return length
                }
                sent &+= n
                run.count(n)
                // Gone, or asked back by the kernel (which then waits for us): looked at once a
                // millisecond (one coarse clock read per batch), whether or not the ring has
                // room. A NIC that keeps taking frames after the request would otherwise keep
                // this loop, and the kernel's removal, going until the run's end.
                if removalPacer.isDue() { try tx.checkPresent() }
                if n != 0 { spinner.found() }
                if n < want {
                    if mode.kind == .poll {
                        // A full ring is this loop's empty check: spun on as the mode's
                        // `SpinPolicy` says, as `WaitLoop` spins on an empty ring.
                        if n == 0 { spinner.empty() }
                    } else {
                        try tx.flush(mode: mode, timeoutMilliseconds: 5000)
                    }
                }
            }
            try tx.flush(mode: mode, timeoutMilliseconds: 5000)
        } catch {
            // Removed: this queue ends with its figures so far, and the run with it.
            guard case .deviceRemoved = error else { throw .nic(error) }
            run.noteRemoval()
        }
        let s = tx.statistics
        var r = QueueResult()
        r.packets = UInt64(sent)
        r.bytes = UInt64(sent) &* UInt64(length)
        r.cpuNanoseconds = CPUTime.thread() &- cpuStart
        r.interrupts = s.interrupts.interrupts
        r.backpressure = s.backpressure
        r.tailWrites = s.tailWrites
        return r
    }
}
