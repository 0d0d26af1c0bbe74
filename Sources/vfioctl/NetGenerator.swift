#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import NIC
import NetFrames
import Synchronization
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

    /// One queue's share of the work and what it did.
    struct QueueResult: Sendable {
        var packets: UInt64 = 0
        var bytes: UInt64 = 0
        var cpuNanoseconds: UInt64 = 0
        var interrupts: UInt64 = 0
        var backpressure: UInt64 = 0
        var tailWrites: UInt64 = 0
    }

    struct Job: NICJob {
        let count: Int?
        let seconds: Double
        let batch: Int
        let frame: FrameOptions
        let mode: CompletionMode
        let linkTimeout: Int
        let json: Bool

        func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
            let template = try frame.template(source: nic.macAddress)
            let queues = nic.options.transmitQueues
            try peer?.start(.sink(destination: template.destination, length: template.length))
            try nic.requireLink(timeoutMilliseconds: linkTimeout)
            var handOffs: [QueueHandOff<TransmitQueue<Device>>] = []
            for q in 0..<queues { handOffs.append(QueueHandOff(try nic.makeTransmitQueue(q))) }
            let before = nic.statistics()
            let run = NetRun()
            let results = PerQueue(queues, QueueResult())
            let (batch, mode, count, seconds) = (self.batch, self.mode, self.count, self.seconds)
            let start = monotonicNanoseconds()
            let queueHandOffs = handOffs
            try onQueueThreads(queues, run) { q in
                var tx = queueHandOffs[q].take()
                let share = count.map { $0 / queues + (q == 0 ? $0 % queues : 0) }
                let r = try generate(&tx, queue: q, template: template, batch: batch, mode: mode, packets: share,
                                     deadline: start + UInt64(seconds * 1e9), run: run)
                results.set(q, r)
            }
            let elapsed = Double(monotonicNanoseconds() - start) / 1e9
            try run.throwIfFailed()
            let deviceSent = nic.statistics().goodPacketsTransmitted - before.goodPacketsTransmitted
            let report = peer?.stop()
            let all = results.all
            let rate = PacketRate(packets: all.reduce(0) { $0 + $1.packets }, bytes: all.reduce(0) { $0 + $1.bytes },
                                  seconds: elapsed, cpuNanoseconds: all.reduce(0) { $0 + $1.cpuNanoseconds }, cpuMHz: cpuMegahertz())
            if json {
                var fields: [(String, JSON)] = [
                    ("device", .string(nic.device.name)), ("mode", .string(mode.description)), ("queues", .int(queues)),
                    ("batch", .int(batch)), ("size", .int(template.length)), ("destination", .string(template.destination.description)),
                ]
                fields += rate.json
                fields += [
                    ("device_tx_packets", .uint(deviceSent)),
                    ("interrupts", .uint(all.reduce(0) { $0 + $1.interrupts })),
                    ("backpressure", .uint(all.reduce(0) { $0 + $1.backpressure })),
                    ("tail_writes", .uint(all.reduce(0) { $0 + $1.tailWrites })),
                ]
                fields += peerFields(report)
                print(JSON.object(fields).render())
            } else {
                print("gen \(template.length) B to \(template.destination), mode \(mode), \(queues) queue(s), batch \(batch) on \(nic.device.name)")
                print("  \(rate.text)")
                print("  NIC counted \(deviceSent) sent (GPTC); \(all.reduce(0) { $0 + $1.tailWrites }) tail writes, \(all.reduce(0) { $0 + $1.interrupts }) interrupts")
                if let r = report { print("  peer: received \(r.framesTaken), verified \(r.framesVerified), \(r.sequenceGaps) out of order") }
            }
            if let r = report, UInt64(r.framesVerified) != rate.packets || r.sequenceGaps != 0 {
                throw ValidationFailure("the emulated peer verified \(r.framesVerified) of \(rate.packets) frames (\(r.sequenceGaps) out of order)\(r.firstProblem.map { "; first problem: \($0)" } ?? "")")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            if let count, count <= 0 { throw ValidationFailure("--count must be greater than 0") }
            guard batch >= 1 && batch <= 512 else { throw ValidationFailure("--batch \(batch): use 1...512") }
            try frame.validate()
            try target.withNIC(Job(count: count, seconds: try parseDuration(time, what: "--time"), batch: batch, frame: frame,
                                   mode: try target.completionMode(), linkTimeout: try target.linkTimeoutMilliseconds(), json: json))
        }
    }
}

/// One queue's generator loop. Sends `packets` frames (or until `deadline`), then waits until
/// the NIC has sent every one, so the time includes the last frame leaving.
///
/// The template is written once; each frame is a copy of it with the sequence number stamped
/// (queue in the top byte). When the ring is full, poll mode calls `send` again (which reclaims
/// done descriptors); interrupt and hybrid modes wait in `flush` for the transmit interrupt.
func generate<Device: PCIFunction>(
    _ tx: inout TransmitQueue<Device>, queue: Int, template: UDPTemplate, batch: Int, mode: CompletionMode,
    packets: Int?, deadline: UInt64, run: NetRun
) throws -> NetGen.QueueResult {
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: template.length, alignment: 64)
    defer { bytes.deallocate() }
    template.write(into: bytes)
    let source = UnsafeRawPointer(bytes.baseAddress!)
    let length = template.length
    let queueTag = UInt32(queue) << 24
    let cpuStart = threadCPUNanoseconds()
    var sent = 0
    while !run.stopping {
        let want: Int
        if let packets {
            if sent >= packets { break }
            want = min(batch, packets - sent)
        } else {
            if monotonicNanoseconds() >= deadline { break }
            want = batch
        }
        let n = try tx.send(count: want) { i, buffer in
            buffer.baseAddress!.copyMemory(from: source, byteCount: length)
            UDPTemplate.stamp(buffer, sequence: queueTag | UInt32(truncatingIfNeeded: sent &+ i) & 0xFF_FFFF)
            return length
        }
        sent &+= n
        if n < want {
            if mode.kind == .poll {
                Barrier.cpuPause()
            } else {
                try tx.flush(mode: mode, timeoutMilliseconds: 5000)
            }
        }
    }
    try tx.flush(mode: mode, timeoutMilliseconds: 5000)
    let s = tx.statistics
    return NetGen.QueueResult(
        packets: UInt64(sent), bytes: UInt64(sent) * UInt64(length), cpuNanoseconds: threadCPUNanoseconds() - cpuStart,
        interrupts: s.interrupts.interrupts, backpressure: s.backpressure, tailWrites: s.tailWrites)
}
