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
import NIC
import NICEmulator
import NetFrames
import Synchronization
import VFIO

/// The other end of the emulated NIC's wire, standing in for what a VM's kernel does across the
/// QEMU hub: it takes every frame our driver sends and checks it, and it sends frames that our
/// driver must receive or answer. It runs on its own thread and only uses the emulator's public
/// wire (`inject(frame:)`, `takeTransmittedFrames()`), so what it reports is what crossed the wire.
public final class EmulatedWirePeer: Sendable {
    /// The peer's own addresses (as the kernel side's are in the VM).
    public static let mac = MACAddress(0x52, 0x54, 0x00, 0xEE, 0xEE, 0x01)
    public static let ip = IPv4Address(10, 77, 0, 1)
    /// The address the peer sends its echo requests to when it only injects (`net recv`).
    public static let ourIP = IPv4Address(10, 77, 0, 2)

    /// What the peer does while a command runs.
    public enum Script: Sendable {
        /// Take what we send; check each frame against the generator's template (addresses,
        /// length, bytes) and per queue consecutive sequence numbers.
        case sink(UDPTemplate)
        /// Send `count` ICMP echo requests to `ourMAC`/`ourIP`, `interval` microseconds apart,
        /// once the command is ready; take whatever comes back. With `wakeCauses` (MSI-X), the
        /// first two frames each wait until IMS holds all of them (`waitArmed`).
        case inject(count: Int, ourMAC: MACAddress, ourIP: IPv4Address, intervalMicroseconds: UInt32, wakeCauses: InterruptCause = [])
        /// Play `ping`: resolve `ourIP` by ARP, then send `count` echo requests one at a time and
        /// check each reply (addresses, identifier, sequence, payload); a second without a reply
        /// counts as lost.
        case ping(count: Int, ourIP: IPv4Address)
        /// Send `count` UDP frames to `ourMAC` and count those that come back with the MACs
        /// swapped and the bytes otherwise unchanged (`net echo --reflect`).
        case reflect(count: Int, ourMAC: MACAddress)
    }

    /// What the peer saw.
    public struct Report: Sendable {
        public var framesTaken = 0
        public var framesVerified = 0
        public var framesBad = 0
        public var sequenceGaps = 0
        public var injected = 0
        public var injectRefused = 0
        public var arpResolved = false
        public var resolvedMAC: MACAddress?
        public var pingsSent = 0
        public var pingsAnswered = 0
        public var reflected = 0
        public var firstProblem: String?

        mutating func problem(_ text: String) {
            framesBad += 1
            if firstProblem == nil { firstProblem = text }
        }
    }

    public let device: EmulatedE1000E
    private let ready = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let scriptDone = Atomic<Bool>(false)
    private let report = Mutex<Report>(Report())
    private let thread = Mutex<JoinableThread?>(nil)

    public init(device: EmulatedE1000E) {
        self.device = device
    }

    /// Starts the peer's thread with `script`. Frames it sends wait until `markReady()`.
    public func start(_ script: Script) throws(NICWorkloadError) {
        let worker: JoinableThread
        do {
            worker = JoinableThread(try OSThread(name: "wire peer") { [self] in
                var r = Report()
                run(script, &r)
                let finished = r
                report.withLock { $0 = finished }
            })
        } catch {
            throw .vfio(error)
        }
        thread.withLock { $0 = worker }
    }

    /// The command's queues exist and the link is up: the peer may send.
    public func markReady() { ready.store(true, ordering: .releasing) }

    /// Whether the script has sent (and, for ping, waited for) everything.
    public var isDone: Bool { scriptDone.load(ordering: .acquiring) }

    /// Stops the peer after it has taken what is on the wire, and returns its report.
    public func stop() -> Report {
        // Let frames sent just before the stop reach the outbox (threaded emulator).
        usleep(20_000)
        stopRequested.store(true, ordering: .releasing)
        let worker = thread.withLock { t -> JoinableThread? in t.take() }
        worker?.join()
        return report.withLock { $0 }
    }

    // MARK: - The peer's thread

    private func waitReady() -> Bool {
        while !ready.load(ordering: .acquiring) {
            if stopRequested.load(ordering: .acquiring) { return false }
            usleep(200)
        }
        return true
    }

    private var stopping: Bool { stopRequested.load(ordering: .acquiring) }

    /// Waits until the device has written `landed` frames into its rings and then IMS holds every cause in
    /// `causes` (false: stopped first). Frame 0 then lands on an armed cause and is signalled;
    /// waiting again before frame 1 means a queue re-armed after that message (EIAC cleared its
    /// cause as it fired, in the step that wrote the frame), and the drain that follows every
    /// re-arm counts it. Without this, a receiver whose thread starts late finds every frame
    /// already there and rightly takes no interrupt.
    private func waitArmed(_ causes: InterruptCause, landed: Int) -> Bool {
        while device.statistics.framesReceived < landed
            || !InterruptCause(rawValue: device.peekRegister(E1000ERegister.interruptMaskSet.offset)).isSuperset(of: causes) {
            if stopping { return false }
            usleep(50)
        }
        return true
    }

    private func run(_ script: Script, _ r: inout Report) {
        switch script {
        case .sink(let template):
            var next: [UInt32: UInt32] = [:]
            while true {
                let last = stopping
                for frame in device.takeTransmittedFrames() {
                    r.framesTaken += 1
                    check(frame.bytes, template, next: &next, &r)
                }
                if last { break }
                usleep(200)
            }
            scriptDone.store(true, ordering: .releasing)

        case .inject(let count, let ourMAC, let ourIP, let interval, let wakeCauses):
            guard waitReady() else { return }
            var frame = [UInt8](repeating: 0, count: 128)
            let landedBefore = device.statistics.framesReceived
            for n in 0..<count where !stopping {
                if n < 2 && !wakeCauses.isEmpty && !waitArmed(wakeCauses, landed: landedBefore + n) { break }
                // Sixteen source addresses, so that RSS (which hashes the IPv4 addresses) has
                // flows to spread over two queues.
                let source = IPv4Address(10, 77, 1, UInt8(n % 16 + 1))
                let length = frame.withUnsafeMutableBytes {
                    ICMPEcho.writeRequest(into: $0, from: Self.mac, to: ourMAC, sourceIP: source, destinationIP: ourIP,
                                     identifier: 0x4E49, sequence: UInt16(truncatingIfNeeded: n), payload: 56)
                }
                if device.inject(frame: Array(frame[0..<length])) { r.injected += 1 } else { r.injectRefused += 1 }
                r.framesTaken += device.takeTransmittedFrames().count
                if interval > 0 { usleep(interval) }
            }
            scriptDone.store(true, ordering: .releasing)
            while !stopping {
                r.framesTaken += device.takeTransmittedFrames().count
                usleep(500)
            }
            r.framesTaken += device.takeTransmittedFrames().count

        case .ping(let count, let ourIP):
            guard waitReady() else { return }
            ping(count: count, ourIP: ourIP, &r)
            scriptDone.store(true, ordering: .releasing)
            while !stopping { usleep(500) }
            r.framesTaken += device.takeTransmittedFrames().count

        case .reflect(let count, let ourMAC):
            guard waitReady() else { return }
            let template = UDPTemplate(source: Self.mac, destination: ourMAC, sourceIP: Self.ip,
                                       destinationIP: Self.ourIP, length: 128)
            var frame = [UInt8](repeating: 0, count: template.length)
            frame.withUnsafeMutableBytes { template.write(into: $0) }
            var sent: [[UInt8]] = []
            for n in 0..<count where !stopping {
                frame.withUnsafeMutableBytes { UDPTemplate.stamp($0, sequence: UInt32(n)) }
                if device.inject(frame: frame) { r.injected += 1; sent.append(frame) } else { r.injectRefused += 1 }
                usleep(1000)
                collectReflections(sent: sent, ourMAC: ourMAC, &r)
            }
            let deadline = MonotonicClock.nanoseconds() + 2_000_000_000
            while r.reflected < r.injected && MonotonicClock.nanoseconds() < deadline && !stopping {
                usleep(1000)
                collectReflections(sent: sent, ourMAC: ourMAC, &r)
            }
            scriptDone.store(true, ordering: .releasing)
            while !stopping { usleep(500) }
            collectReflections(sent: sent, ourMAC: ourMAC, &r)
        }
    }

    /// A generator frame: the template's bytes, and its queue's next sequence number (the top
    /// byte of the sequence names the queue).
    private func check(_ bytes: [UInt8], _ template: UDPTemplate, next: inout [UInt32: UInt32], _ r: inout Report) {
        bytes.withUnsafeBytes { f in
            if let problem = template.mismatch(f) { return r.problem(problem) }
            guard let sequence = UDPTemplate.sequence(of: f) else { return r.problem("no sequence number") }
            let queue = sequence >> 24
            if sequence & 0xFF_FFFF != next[queue] ?? 0 { r.sequenceGaps += 1 }
            next[queue] = ((sequence & 0xFF_FFFF) &+ 1) & 0xFF_FFFF
            r.framesVerified += 1
        }
    }

    private func ping(count: Int, ourIP: IPv4Address, _ r: inout Report) {
        var frame = [UInt8](repeating: 0, count: 128)
        // ARP first, as the kernel would: one request every 100 ms until answered (5 s at most).
        let arpDeadline = MonotonicClock.nanoseconds() + 5_000_000_000
        var lastRequest: UInt64 = 0
        while r.resolvedMAC == nil && MonotonicClock.nanoseconds() < arpDeadline && !stopping {
            if MonotonicClock.nanoseconds() - lastRequest > 100_000_000 {
                let length = frame.withUnsafeMutableBytes { ARP.writeRequest(into: $0, senderMAC: Self.mac, senderIP: Self.ip, target: ourIP) }
                if device.inject(frame: Array(frame[0..<length])) { r.injected += 1 }
                lastRequest = MonotonicClock.nanoseconds()
            }
            for f in device.takeTransmittedFrames() {
                r.framesTaken += 1
                f.bytes.withUnsafeBytes { b in
                    // An ARP reply to us about ourIP (RFC 826: the sender fields are the answer).
                    guard case .arpReply(let mac, ourIP, Self.mac, Self.ip) = FrameKind(b),
                          MACAddress(reading: b, at: 0) == Self.mac else { return }
                    r.resolvedMAC = mac
                }
            }
            usleep(200)
        }
        guard let theirMAC = r.resolvedMAC else { r.firstProblem = r.firstProblem ?? "no ARP reply for \(ourIP)"; return }
        r.arpResolved = true
        for seq in 1...max(1, count) where !stopping {
            let length = frame.withUnsafeMutableBytes {
                ICMPEcho.writeRequest(into: $0, from: Self.mac, to: theirMAC, sourceIP: Self.ip, destinationIP: ourIP,
                                 identifier: 0x5046, sequence: UInt16(truncatingIfNeeded: seq), payload: 56)
            }
            let request = Array(frame[0..<length])
            guard device.inject(frame: request) else { r.injectRefused += 1; continue }
            r.injected += 1
            r.pingsSent += 1
            let deadline = MonotonicClock.nanoseconds() + 1_000_000_000
            var answered = false
            while !answered && MonotonicClock.nanoseconds() < deadline {
                // Read before looking: a reply sent before the stop is still seen, however long
                // this thread waited for a CPU after its last sleep.
                let last = stopping
                for f in device.takeTransmittedFrames() {
                    r.framesTaken += 1
                    if isEchoReply(f.bytes, to: request, from: theirMAC) { answered = true } else if f.bytes.count >= 14 && f.bytes[12] == 0x08 && f.bytes[13] == 0x00 {
                        r.problem("an IPv4 frame that is not the reply to echo request \(seq)")
                    }
                }
                if last { break }
                if !answered { usleep(100) }
            }
            if answered { r.pingsAnswered += 1 }
        }
    }

    /// Whether `reply` answers `request` (RFC 792): MACs and IPs swapped, type 0, same
    /// identifier, sequence and data, both checksums right.
    private func isEchoReply(_ reply: [UInt8], to request: [UInt8], from theirMAC: MACAddress) -> Bool {
        reply.withUnsafeBytes { a in
            request.withUnsafeBytes { q in
                guard case .icmpEchoReply = FrameKind(a), a.count >= 42, q.count >= 42 else { return false }
                guard MACAddress(reading: a, at: 0) == Self.mac, MACAddress(reading: a, at: 6) == theirMAC,
                      a.be32(26) == q.be32(30), a.be32(30) == q.be32(26) else { return false }
                let total = Int(q.be16(16))
                guard Int(a.be16(16)) == total, a.count >= 14 + total else { return false }
                // Identifier, sequence and data: ICMP bytes 4 onwards.
                for i in (34 + 4)..<(14 + total) where a[i] != q[i] { return false }
                return true
            }
        }
    }

    private func collectReflections(sent: [[UInt8]], ourMAC: MACAddress, _ r: inout Report) {
        for f in device.takeTransmittedFrames() {
            r.framesTaken += 1
            let ok = f.bytes.withUnsafeBytes { b -> Bool in
                guard b.count >= UDPTemplate.sequenceOffset + 4 else { return false }
                let n = Int(b.be32(UDPTemplate.sequenceOffset))
                guard n < sent.count, b.count == sent[n].count,
                      MACAddress(reading: b, at: 0) == Self.mac, MACAddress(reading: b, at: 6) == ourMAC else { return false }
                for i in 12..<b.count where b[i] != sent[n][i] { return false }
                return true
            }
            if ok { r.reflected += 1 } else { r.problem("a frame that is not a reflection of one sent") }
        }
    }
}
