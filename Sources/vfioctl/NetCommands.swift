#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import NIC
import NVMe
import NetFrames
import Synchronization
import VFIO

/// `vfioctl net ...`: drive an Intel 82574L (QEMU's e1000e) from userspace.
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

/// Shared state of one command's queue threads.
final class NetRun: Sendable {
    let stop = Atomic<Bool>(false)
    /// Frames that met the command's goal (matched, answered), across queues.
    let progress = Atomic<Int>(0)
    let failure = Mutex<String?>(nil)

    var stopping: Bool { stop.load(ordering: .relaxed) }

    func fail(_ error: any Error) {
        failure.withLock { if $0 == nil { $0 = "\(error)" } }
        stop.store(true, ordering: .relaxed)
    }

    func throwIfFailed() throws {
        if let message = failure.withLock({ $0 }) { throw ValidationFailure(message) }
    }
}

/// Per-queue results written by the queue threads.
final class PerQueue<Value: Sendable>: Sendable {
    private let values: Mutex<[Value]>
    init(_ count: Int, _ initial: Value) { values = Mutex(Array(repeating: initial, count: count)) }
    func set(_ q: Int, _ value: Value) { values.withLock { $0[q] = value } }
    var all: [Value] { values.withLock { $0 } }
}

/// A ~Copyable queue handed from the thread that made it to the thread that owns it from then on.
final class QueueHandOff<Queue: ~Copyable>: @unchecked Sendable {
    private var queue: Queue?
    init(_ queue: consuming Queue) { self.queue = consume queue }
    func take() -> Queue { queue.take()! }
}

/// A started thread, joined once (by whoever holds it; the peer keeps it behind a lock).
final class JoinableThread: @unchecked Sendable {
    private var thread: OSThread?
    init(_ thread: consuming OSThread) { self.thread = consume thread }
    func join() { thread.take()?.join() }
}

/// Runs `body(q)` for each queue on its own thread and waits for all.
func onQueueThreads(_ count: Int, _ run: NetRun, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    var threads: [JoinableThread] = []
    defer { for t in threads { t.join() } }
    for q in 0..<count {
        threads.append(JoinableThread(try OSThread(name: "net-q\(q)") {
            do { try body(q) } catch { run.fail(error) }
        }))
    }
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
            if json {
                print(JSON.object([
                    ("device", .string(nic.device.name)), ("model", .string("Intel 82574L (e1000e)")),
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

    /// Checks the options before the NIC is touched.
    func validate() throws {
        guard size >= Ethernet.minimumFrameLength && size <= Ethernet.maximumFrameLength else {
            throw ValidationFailure("--size \(size): a frame is \(Ethernet.minimumFrameLength)...\(Ethernet.maximumFrameLength) bytes without the FCS")
        }
        _ = try parseMAC(destinationMAC, what: "--dst-mac")
        _ = try parseIPv4(destinationIP, what: "--dst-ip")
        _ = try parseIPv4(sourceIP, what: "--src-ip")
    }

    func template(source: MACAddress) throws -> UDPTemplate {
        try validate()
        return UDPTemplate(source: source, destination: try parseMAC(destinationMAC, what: "--dst-mac"),
                           sourceIP: try parseIPv4(sourceIP, what: "--src-ip"),
                           destinationIP: try parseIPv4(destinationIP, what: "--dst-ip"), length: size)
    }
}

struct NetSend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send", abstract: "Send N UDP frames and wait until the NIC has sent each one.")
    @OptionGroup var target: NetDeviceOptions
    @OptionGroup var frame: FrameOptions
    @Option(help: "Frames to send.") var count: Int = 1
    @Flag(help: "Print JSON.") var json = false

    struct Job: NICJob {
        let count: Int
        let frame: FrameOptions
        let mode: CompletionMode
        let linkTimeout: Int
        let json: Bool

        func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws {
            let template = try frame.template(source: nic.macAddress)
            try peer?.start(.sink(destination: template.destination, length: template.length))
            try nic.requireLink(timeoutMilliseconds: linkTimeout)
            let before = nic.statistics()
            var tx = try nic.makeTransmitQueue(0)
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: template.length, alignment: 64)
            defer { bytes.deallocate() }
            template.write(into: bytes)
            let start = monotonicNanoseconds()
            var sent = 0
            while sent < count {
                let n = try tx.send(count: min(32, count - sent)) { i, buffer in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(bytes))
                    UDPTemplate.stamp(buffer, sequence: UInt32(truncatingIfNeeded: sent + i) & 0xFF_FFFF)
                    return template.length
                }
                sent += n
                if n == 0 { try tx.flush(mode: mode, timeoutMilliseconds: 5000) }
            }
            try tx.flush(mode: mode, timeoutMilliseconds: 5000)
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            let deviceSent = nic.statistics().goodPacketsTransmitted - before.goodPacketsTransmitted
            let report = peer?.stop()
            if json {
                var fields: [(String, JSON)] = [
                    ("device", .string(nic.device.name)), ("mode", .string(mode.description)),
                    ("sent", .int(sent)), ("bytes", .int(sent * template.length)), ("size", .int(template.length)),
                    ("seconds", .double(round3(seconds))), ("device_tx_packets", .uint(deviceSent)),
                    ("tail_writes", .uint(tx.statistics.tailWrites)),
                ]
                fields += peerFields(report)
                print(JSON.object(fields).render())
            } else {
                print("sent \(sent) frames of \(template.length) bytes to \(template.destination) in \(format1(seconds * 1000)) ms (mode \(mode)); the NIC counted \(deviceSent) (GPTC)")
                if let r = report { print("peer: received \(r.framesTaken), verified \(r.framesVerified), \(r.sequenceGaps) out of order") }
            }
            if let r = report, r.framesVerified != sent || r.sequenceGaps != 0 {
                throw ValidationFailure("the emulated peer verified \(r.framesVerified) of \(sent) frames (\(r.sequenceGaps) out of order)\(r.firstProblem.map { "; first problem: \($0)" } ?? "")")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            guard count > 0 else { throw ValidationFailure("--count must be greater than 0") }
            try frame.validate()
            _ = try target.nicOptions()
            try target.withNIC(Job(count: count, frame: frame, mode: try target.completionMode(),
                                   linkTimeout: try target.linkTimeoutMilliseconds(), json: json))
        }
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
