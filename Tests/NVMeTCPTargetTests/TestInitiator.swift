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

/// A PDU the test initiator received from the target.
enum TargetPDU: Equatable {
    case icResp(ICRespPDU)
    case response(CompletionQueueEntry)
    case data(DataPDU, flags: PDUFlags, bytes: [UInt8], digestValid: Bool)
    case r2t(R2TPDU)
    case termination(TermReqPDU)

    var response: CompletionQueueEntry? { if case .response(let r) = self { r } else { nil } }
    var termination: TermReqPDU? { if case .termination(let t) = self { t } else { nil } }
}

/// The host side of NVMe/TCP, written for the tests at PDU level: it encodes what a host sends
/// and frames what the target answers, with the negotiated digests.
struct TestInitiator {
    var format = PDUFormat.initial
    /// Bytes from the target not yet framed.
    var pending: [UInt8] = []
    var nextCommandID: UInt16 = 1

    mutating func commandID() -> UInt16 {
        defer { nextCommandID &+= 1 }
        return nextCommandID
    }

    func icReq(digests: DigestOptions = [], hpda: UInt8 = 0) -> [UInt8] {
        encodePDU { ICReqPDU(hostPDUDataAlignment: hpda, digests: digests).encode(into: $0) }
    }

    /// A CapsuleCmd; with `inCapsule` data, SGL1 is set to in-capsule data of its length.
    func capsule(_ command: SubmissionQueueEntry, inCapsule data: [UInt8] = []) -> [UInt8] {
        var entry = command
        if !data.isEmpty { entry.setFirstSGL(.inCapsule(length: UInt32(data.count))) }
        return encodePDU { buffer in
            data.withUnsafeBytes { CapsuleCommandPDU(command: entry).encode(inCapsuleData: $0, format: format, into: buffer) }
        }
    }

    func h2cData(commandID: UInt16, transferTag: UInt16, offset: Int, _ data: [UInt8], last: Bool) -> [UInt8] {
        encodePDU { buffer in
            data.withUnsafeBytes {
                DataPDU(commandID: commandID, transferTag: transferTag, dataOffset: UInt32(offset), dataLength: UInt32(data.count))
                    .encode(.h2cData, flags: last ? .lastPDU : [], data: $0, format: format, into: buffer)
            }
        }
    }

    /// Frames every complete PDU in `bytes` (after what was pending).
    mutating func take(_ bytes: [UInt8]) -> [TargetPDU] {
        pending += bytes
        var out: [TargetPDU] = []
        while !pending.isEmpty {
            let result = pending.withUnsafeBytes { PDUFramer.frame($0, receiving: .controllerToHost, format: format, maximumLength: 1 << 20) }
            guard case .pdu(let f) = result else {
                if case .fatal(let error) = result { Issue.record("target sent an unframeable PDU: \(error)") ; pending = [] }
                break
            }
            let pdu = Array(pending[0..<f.length])
            pending.removeFirst(f.length)
            do {
                switch f.type {
                case .icResp: out.append(.icResp(try decode(pdu, frame: f) { f, b throws(TransportFatalError) in try ICRespPDU(f, in: b) }))
                case .capsuleResponse:
                    out.append(.response(try decode(pdu, frame: f) { f, b throws(TransportFatalError) in try CapsuleResponsePDU(f, in: b) }.completion))
                case .c2hData:
                    let d = try decode(pdu, frame: f) { f, b throws(TransportFatalError) in try DataPDU(f, in: b) }
                    out.append(.data(d, flags: f.flags, bytes: Array(pdu[f.data]), digestValid: f.dataDigestValid))
                case .r2t: out.append(.r2t(try decode(pdu, frame: f) { f, b throws(TransportFatalError) in try R2TPDU(f, in: b) }))
                case .c2hTermReq: out.append(.termination(try decode(pdu, frame: f) { f, b throws(TransportFatalError) in try TermReqPDU(f, in: b) }))
                default: Issue.record("target sent \(f.type)")
                }
            } catch {
                Issue.record("target PDU does not decode: \(error)")
            }
        }
        return out
    }
}

/// An emulated controller brought up by our driver, a target subsystem over it and one engine.
final class TargetFixture: @unchecked Sendable {
    let device: EmulatedNVMeController
    let controller: Controller<EmulatedNVMeController>
    let subsystem: TargetSubsystem

    init(configuration: TargetConfiguration = TargetConfiguration(queueEntries: 32, bufferCount: 8),
         emulated: EmulatedNVMeConfiguration = EmulatedNVMeConfiguration()) throws {
        device = try EmulatedNVMeController(configuration: emulated)
        controller = try Controller(device: device, options: ControllerOptions(ioQueuePairs: 2))
        let namespaces = try TargetSubsystem.exportedNamespaces(of: controller.namespaces, configuration: configuration)
        subsystem = TargetSubsystem(configuration: configuration, namespaces: namespaces, backendIdentity: controller.identity)
    }

    func makeEngine() throws -> TargetEngine<EmulatedNVMeController> {
        try TargetEngine(subsystem: subsystem, queuePair: controller.makeQueuePair(entries: 16), allocator: device.dma)
    }

    deinit {
        try? controller.close()
        device.close()
    }
}

let testHostNQN = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001"
let testHostID: [UInt8] = Array(1...16)

/// One host queue on an engine: its connection and initiator.
struct HostQueue {
    let connection: ConnectionID
    var initiator = TestInitiator()
    var received: [TargetPDU] = []

    /// Sends `bytes`, then polls the engine until `done` holds for what arrived (at most 5 s).
    mutating func exchange(
        _ bytes: [UInt8], on engine: inout TargetEngine<EmulatedNVMeController>, until done: ([TargetPDU]) -> Bool
    ) throws -> [TargetPDU] {
        var sent = 0
        var got: [TargetPDU] = []
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while true {
            if sent < bytes.count {
                sent += bytes[sent...].withUnsafeBytes { engine.receive(connection, $0) }
            }
            _ = try engine.poll()
            got += initiator.take(engine.takeOutput(connection))
            if sent == bytes.count, done(got) { return got }
            if MonotonicClock.nanoseconds() > deadline {
                Issue.record("no answer within 5 s; got \(got)")
                return got
            }
        }
    }

    /// Sends a command and returns its CapsuleResp and the data that came before it.
    mutating func command(
        _ entry: SubmissionQueueEntry, inCapsule data: [UInt8] = [], on engine: inout TargetEngine<EmulatedNVMeController>
    ) throws -> (CompletionQueueEntry, [UInt8]) {
        var e = entry
        e.commandID = initiator.commandID()
        let pdus = try exchange(initiator.capsule(e, inCapsule: data), on: &engine) { $0.contains { $0.response != nil || $0.termination != nil } }
        guard let response = pdus.compactMap(\.response).first else {
            Issue.record("no CapsuleResp: \(pdus)")
            return (CompletionQueueEntry(submissionQueueHead: 0, submissionQueueID: 0, commandID: 0, status: .internalError, phase: false), [])
        }
        #expect(response.commandID == e.commandID)
        var bytes: [UInt8] = []
        for case .data(let d, _, let chunk, let valid) in pdus {
            #expect(valid, "C2HData digest")
            #expect(Int(d.dataOffset) == bytes.count)
            bytes += chunk
        }
        return (response, bytes)
    }

    /// ICReq/ICResp with `digests`, then Connect of `queueID` (admin: `controllerID` FFFFh).
    static func connect(
        _ engine: inout TargetEngine<EmulatedNVMeController>, queueID: UInt16 = 0, controllerID: UInt16 = ConnectData.dynamicControllerID,
        digests: DigestOptions = [], subsystemNQN: String = TargetConfiguration.defaultNQN, hostNQN: String = testHostNQN
    ) throws -> (HostQueue, CompletionQueueEntry) {
        var queue = HostQueue(connection: engine.openConnection())
        let answer = try queue.exchange(queue.initiator.icReq(digests: digests), on: &engine) { !$0.isEmpty }
        guard case .icResp(let icResp) = answer.first else {
            Issue.record("no ICResp: \(answer)")
            throw TransportFatalError(.pduSequenceError, "no ICResp")
        }
        #expect(icResp.digests == digests)
        queue.initiator.format = PDUFormat(headerDigest: digests.contains(.header), dataDigest: digests.contains(.data))
        var data = [UInt8](repeating: 0, count: ConnectData.size)
        data.withUnsafeMutableBytes {
            ConnectData(hostID: testHostID, controllerID: controllerID, subsystemNQN: subsystemNQN, hostNQN: hostNQN).encode(into: $0)
        }
        let connect = ConnectCommand(queueID: queueID, submissionQueueSize: 15, keepAliveTimeoutMilliseconds: queueID == 0 ? 5000 : 0).entry
        let (response, _) = try queue.command(connect, inCapsule: data, on: &engine)
        return (queue, response)
    }

    /// An admin queue connected and enabled, and I/O queue 1 of the same controller connected:
    /// where the I/O tests start.
    static func connectIO(_ engine: inout TargetEngine<EmulatedNVMeController>) throws -> (admin: HostQueue, io: HostQueue) {
        var (admin, connected) = try connect(&engine)
        try admin.enable(on: &engine)
        let (io, ok) = try connect(&engine, queueID: 1, controllerID: UInt16(truncatingIfNeeded: connected.commandSpecific))
        #expect(ok.status == .success)
        return (admin, io)
    }

    /// Property Set CC.EN = 1 on an admin queue, as a host enables the controller.
    mutating func enable(on engine: inout TargetEngine<EmulatedNVMeController>) throws {
        let cc: UInt64 = 1 | 6 << 16 | 4 << 20
        let (response, _) = try command(PropertyCommand(eightBytes: false, offset: 0x14, value: cc).entry(.propertySet), on: &engine)
        #expect(response.status == .success)
    }
}

/// A read or write of `blocks` at `lba` on namespace 1 with the transport's SGL.
func ioCommand(_ opcode: IOOpcode, lba: UInt64, blocks: Int, blockSize: Int = 512, inCapsule: Bool = false) -> SubmissionQueueEntry {
    var e = opcode == .read ? SubmissionQueueEntry.read(namespaceID: 1, lba: lba, blocks: blocks) : SubmissionQueueEntry.write(namespaceID: 1, lba: lba, blocks: blocks)
    if !inCapsule { e.setFirstSGL(.transportData(length: UInt32(blocks * blockSize))) }
    return e
}

/// Deterministic test data.
func pattern(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }
