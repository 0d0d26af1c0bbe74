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

import NVMe
import NVMeEmulator
import NVMeTCPTarget
import Testing
import VFIO

/// Malformed and truncated input: a C2HTermReq and a closed connection, never a crash, and the
/// other connections go on.
@Suite struct TargetTerminationTests {
    /// Feeds `bytes` to a fresh connection (after ICReq when `handshake`) and returns what came back.
    func feed(_ bytes: [UInt8], handshake: Bool = true, digests: DigestOptions = [], engine: inout TargetEngine<EmulatedNVMeController>) throws -> (HostQueue, [TargetPDU]) {
        var queue = HostQueue(connection: engine.openConnection())
        if handshake {
            _ = try queue.exchange(queue.initiator.icReq(digests: digests), on: &engine) { !$0.isEmpty }
            queue.initiator.format = PDUFormat(headerDigest: digests.contains(.header), dataDigest: digests.contains(.data))
        }
        _ = bytes.withUnsafeBytes { engine.receive(queue.connection, $0) }
        _ = try engine.poll()
        return (queue, queue.initiator.take(engine.takeOutput(queue.connection)))
    }

    func expectTerminated(_ pdus: [TargetPDU], _ status: TransportFatalError.Status, _ queue: HostQueue, _ engine: borrowing TargetEngine<EmulatedNVMeController>, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let term = pdus.last?.termination else {
            Issue.record("expected a C2HTermReq, got \(pdus)", sourceLocation: sourceLocation)
            return
        }
        #expect(term.knownStatus == status, "\(term)", sourceLocation: sourceLocation)
        do { let holds = engine.shouldClose(queue.connection); #expect(holds, sourceLocation: sourceLocation) }
    }

    @Test func capsuleBeforeICReqIsASequenceError() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        let (queue, pdus) = try feed(TestInitiator().capsule(.fabrics(.propertyGet)), handshake: false, engine: &engine)
        expectTerminated(pdus, .pduSequenceError, queue, engine)
    }

    @Test func undefinedPDUTypeQuotesTheHeader() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        let garbage: [UInt8] = [0x42, 0, 24, 0, 24, 0, 0, 0] + Array(repeating: 0xAB, count: 16)
        let (queue, pdus) = try feed(garbage, engine: &engine)
        expectTerminated(pdus, .invalidHeaderField, queue, engine)
        #expect(pdus.last?.termination?.information == 0)
        #expect(pdus.last?.termination?.quotedHeader == Array(garbage.prefix(24)))
    }

    @Test func secondICReqAndControllerToHostTypesAreRefused() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        let (q1, p1) = try feed(TestInitiator().icReq(), engine: &engine)
        expectTerminated(p1, .pduSequenceError, q1, engine)
        let r2t = encodePDU { R2TPDU(commandID: 1, transferTag: 0, offset: 0, length: 512).encode(format: .initial, into: $0) }
        let (q2, p2) = try feed(r2t, engine: &engine)
        expectTerminated(p2, .invalidHeaderField, q2, engine)
    }

    @Test func wrongHeaderDigestTerminates() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var initiator = TestInitiator()
        initiator.format = PDUFormat(headerDigest: true)
        var capsule = initiator.capsule(.fabrics(.propertyGet))
        capsule[72] ^= 1
        let (queue, pdus) = try feed(capsule, digests: [.header], engine: &engine)
        expectTerminated(pdus, .headerDigestError, queue, engine)
    }

    @Test func oversizedPDUIsALimitError() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var header = TestInitiator().capsule(.fabrics(.propertyGet))
        header.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(1 << 30).littleEndian, toByteOffset: 4, as: UInt32.self) }
        header[3] = 72
        header[1] = 0
        let (queue, pdus) = try feed(header, engine: &engine)
        expectTerminated(pdus, .dataTransferLimitExceeded, queue, engine)
    }

    @Test func h2cDataWithoutAnR2TTerminates() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        let stray = TestInitiator().h2cData(commandID: 3, transferTag: 5, offset: 0, pattern(512, seed: 0), last: true)
        let (queue, pdus) = try feed(stray, engine: &engine)
        expectTerminated(pdus, .invalidHeaderField, queue, engine)
    }

    @Test func h2cDataOutsideTheR2TTerminatesAndLeavesEveryBuffer() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, io) = try HostQueue.connectIO(&engine)
        var write = ioCommand(.write, lba: 0, blocks: 2)
        write.commandID = io.initiator.commandID()
        let asked = try io.exchange(io.initiator.capsule(write), on: &engine) { !$0.isEmpty }
        guard case .r2t(let r2t) = asked.first else { Issue.record("no R2T"); return }
        // A write waiting for its data holds no buffer (its first H2CData takes one).
        do { let holds = engine.availableBuffers == 8; #expect(holds) }
        let wrong = io.initiator.h2cData(commandID: write.commandID, transferTag: r2t.transferTag, offset: 512, pattern(1024, seed: 0), last: true)
        let answer = try io.exchange(wrong, on: &engine) { $0.contains { $0.termination != nil } }
        #expect(answer.last?.termination?.knownStatus == .dataTransferOutOfRange)
        engine.closeConnection(io.connection)
        do { let holds = engine.availableBuffers == 8; #expect(holds) }
        // The admin queue of the same host is not disturbed.
        let (alive, _) = try admin.command(SubmissionQueueEntry(opcode: AdminOpcode.keepAlive.rawValue), on: &engine)
        #expect(alive.status == .success)
    }

    @Test func truncatedPDUWaitsForTheRestAndAnswersNothing() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var queue = HostQueue(connection: engine.openConnection())
        let icReq = queue.initiator.icReq()
        for cut in [1, 7, 8, 64, 127] {
            let (q, pdus) = try feed(Array(icReq.prefix(cut)), handshake: false, engine: &engine)
            #expect(pdus.isEmpty, "cut at \(cut)")
            do { let holds = engine.phase(q.connection) == .awaitingICReq; #expect(holds) }
            engine.closeConnection(q.connection)
        }
        // Byte by byte, the same ICReq completes the handshake.
        for byte in icReq { _ = [byte].withUnsafeBytes { engine.receive(queue.connection, $0) } }
        let answer = queue.initiator.take(engine.takeOutput(queue.connection))
        guard case .icResp = answer.first else { Issue.record("no ICResp: \(answer)"); return }
    }

    @Test func seededRandomBytesNeverTrap() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var generator = SplitMix64(seed: 0x5EED)
        var closed = 0
        for round in 0..<200 {
            let handshake = round % 2 == 0
            let count = Int(generator.next() % 300)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            // Make the first byte a real type more often than chance would.
            if !bytes.isEmpty { bytes[0] = UInt8(generator.next() % 10) }
            let (queue, pdus) = try feed(bytes, handshake: handshake, engine: &engine)
            if engine.shouldClose(queue.connection) {
                closed += 1
                do { let holds = pdus.last?.termination != nil || engine.closeReason(queue.connection)?.contains("H2CTermReq") == true; #expect(holds) }
            }
            engine.closeConnection(queue.connection)
        }
        #expect(closed > 0)
        do { let holds = engine.availableBuffers == 8; #expect(holds) }
        #expect(fixture.subsystem.controllerCount == 0)
    }
}

