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

import FuzzSupport
import NVMe
import NVMeEmulator
import NVMeTCPTarget
import VFIO

/// Host byte streams into a target engine over the emulated controller: two connections (an admin
/// and an I/O queue, optionally set up properly first so the bytes reach the command paths), fed
/// in fuzzer-chosen pieces with the backend polled in between. Invariants: no trap; everything the
/// target sends frames as controller-to-host PDUs in the negotiated format; a connection the
/// target closed sends nothing more; every DMA buffer comes back once the connections are closed
/// and the backend is drained.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTCPTarget(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    silenceLogging()
    var input = FuzzInput(data, size)
    let setup = input.byte()
    let digests = DigestOptions(rawValue: setup & 0b11)
    let device = try! EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(
        namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 256)], maxIOQueuePairs: 2, msixVectors: 3))
    let controller = try! Controller(device: device, options: ControllerOptions(ioQueuePairs: 1, interrupts: false, recovery: .disabled))
    defer {
        try? controller.close()
        device.close()
    }
    let configuration = TargetConfiguration(queueEntries: 8, maximumTransferBytes: 16384, bufferCount: 4, inCapsuleDataBytes: 4096)
    let namespaces = try! TargetSubsystem.exportedNamespaces(of: controller.namespaces, configuration: configuration)
    let subsystem = TargetSubsystem(configuration: configuration, namespaces: namespaces, backendIdentity: controller.identity)
    var engine = try! TargetEngine(subsystem: subsystem, queuePair: controller.makeQueuePair(entries: 4), allocator: device.dma)

    let connections = [engine.openConnection(), engine.openConnection()]
    var formats = [PDUFormat.initial, .initial]
    var pending: [[UInt8]] = [[], []]
    func drain(_ i: Int, _ engine: inout TargetEngine<EmulatedNVMeController>) {
        pending[i] += engine.takeOutput(connections[i])
        while !pending[i].isEmpty {
            let result = pending[i].withUnsafeBytes { PDUFramer.frame($0, receiving: .controllerToHost, format: formats[i], maximumLength: 1 << 20) }
            switch result {
            case .pdu(let frame):
                if frame.type == .icResp {
                    formats[i] = PDUFormat(headerDigest: digests.contains(.header), dataDigest: digests.contains(.data))
                }
                fuzzCheck(frame.type != .c2hData || frame.dataDigestValid, "the target sent a C2HData with a wrong data digest")
                pending[i].removeFirst(frame.length)
            case .incomplete:
                fuzzCheck(false, "the target sent a partial PDU (\(pending[i].count) bytes)")
                return
            case .fatal(let error):
                fuzzCheck(false, "the target sent an unframeable PDU: \(error)")
                return
            }
        }
    }

    if setup & 0x80 != 0 {
        // A proper start, so that the fuzzed bytes land after Connect and CC.EN.
        var host = HostEncoder(format: .initial)
        for (i, qid) in [(0, UInt16(0)), (1, UInt16(1))] {
            feed(host.icReq(digests), connections[i], &engine)
            drain(i, &engine)
            host.format = formats[i]
            var connect = ConnectCommand(queueID: qid, submissionQueueSize: 7).entry
            connect.commandID = UInt16(100 + i)
            let cntlid = subsystem.controllerCount > 0 ? UInt16(1) : ConnectData.dynamicControllerID
            feed(host.capsule(connect, inCapsule: host.connectData(cntlid, nqn: configuration.subsystemNQN)), connections[i], &engine)
            drain(i, &engine)
            if qid == 0 {
                var enable = PropertyCommand(eightBytes: false, offset: 0x14, value: 1).entry(.propertySet)
                enable.commandID = 102
                feed(host.capsule(enable), connections[0], &engine)
                drain(0, &engine)
            }
        }
    }

    var steps = 0
    while !input.isEmpty, steps < 64 {
        steps += 1
        let control = input.byte()
        let i = Int(control & 1)
        let piece = input.bytes(Int(input.byte()) + (control & 2 != 0 ? Int(input.byte()) << 8 : 0))
        let closedBefore = engine.shouldClose(connections[i])
        feed(piece, connections[i], &engine)
        for _ in 0..<Int(control >> 4) { _ = try? engine.poll() }
        if closedBefore { fuzzCheck(engine.pendingOutput(connections[i]) == 0, "a closed connection sent more") }
        drain(i, &engine)
        if control & 0x04 != 0 { engine.tick(now: MonotonicClock.coarseNanoseconds() + UInt64(input.byte()) * 1_000_000_000) }
    }
    for c in connections { engine.closeConnection(c) }
    let deadline = MonotonicClock.nanoseconds() + 2_000_000_000
    while engine.outstanding > 0, MonotonicClock.nanoseconds() < deadline { _ = try? engine.poll() }
    fuzzCheck(engine.outstanding == 0, "backend commands never completed")
    fuzzCheck(engine.availableBuffers == configuration.bufferCount, "\(configuration.bufferCount - engine.availableBuffers) DMA buffers leaked")
    fuzzCheck(subsystem.controllerCount == 0, "a controller outlived its admin queue")
    return 0
}

func feed(_ bytes: [UInt8], _ connection: ConnectionID, _ engine: inout TargetEngine<EmulatedNVMeController>) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { engine.receive(connection, $0) }
        if n == 0 { break }  // stalled or closed: the rest stays with the "socket"
        offset += n
    }
    _ = try? engine.poll()
}

/// The few host PDUs the proper start needs.
struct HostEncoder {
    var format: PDUFormat

    func icReq(_ digests: DigestOptions) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 128)
        out.withUnsafeMutableBytes { _ = ICReqPDU(digests: digests).encode(into: $0) }
        return out
    }

    func capsule(_ command: SubmissionQueueEntry, inCapsule data: [UInt8] = []) -> [UInt8] {
        var entry = command
        if !data.isEmpty { entry.setFirstSGL(.inCapsule(length: UInt32(data.count))) }
        let length = format.layout(.capsuleCommand, dataLength: data.count).length
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBytes { buffer in
            data.withUnsafeBytes { _ = CapsuleCommandPDU(command: entry).encode(inCapsuleData: $0, format: format, into: buffer) }
        }
        return out
    }

    func connectData(_ controllerID: UInt16, nqn: String) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: ConnectData.size)
        data.withUnsafeMutableBytes {
            ConnectData(hostID: Array(repeating: 7, count: 16), controllerID: controllerID, subsystemNQN: nqn, hostNQN: "nqn.2014-08.org.example:fuzz").encode(into: $0)
        }
        return data
    }
}
