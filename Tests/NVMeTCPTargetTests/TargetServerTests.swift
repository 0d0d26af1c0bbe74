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
import NVMe
import NVMeEmulator
import NVMeTCPTarget
import Synchronization
import Testing
import VFIO

/// A blocking TCP client for the loopback tests, with a 5 s receive timeout so a silent target
/// fails the test instead of hanging it.
struct LoopbackClient: ~Copyable {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TargetError.socket("socket", errno: errno) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        let ok = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else {
            let e = errno
            close(fd)
            throw TargetError.socket("connect(127.0.0.1:\(port))", errno: e)
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TargetError.socket("send", errno: errno) }
            sent += n
        }
    }

    /// Reads until `done` holds for the PDUs framed so far; empty bytes mean the target closed.
    func receive(_ initiator: inout TestInitiator, until done: ([TargetPDU]) -> Bool) throws -> [TargetPDU] {
        var got: [TargetPDU] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !done(got) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else {
                if n == 0 { return got }
                throw TargetError.socket("recv", errno: errno)
            }
            got += initiator.take(Array(buffer[0..<n]))
        }
        return got
    }

    /// Sends a command and waits for its CapsuleResp; returns it and the C2H data before it.
    func command(_ entry: SubmissionQueueEntry, inCapsule data: [UInt8] = [], _ initiator: inout TestInitiator) throws -> (CompletionQueueEntry?, [UInt8]) {
        var e = entry
        e.commandID = initiator.commandID()
        try send(initiator.capsule(e, inCapsule: data))
        let pdus = try receive(&initiator) { $0.contains { $0.response != nil } }
        var bytes: [UInt8] = []
        for case .data(_, _, let chunk, _) in pdus { bytes += chunk }
        return (pdus.compactMap(\.response).first, bytes)
    }
}

/// What a server thread reports: its port once listening, its summary once stopped.
final class ServerRun: Sendable {
    let port = Atomic<UInt32>(0)
    let result = Mutex<String?>(nil)
    let summary = Mutex<TargetServerSummary?>(nil)
    let stop: EventFD
    init() throws { stop = try EventFD() }
}

/// A server thread and how to stop it.
struct RunningServer: ~Copyable {
    let run: ServerRun
    let thread: OSThread
    let port: UInt16

    /// Signals the stop eventfd, joins the thread and returns its summary line.
    consuming func stop() -> String {
        run.stop.signal()
        thread.join()
        return run.result.withLock { $0 } ?? "none"
    }
}

/// The target over real TCP on 127.0.0.1, in the process: a server thread, a client socket.
@Suite struct TargetServerTests {
    /// Starts a server for `fixture` on an ephemeral port of `address`, on its own thread.
    func startServer(_ fixture: TargetFixture, address: String = "127.0.0.1") throws -> RunningServer {
        let run = try ServerRun()
        let thread = try OSThread(name: "target server") { [fixture, run] in
            do {
                let listener = try TCPListener(ListenAddress(parsing: "\(address):0"))
                var server = TargetServer(engine: try fixture.makeEngine(), listener: listener)
                run.port.store(UInt32(server.address.port), ordering: .releasing)
                try server.run(stopFD: run.stop.rawValue)
                let s = server.summary
                let line = "accepted \(s.connectionsAccepted) commands \(s.totals.commands) read \(s.totals.readBytes) written \(s.totals.writtenBytes) outstanding \(server.outstanding)"
                run.summary.withLock { $0 = s }
                run.result.withLock { $0 = line }
            } catch {
                run.port.store(UInt32.max, ordering: .releasing)
                run.result.withLock { $0 = "error: \(error)" }
            }
        }
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while run.port.load(ordering: .acquiring) == 0, MonotonicClock.nanoseconds() < deadline { usleep(1000) }
        let p = run.port.load(ordering: .acquiring)
        guard p != 0, p != UInt32.max else {
            thread.detach()
            throw TargetError.socket("server did not start: \(run.result.withLock { $0 } ?? "?")", errno: 0)
        }
        return RunningServer(run: run, thread: thread, port: UInt16(p))
    }

    @Test func hostConnectsWritesAndReadsBackOverLoopbackThenTheServerStops() throws {
        let fixture = try TargetFixture()
        let server = try startServer(fixture)
        let port = server.port

        var adminInitiator = TestInitiator()
        let admin = try LoopbackClient(port: port)
        try admin.send(adminInitiator.icReq(digests: [.header, .data]))
        guard case .icResp(let icResp)? = try admin.receive(&adminInitiator, until: { !$0.isEmpty }).first else {
            Issue.record("no ICResp")
            return
        }
        #expect(icResp.digests == [.header, .data])
        adminInitiator.format = PDUFormat(headerDigest: true, dataDigest: true)
        func connectData(_ cntlid: UInt16) -> [UInt8] {
            var data = [UInt8](repeating: 0, count: ConnectData.size)
            data.withUnsafeMutableBytes {
                ConnectData(hostID: testHostID, controllerID: cntlid, subsystemNQN: TargetConfiguration.defaultNQN, hostNQN: testHostNQN).encode(into: $0)
            }
            return data
        }
        let (connected, _) = try admin.command(ConnectCommand(queueID: 0, submissionQueueSize: 31, keepAliveTimeoutMilliseconds: 10000).entry,
                                               inCapsule: connectData(0xFFFF), &adminInitiator)
        #expect(connected?.status == .success)
        let cntlid = UInt16(truncatingIfNeeded: connected?.commandSpecific ?? 0)
        let (enabled, _) = try admin.command(PropertyCommand(eightBytes: false, offset: 0x14, value: 1 | 6 << 16 | 4 << 20).entry(.propertySet), &adminInitiator)
        #expect(enabled?.status == .success)

        var ioInitiator = TestInitiator()
        let io = try LoopbackClient(port: port)
        try io.send(ioInitiator.icReq(digests: [.header, .data]))
        _ = try io.receive(&ioInitiator) { !$0.isEmpty }
        ioInitiator.format = adminInitiator.format
        let (ioConnected, _) = try io.command(ConnectCommand(queueID: 1, submissionQueueSize: 31).entry, inCapsule: connectData(cntlid), &ioInitiator)
        #expect(ioConnected?.status == .success)

        // 64 KiB through an R2T and H2CData PDUs of 16 KiB, then read back.
        let data = pattern(65536, seed: 0x77)
        var write = ioCommand(.write, lba: 2048, blocks: 128)
        write.commandID = ioInitiator.commandID()
        try io.send(ioInitiator.capsule(write))
        guard case .r2t(let r2t)? = try io.receive(&ioInitiator, until: { !$0.isEmpty }).first else {
            Issue.record("no R2T")
            return
        }
        for offset in stride(from: 0, to: data.count, by: 16384) {
            try io.send(ioInitiator.h2cData(commandID: write.commandID, transferTag: r2t.transferTag, offset: offset,
                                            Array(data[offset..<(offset + 16384)]), last: offset + 16384 == data.count))
        }
        let written = try io.receive(&ioInitiator) { $0.contains { $0.response != nil } }
        #expect(written.compactMap(\.response).first?.status == .success)
        let (read, back) = try io.command(ioCommand(.read, lba: 2048, blocks: 128), &ioInitiator)
        #expect(read?.status == .success)
        #expect(back == data)

        // A malformed PDU on the I/O queue: a C2HTermReq, then the target closes that socket.
        try io.send([0x42, 0, 24, 0, 24, 0, 0, 0] + Array(repeating: 0, count: 16))
        let end = try io.receive(&ioInitiator) { $0.contains { $0.termination != nil } }
        #expect(end.last?.termination?.knownStatus == .invalidHeaderField)
        #expect(try io.receive(&ioInitiator) { _ in false }.isEmpty)  // end of stream

        // The admin queue still answers; then the host disconnects it.
        let (alive, _) = try admin.command(SubmissionQueueEntry(opcode: AdminOpcode.keepAlive.rawValue), &adminInitiator)
        #expect(alive?.status == .success)
        let (bye, _) = try admin.command(.fabrics(.disconnect), &adminInitiator)
        #expect(bye?.status == .success)
        #expect(try admin.receive(&adminInitiator) { _ in false }.isEmpty)

        let run = server.run
        let summary = server.stop()
        #expect(summary == "accepted 2 commands 7 read 65536 written 65536 outstanding 0")
        #expect(fixture.subsystem.controllerCount == 0)

        // A report per connection, in the order they closed: the I/O queue (terminated), then the admin queue.
        let reports = run.summary.withLock { $0 }?.connections ?? []
        #expect(reports.count == 2)
        guard reports.count == 2 else { return }
        let (ioReport, adminReport) = (reports[0], reports[1])
        #expect(ioReport.hostNQN == testHostNQN && ioReport.controllerID == cntlid && ioReport.queueID == 1)
        #expect(ioReport.peer?.hasPrefix("127.0.0.1:") == true)
        #expect(ioReport.terminated)
        #expect(ioReport.closeReason?.hasPrefix("terminated: ") == true)
        // Connect, write, read; ICReq, 3 capsules and 4 H2CData in; ICResp, 3 responses, R2T, C2HData, C2HTermReq out.
        #expect(ioReport.statistics.commands == 3)
        #expect(ioReport.statistics.readBytes == 65536 && ioReport.statistics.writtenBytes == 65536)
        #expect(ioReport.statistics.pdusReceived == 8 && ioReport.statistics.pdusSent == 7)
        #expect(ioReport.statistics.r2ts == 1)
        #expect(ioReport.statistics.bytesReceived > 65536 && ioReport.statistics.bytesSent > 65536)
        #expect(adminReport.queueID == 0 && adminReport.controllerID == cntlid && adminReport.hostNQN == testHostNQN)
        #expect(!adminReport.terminated)
        #expect(adminReport.closeReason == "host disconnected queue 0")
        #expect(adminReport.statistics.commands == 4 && adminReport.statistics.pdusReceived == 5 && adminReport.statistics.pdusSent == 5)
        #expect(run.summary.withLock { $0 }?.terminations == 1)
    }

    @Test func stopWithConnectedHostsClosesThemAndDrainsTheBackend() throws {
        let fixture = try TargetFixture()
        let server = try startServer(fixture)
        let port = server.port
        var initiator = TestInitiator()
        let client = try LoopbackClient(port: port)
        try client.send(initiator.icReq())
        _ = try client.receive(&initiator) { !$0.isEmpty }
        server.run.stop.signal()
        #expect(try client.receive(&initiator) { _ in false }.isEmpty)  // closed by the target
        #expect(server.stop().hasSuffix("outstanding 0"))
    }

    @Test func discoveryOverLoopbackFromATargetOnAnyAddressNamesTheLoopbackAddress() throws {
        var configuration = TargetConfiguration(queueEntries: 32, bufferCount: 8)
        configuration.listenAddress = try ListenAddress(parsing: "0.0.0.0:4420")
        let fixture = try TargetFixture(configuration: configuration)
        let server = try startServer(fixture, address: "0.0.0.0")
        var initiator = TestInitiator()
        let client = try LoopbackClient(port: server.port)
        try client.send(initiator.icReq())
        _ = try client.receive(&initiator) { !$0.isEmpty }
        var data = [UInt8](repeating: 0, count: ConnectData.size)
        data.withUnsafeMutableBytes {
            ConnectData(hostID: testHostID, controllerID: 0xFFFF, subsystemNQN: discoveryNQN, hostNQN: testHostNQN).encode(into: $0)
        }
        let (connected, _) = try client.command(ConnectCommand(queueID: 0, submissionQueueSize: 31).entry, inCapsule: data, &initiator)
        #expect(connected?.status == .success)
        var log = SubmissionQueueEntry.getLogPage(.discovery, dwords: 512, namespaceID: 0)
        log.setFirstSGL(.transportData(length: 2048))
        let (read, bytes) = try client.command(log, &initiator)
        #expect(read?.status == .success)
        let entry = bytes.count == 2048 ? bytes.withUnsafeBytes { DiscoveryLogEntry(bytes: UnsafeRawBufferPointer(rebasing: $0[1024...])) } : nil
        #expect(entry?.address == "127.0.0.1")
        #expect(entry?.subsystemNQN == TargetConfiguration.defaultNQN)
        #expect(server.stop().hasSuffix("outstanding 0"))
    }

    @Test func listenAddressParsing() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:4420") == ListenAddress(address: 0x7F00_0001, port: 4420))
        #expect(try ListenAddress(parsing: "10.0.0.2:0").description == "10.0.0.2:0")
        for bad in ["127.0.0.1", "localhost:4420", "127.0.0.1:70000", "1.2.3:4", ":4420", "127.0.0.256:1"] {
            #expect(throws: TargetError.badListenAddress(bad)) { try ListenAddress(parsing: bad) }
        }
    }
}
