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

/// The target's connection state machine against the emulated controller, driven at PDU level by
/// the test initiator (no sockets).
@Suite struct TargetEngineTests {
    @Test func adminConnectCreatesAControllerThatPropertiesEnable() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine)
        #expect(connected.status == .success)
        let cntlid = UInt16(truncatingIfNeeded: connected.commandSpecific)
        #expect(cntlid >= 1 && cntlid <= 0xFFEF)
        do { let holds = engine.queue(admin.connection)?.controllerID == cntlid; #expect(holds) }

        let (cap, _) = try admin.command(PropertyCommand(eightBytes: true, offset: 0).entry(.propertyGet), on: &engine)
        let capabilities = Capabilities(rawValue: UInt64(cap.commandSpecific) | UInt64(cap.reserved) << 32)
        #expect(capabilities.maxQueueEntryCount == 32)
        #expect(capabilities.supportsNVMCommandSet)
        let (vs, _) = try admin.command(PropertyCommand(eightBytes: false, offset: 8).entry(.propertyGet), on: &engine)
        #expect(vs.commandSpecific == 0x0001_0400)

        var (csts, _) = try admin.command(PropertyCommand(eightBytes: false, offset: 0x1C).entry(.propertyGet), on: &engine)
        #expect(!ControllerStatus(rawValue: csts.commandSpecific).ready)
        try admin.enable(on: &engine)
        (csts, _) = try admin.command(PropertyCommand(eightBytes: false, offset: 0x1C).entry(.propertyGet), on: &engine)
        #expect(ControllerStatus(rawValue: csts.commandSpecific).ready)

        // A property the target does not have, and a write to a read-only one.
        let (bad, _) = try admin.command(PropertyCommand(eightBytes: false, offset: 0x40).entry(.propertyGet), on: &engine)
        #expect(bad.status == .invalidFieldInCommand)
        let (readOnly, _) = try admin.command(PropertyCommand(eightBytes: false, offset: 0x08, value: 1).entry(.propertySet), on: &engine)
        #expect(readOnly.status == .invalidFieldInCommand)
    }

    @Test func connectRefusesAnotherSubsystemAndStrayControllerIDs() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        let (_, wrongNQN) = try HostQueue.connect(&engine, subsystemNQN: "nqn.2026-01.example:other")
        #expect(wrongNQN.status == .connectInvalidParameters)
        #expect(wrongNQN.commandSpecific == ConnectInvalidParameter.subsystemNQN.dword0)
        // An I/O queue of a controller that does not exist.
        let (_, noController) = try HostQueue.connect(&engine, queueID: 1, controllerID: 7)
        #expect(noController.status == .connectInvalidParameters)
        #expect(fixture.subsystem.controllerCount == 0)
    }

    @Test func ioQueueConnectsOnlyToAnEnabledControllerOfTheSameHost() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine)
        let cntlid = UInt16(truncatingIfNeeded: connected.commandSpecific)
        let (_, notReady) = try HostQueue.connect(&engine, queueID: 1, controllerID: cntlid)
        #expect(notReady.status == .commandSequenceError)
        try admin.enable(on: &engine)
        let (_, otherHost) = try HostQueue.connect(&engine, queueID: 1, controllerID: cntlid, hostNQN: "nqn.2014-08.org.example:intruder")
        #expect(otherHost.status == .connectInvalidParameters)
        let (io, ok) = try HostQueue.connect(&engine, queueID: 1, controllerID: cntlid)
        #expect(ok.status == .success)
        do { let holds = engine.queue(io.connection)?.queueID == 1; #expect(holds) }
        let (_, twice) = try HostQueue.connect(&engine, queueID: 1, controllerID: cntlid)
        #expect(twice.status == .connectControllerBusy)
        let (_, beyond) = try HostQueue.connect(&engine, queueID: 9, controllerID: cntlid)
        #expect(beyond.status == .connectInvalidParameters)
        #expect(beyond.commandSpecific == ConnectInvalidParameter.queueID.dword0)
    }

    @Test func identifyReportsTheSubsystemAndTheBackendNamespace() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine)
        let cntlid = UInt16(truncatingIfNeeded: connected.commandSpecific)
        func identify(_ cns: IdentifyCNS, nsid: UInt32 = 0) throws -> (CompletionQueueEntry, [UInt8]) {
            var e = SubmissionQueueEntry.identify(cns: cns, namespaceID: nsid)
            e.setFirstSGL(.transportData(length: 4096))
            return try admin.command(e, on: &engine)
        }
        let (r1, controllerPage) = try identify(.controller)
        #expect(r1.status == .success)
        let identity = try controllerPage.withUnsafeBytes { try IdentifyController(bytes: $0) }
        #expect(identity.controllerID == cntlid)
        #expect(identity.subsystemNQN == TargetConfiguration.defaultNQN)
        #expect(identity.serialNumber == fixture.controller.identity.serialNumber)
        #expect(identity.mdts == 5)  // 128 KiB in 4 KiB pages
        #expect(identity.sglsSupported)
        #expect(controllerPage[1792] == UInt8((64 + 8192) / 16 & 0xFF))  // IOCCSZ

        let (r2, nsPage) = try identify(.namespace, nsid: 1)
        #expect(r2.status == .success)
        let ns = try nsPage.withUnsafeBytes { try IdentifyNamespace(bytes: $0) }
        #expect(ns.size == 131072)
        #expect(ns.blockSize == 512)
        // Shared (NMIC bit 0) by the subsystem's controllers (CMIC bit 1): a second host's
        // controller is a second path to it, not a namespace with a duplicate NGUID.
        #expect(ns.multipathCapabilities & 1 == 1)
        #expect(identity.cmic & 1 << 1 != 0)

        let (r3, list) = try identify(.activeNamespaceList)
        #expect(r3.status == .success)
        #expect(try list.withUnsafeBytes { try ActiveNamespaceList(bytes: $0) }.namespaceIDs == [1])

        let (r4, descriptors) = try identify(.namespaceIdentificationDescriptors, nsid: 1)
        #expect(r4.status == .success)
        let nguid = try descriptors.withUnsafeBytes { try NamespaceIdentificationDescriptorList(bytes: $0) }.nguid
        #expect(nguid == ns.nguid && nguid != Array(repeating: 0, count: 16))

        let (r5, _) = try identify(.namespace, nsid: 2)
        #expect(r5.status == .invalidNamespaceOrFormat)
    }

    @Test(arguments: [DigestOptions(), [.header], [.data], [.header, .data]])
    func writeThenReadBackThroughR2TAndC2HData(digests: DigestOptions) throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine, digests: digests)
        let cntlid = UInt16(truncatingIfNeeded: connected.commandSpecific)
        try admin.enable(on: &engine)
        var (io, ok) = try HostQueue.connect(&engine, queueID: 1, controllerID: cntlid, digests: digests)
        #expect(ok.status == .success)

        // Write 16 blocks: the target asks for all of it with one R2T; the host sends two H2CData.
        let data = pattern(8192, seed: digests.rawValue)
        var write = ioCommand(.write, lba: 100, blocks: 16)
        write.commandID = io.initiator.commandID()
        let asked = try io.exchange(io.initiator.capsule(write), on: &engine) { $0.contains { if case .r2t = $0 { true } else { false } } }
        guard case .r2t(let r2t) = asked.first else {
            Issue.record("no R2T: \(asked)")
            return
        }
        #expect(r2t.commandID == write.commandID && r2t.offset == 0 && r2t.length == 8192)
        let h2c = io.initiator.h2cData(commandID: write.commandID, transferTag: r2t.transferTag, offset: 0, Array(data[0..<4096]), last: false)
            + io.initiator.h2cData(commandID: write.commandID, transferTag: r2t.transferTag, offset: 4096, Array(data[4096...]), last: true)
        let written = try io.exchange(h2c, on: &engine) { $0.contains { $0.response != nil } }
        #expect(written.compactMap(\.response).first?.status == .success)

        let (read, back) = try io.command(ioCommand(.read, lba: 100, blocks: 16), on: &engine)
        #expect(read.status == .success)
        #expect(back == data)
        let (flush, _) = try io.command(.flush(namespaceID: 1), on: &engine)
        #expect(flush.status == .success)
        do { let holds = engine.statistics(io.connection)?.writtenBytes == 8192; #expect(holds) }
        do { let holds = engine.statistics(io.connection)?.readBytes == 8192; #expect(holds) }
        do { let holds = engine.availableBuffers == 8; #expect(holds) }
    }

    @Test func inCapsuleWriteIsReadBack() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (_, io) = try HostQueue.connectIO(&engine)
        let data = pattern(4096, seed: 9)
        let (written, _) = try io.command(ioCommand(.write, lba: 7, blocks: 8, inCapsule: true), inCapsule: data, on: &engine)
        #expect(written.status == .success)
        let (_, back) = try io.command(ioCommand(.read, lba: 7, blocks: 8), on: &engine)
        #expect(back == data)
        // The backend's own checks still apply: past the end of the namespace.
        let (outside, _) = try io.command(ioCommand(.read, lba: 131072 - 4, blocks: 8), on: &engine)
        #expect(outside.status.matches(.lbaOutOfRange))
        // An SGL that does not cover the blocks.
        var short = ioCommand(.read, lba: 0, blocks: 8)
        short.setFirstSGL(.transportData(length: 512))
        let (mismatch, _) = try io.command(short, on: &engine)
        #expect(mismatch.status == .dataSGLLengthInvalid)
    }

    @Test func dataDigestErrorFailsTheCommandNotTheConnection() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine, digests: [.data])
        try admin.enable(on: &engine)
        var (io, _) = try HostQueue.connect(&engine, queueID: 1, controllerID: UInt16(truncatingIfNeeded: connected.commandSpecific), digests: [.data])
        var write = ioCommand(.write, lba: 0, blocks: 1)
        write.commandID = io.initiator.commandID()
        let asked = try io.exchange(io.initiator.capsule(write), on: &engine) { !$0.isEmpty }
        guard case .r2t(let r2t) = asked.first else { Issue.record("no R2T: \(asked)"); return }
        var h2c = io.initiator.h2cData(commandID: write.commandID, transferTag: r2t.transferTag, offset: 0, pattern(512, seed: 1), last: true)
        h2c[h2c.count - 1] ^= 0xFF  // the data digest
        let answer = try io.exchange(h2c, on: &engine) { $0.contains { $0.response != nil } }
        #expect(answer.compactMap(\.response).first?.status == .transientTransportError)
        do { let holds = engine.phase(io.connection) == .established; #expect(holds) }
        do { let holds = engine.statistics(io.connection)?.dataDigestErrors == 1; #expect(holds) }
        let (read, _) = try io.command(ioCommand(.read, lba: 0, blocks: 1), on: &engine)
        #expect(read.status == .success)
    }

    @Test func featuresKeepAliveAndAHeldAsynchronousEventRequest() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine)
        let cntlid = UInt16(truncatingIfNeeded: connected.commandSpecific)
        let (queues, _) = try admin.command(.setFeatures(.numberOfQueues, cdw11: NumberOfQueues(submissionQueues: 64, completionQueues: 64).dword), on: &engine)
        #expect(NumberOfQueues(dword: queues.commandSpecific) == NumberOfQueues(submissionQueues: 8, completionQueues: 8))
        var kato = SubmissionQueueEntry.setFeatures(.numberOfQueues, cdw11: 12000)
        kato.cdw10 = 0x0F
        let (setKATO, _) = try admin.command(kato, on: &engine)
        #expect(setKATO.status == .success)
        #expect(fixture.subsystem.controller(cntlid)?.keepAliveMilliseconds == 12000)
        let (alive, _) = try admin.command(SubmissionQueueEntry(opcode: AdminOpcode.keepAlive.rawValue), on: &engine)
        #expect(alive.status == .success)
        let (unknown, _) = try admin.command(.getFeatures(.arbitration), on: &engine)
        #expect(unknown.status == .invalidFieldInCommand)

        // The AER gets no answer; the next command does.
        var aer = SubmissionQueueEntry.asynchronousEventRequest()
        aer.commandID = admin.initiator.commandID()
        _ = admin.initiator.capsule(aer).withUnsafeBytes { engine.receive(admin.connection, $0) }
        _ = try engine.poll()
        do { let holds = engine.takeOutput(admin.connection).isEmpty; #expect(holds) }
        let (after, _) = try admin.command(SubmissionQueueEntry(opcode: AdminOpcode.keepAlive.rawValue), on: &engine)
        #expect(after.status == .success)
    }

    @Test func disconnectAnswersThenCloses() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, _) = try HostQueue.connect(&engine)
        #expect(fixture.subsystem.controllerCount == 1)
        let (bye, _) = try admin.command(.fabrics(.disconnect), on: &engine)
        #expect(bye.status == .success)
        do { let holds = engine.shouldClose(admin.connection); #expect(holds) }
        engine.closeConnection(admin.connection)
        #expect(fixture.subsystem.controllerCount == 0)
        do { let holds = engine.openConnections == 0; #expect(holds) }
    }

    @Test func keepAliveExpiryEndsTheAssociationAndItsIOQueues() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine)  // KATO 5 s
        try admin.enable(on: &engine)
        let (io, _) = try HostQueue.connect(&engine, queueID: 1, controllerID: UInt16(truncatingIfNeeded: connected.commandSpecific))
        engine.tick(now: MonotonicClock.coarseNanoseconds() + 1_000_000_000)
        do { let holds = engine.phase(io.connection) == .established; #expect(holds) }
        // A host late by up to another KATO keeps its association (as with Linux's own target).
        engine.tick(now: MonotonicClock.coarseNanoseconds() + 7_500_000_000)
        do { let holds = engine.phase(io.connection) == .established && fixture.subsystem.controllerCount == 1; #expect(holds) }
        engine.tick(now: MonotonicClock.coarseNanoseconds() + 60_000_000_000)
        #expect(fixture.subsystem.controllerCount == 0)
        do { let holds = engine.shouldClose(admin.connection) && engine.shouldClose(io.connection); #expect(holds) }
    }

    @Test func fullBufferPoolStallsInputUntilCompletionsFreeBuffers() throws {
        let fixture = try TargetFixture(configuration: TargetConfiguration(queueEntries: 32, bufferCount: 2))
        var engine = try fixture.makeEngine()
        var (_, io) = try HostQueue.connectIO(&engine)
        // Four in-capsule writes at once; the stepped emulator completes nothing until polled.
        var bytes: [UInt8] = []
        for i in 0..<4 {
            var write = ioCommand(.write, lba: UInt64(i * 8), blocks: 8, inCapsule: true)
            write.commandID = io.initiator.commandID()
            bytes += io.initiator.capsule(write, inCapsule: pattern(4096, seed: UInt8(i)))
        }
        _ = bytes.withUnsafeBytes { engine.receive(io.connection, $0) }
        do { let holds = engine.availableBuffers == 0; #expect(holds) }
        do { let holds = engine.statistics(io.connection)?.bufferWaits == 1; #expect(holds) }
        do { let holds = !engine.wantsInput(io.connection); #expect(holds) }
        let answers = try io.exchange([], on: &engine) { $0.compactMap(\.response).count == 4 }
        try expectFourWritesLanded(answers, &io, &engine, buffers: 2)
    }

    /// Commands beyond the backend queue's depth wait in the engine, and the connection's counters
    /// say so; a host that does not read its responses makes the connection wait for output room.
    @Test func backpressureCountersNameTheQueueThatWasFull() throws {
        let fixture = try TargetFixture()
        // A backend pair of 4 entries holds 3 commands; the stepped emulator completes none until polled.
        var engine = try TargetEngine(subsystem: fixture.subsystem, queuePair: fixture.controller.makeQueuePair(entries: 4), allocator: fixture.device.dma)
        var (_, io) = try HostQueue.connectIO(&engine)
        var flushes: [UInt8] = []
        for _ in 0..<10 {
            var flush = SubmissionQueueEntry(opcode: IOOpcode.flush.rawValue)
            flush.namespaceID = 1
            flush.commandID = io.initiator.commandID()
            flushes += io.initiator.capsule(flush)
        }
        _ = flushes.withUnsafeBytes { engine.receive(io.connection, $0) }
        do { let holds = engine.outstanding == 3 && engine.statistics(io.connection)?.backendQueueWaits == 7; #expect(holds) }
        let answers = try io.exchange([], on: &engine) { $0.compactMap(\.response).count == 10 }
        #expect(answers.compactMap(\.response).allSatisfy { $0.status == .success })
        do { let holds = engine.statistics(io.connection)?.bufferWaits == 0 && engine.statistics(io.connection)?.outputWaits == 0; #expect(holds) }

        // Output over the limit: the next capsule waits until the host takes its responses.
        engine.outputLimit = 1
        var flush = SubmissionQueueEntry(opcode: IOOpcode.flush.rawValue)
        flush.namespaceID = 1
        flush.commandID = io.initiator.commandID()
        _ = io.initiator.capsule(flush).withUnsafeBytes { engine.receive(io.connection, $0) }
        _ = try engine.poll()  // its response waits in the output
        do { let holds = engine.pendingOutput(io.connection) > 0; #expect(holds) }
        flush.commandID = io.initiator.commandID()
        _ = io.initiator.capsule(flush).withUnsafeBytes { engine.receive(io.connection, $0) }
        do { let holds = engine.statistics(io.connection)?.outputWaits == 1 && !engine.wantsInput(io.connection); #expect(holds) }
        let rest = try io.exchange([], on: &engine) { $0.compactMap(\.response).count == 2 }
        #expect(rest.compactMap(\.response).count == 2)
        let report = engine.report(io.connection)
        #expect(report?.queueID == 1 && report?.hostNQN == testHostNQN && report?.terminated == false)
        #expect(report?.statistics.commands == 13)  // Connect and 12 flushes
    }

    /// Writes waiting for their data hold no buffer, so a capsule stalled on an empty pool never
    /// keeps back the H2CData that would complete them. The kernel's initiator sends its capsules
    /// first and the data after the R2Ts; with buffers taken at the capsule, 32 writes deadlocked
    /// the target in the HIL boot tcp.
    @Test func writesWaitingForTheirDataHoldNoBuffer() throws {
        let fixture = try TargetFixture(configuration: TargetConfiguration(queueEntries: 32, bufferCount: 2))
        var engine = try fixture.makeEngine()
        var (_, io) = try HostQueue.connectIO(&engine)
        var capsules: [UInt8] = []
        var writes: [SubmissionQueueEntry] = []
        for i in 0..<4 {
            var write = ioCommand(.write, lba: UInt64(i * 8), blocks: 8)
            write.commandID = io.initiator.commandID()
            writes.append(write)
            capsules += io.initiator.capsule(write)
        }
        let asked = try io.exchange(capsules, on: &engine) { pdus in pdus.count { if case .r2t = $0 { true } else { false } } == 4 }
        do { let holds = engine.availableBuffers == 2; #expect(holds) }
        var data: [UInt8] = []
        for case .r2t(let r2t) in asked {
            guard let i = writes.firstIndex(where: { $0.commandID == r2t.commandID }) else {
                Issue.record("R2T for an unknown command \(r2t.commandID)")
                continue
            }
            data += io.initiator.h2cData(commandID: r2t.commandID, transferTag: r2t.transferTag, offset: 0, pattern(4096, seed: UInt8(i)), last: true)
        }
        let answers = try io.exchange(data, on: &engine) { $0.compactMap(\.response).count == 4 }
        try expectFourWritesLanded(answers, &io, &engine, buffers: 2)
    }

    /// A socket read that fills the receive buffer to its last byte leaves the connection wanting
    /// input: the framed PDUs' room comes back when the rest moves to the front. (The server
    /// stopped reading such a connection for good; the kernel initiator's writes hung.)
    @Test func inputFilledToTheEndStillWantsMore() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, connected) = try HostQueue.connect(&engine)
        #expect(connected.status == .success)
        let space = engine.receiveSpace(admin.connection)
        // Keep Alives (answered at once, so no slot stays taken), then the start of one more.
        var bytes: [UInt8] = []
        var keepAlive = SubmissionQueueEntry(opcode: AdminOpcode.keepAlive.rawValue)
        while true {
            keepAlive.commandID = admin.initiator.commandID()
            let capsule = admin.initiator.capsule(keepAlive)
            if bytes.count + capsule.count > space.count {
                bytes += capsule.prefix(space.count - bytes.count)
                break
            }
            bytes += capsule
        }
        bytes.withUnsafeBytes { space.copyMemory(from: $0) }
        engine.didReceive(admin.connection, count: space.count)
        do { let holds = engine.phase(admin.connection) == .established; #expect(holds) }
        do { let holds = engine.wantsInput(admin.connection); #expect(holds) }
        do { let holds = engine.receiveSpace(admin.connection).count > 0; #expect(holds) }
    }
}

/// The buffer-pool tests' four 4 KiB writes (pattern seeds 0-3 at LBA 0, 8, 16, 24) all
/// succeeded, every buffer is back in the pool, and each reads back as written.
func expectFourWritesLanded(
    _ answers: [TargetPDU], _ io: inout HostQueue, _ engine: inout TargetEngine<EmulatedNVMeController>, buffers: Int
) throws {
    #expect(answers.compactMap(\.response).allSatisfy { $0.status == .success })
    do { let holds = engine.availableBuffers == buffers; #expect(holds) }
    for i in 0..<4 {
        let (_, back) = try io.command(ioCommand(.read, lba: UInt64(i * 8), blocks: 8), on: &engine)
        #expect(back == pattern(4096, seed: UInt8(i)))
    }
}
