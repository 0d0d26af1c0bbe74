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
import VFIO

/// The NVMe/TCP target's work on one thread, independent of the network: connections' PDU streams
/// in, PDUs out, commands onto one backend queue pair (NVMe/TCP 1.0; NVMe over Fabrics 1.1).
///
/// The caller moves bytes: it appends what a socket received (`receiveSpace`/`didReceive`, or
/// `receive`), calls `poll()` to reap the backend, and sends `pendingOutput` (`didSend`). The
/// socket loop (`TargetServer`) does that over TCP; the tests do it with byte arrays.
///
/// **Threading.** `~Copyable` and not shared: its queue pair and its DMA buffer pool belong to
/// the thread that drives it. Connections on other engines share only the `TargetSubsystem`.
///
/// **Buffers.** Data moves through a pool of DMA buffers (`DMASlab`) of
/// `TargetConfiguration.maximumTransferBytes` each, taken when a capsule with data arrives and
/// given back when its backend completion has been consumed (never earlier: the device may still
/// write it). When the pool is empty, the engine stops framing that connection's input, so the
/// socket stops being read and TCP pushes back on the host; the same when a connection's output
/// is over `outputLimit`. A full backend queue holds ready commands in a FIFO.
///
/// **Bad input.** A PDU that cannot be framed, or breaks the protocol's order, gets a C2HTermReq
/// quoting its header and the connection closes (NVMe/TCP 1.0, 3.6.2.4); a command the target
/// does not support gets an error status in its CapsuleResp. Neither traps.
public struct TargetEngine<Device: PCIFunction>: ~Copyable {
    public let subsystem: TargetSubsystem
    var pair: QueuePair<Device>
    var buffers: DMASlab
    var connections: [TargetConnection] = []
    /// Commands whose data is complete, waiting for room in the backend queue: (connection, slot).
    var readyToSubmit: [(connection: Int, slot: Int)] = []
    var readyHead = 0
    /// Completions collected in `poll` (a closure reaping the pair cannot touch the engine).
    let reaped: UnsafeMutableBufferPointer<Completion>
    /// The largest PDU a host may send (framer limit).
    public let maximumReceivePDU: Int
    /// Output bytes above which a connection stops taking new commands.
    public var outputLimit = 4 << 20
    /// The engine's clock for keep-alive (monotonic nanoseconds); `tick` advances it.
    var now: UInt64

    public init(subsystem: TargetSubsystem, queuePair: consuming QueuePair<Device>, allocator: DMAAllocator) throws(VFIOError) {
        let configuration = subsystem.configuration
        self.subsystem = subsystem
        pair = queuePair
        buffers = try DMASlab(allocator: allocator, chunkSize: configuration.maximumTransferBytes, count: configuration.bufferCount)
        reaped = .allocate(capacity: max(pair.depth, 1))
        let digests = PDUFormat(headerDigest: true, dataDigest: true)
        maximumReceivePDU = max(
            digests.layout(.capsuleCommand, dataLength: configuration.inCapsuleDataBytes).length,
            digests.layout(.h2cData, dataLength: configuration.maximumTransferBytes).length)
        now = MonotonicClock.coarseNanoseconds()
    }

    deinit {
        reaped.deallocate()
        for c in connections { c.receiveBuffer.deallocate() }
    }

    // MARK: - Connections

    /// Starts a connection (a socket was accepted on `localAddress`, which the discovery log names
    /// when the target listens on 0.0.0.0). Its first PDU must be an ICReq.
    public mutating func openConnection(localAddress: ListenAddress? = nil) -> ConnectionID {
        let slots = subsystem.configuration.queueEntries
        let capacity = maximumReceivePDU + 64 * 1024
        if let index = connections.firstIndex(where: { $0.phase == .closed && $0.inBackend == 0 }) {
            let generation = connections[index].generation &+ 1
            connections[index].receiveBuffer.deallocate()
            connections[index] = TargetConnection(generation: generation, slotCount: slots, receiveCapacity: capacity)
            connections[index].localAddress = localAddress
            return ConnectionID(index: index, generation: generation)
        }
        connections.append(TargetConnection(generation: 1, slotCount: slots, receiveCapacity: capacity))
        connections[connections.count - 1].localAddress = localAddress
        return ConnectionID(index: connections.count - 1, generation: 1)
    }

    func valid(_ id: ConnectionID) -> Bool {
        id.index >= 0 && id.index < connections.count && connections[id.index].generation == id.generation
    }

    public func phase(_ id: ConnectionID) -> ConnectionPhase { valid(id) ? connections[id.index].phase : .closed }

    /// Whether the socket should be closed now: the target is done with it and its output is sent.
    public func shouldClose(_ id: ConnectionID) -> Bool {
        guard valid(id) else { return true }
        let c = connections[id.index]
        return c.phase == .closed || c.phase == .closing && c.pendingOutput == 0
    }

    public func statistics(_ id: ConnectionID) -> ConnectionStatistics? { valid(id) ? connections[id.index].statistics : nil }

    /// The connection's report: its host, queue, counters and why it ended (`peer`: the host's
    /// address, which the socket loop knows). Nil for a stale handle.
    public func report(_ id: ConnectionID, peer: String? = nil) -> ConnectionReport? {
        guard valid(id) else { return nil }
        let c = connections[id.index]
        return ConnectionReport(
            index: id.index, peer: peer, hostNQN: c.hostNQN, controllerID: c.controllerID, queueID: c.queueID,
            discovery: c.discovery, statistics: c.statistics, closeReason: c.closeReason, terminated: c.terminated)
    }

    /// Why the target closed the connection, if it did.
    public func closeReason(_ id: ConnectionID) -> String? { valid(id) ? connections[id.index].closeReason : nil }

    /// The connection's queue id and controller id once its Connect succeeded.
    public func queue(_ id: ConnectionID) -> (queueID: UInt16, controllerID: UInt16)? {
        guard valid(id), let q = connections[id.index].queueID, let c = connections[id.index].controllerID else { return nil }
        return (q, c)
    }

    /// Ends a connection whose socket closed (or that the caller closes after `shouldClose`): its
    /// controller association ends with its admin queue; commands in the backend finish first
    /// and their buffers come back then.
    public mutating func closeConnection(_ id: ConnectionID) {
        guard valid(id), connections[id.index].phase != .closed else { return }
        let i = id.index
        if let cntlid = connections[i].controllerID, let qid = connections[i].queueID {
            if qid == 0 {
                subsystem.removeController(cntlid)
            } else {
                _ = subsystem.withController(cntlid) { _ = $0.connectedIOQueues.remove(qid) }
            }
        }
        for s in connections[i].slots.indices where connections[i].slots[s].state != .inBackend && connections[i].slots[s].state != .free {
            // Not in the device: a buffer here is ours to give back. A `readyToSubmit` entry in the
            // FIFO is skipped when it comes up (the slot is free by then).
            releaseSlot(i, s)
        }
        connections[i].phase = .closed
        connections[i].output.removeAll()
        connections[i].outputStart = 0
    }

    /// Connections not closed.
    public var openConnections: Int { connections.count { $0.phase != .closed } }

    /// Commands in the backend queue pair.
    public var outstanding: Int { pair.outstanding }

    /// The backend queue pair's counters (backpressure among them).
    public var backendStatistics: QueueStatistics { pair.statistics }

    /// DMA buffers not in use.
    public var availableBuffers: Int { buffers.available }

    // MARK: - Bytes in and out

    /// The free space after the connection's unframed input, for `recv` to fill; then `didReceive`.
    public mutating func receiveSpace(_ id: ConnectionID) -> UnsafeMutableRawBufferPointer {
        guard valid(id) else { return UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        connections[id.index].compactInput()
        let c = connections[id.index]
        return UnsafeMutableRawBufferPointer(rebasing: c.receiveBuffer[c.receiveEnd...])
    }

    /// `count` bytes were written into `receiveSpace`: frames and handles what is complete.
    public mutating func didReceive(_ id: ConnectionID, count: Int) {
        guard valid(id) else { return }
        precondition(count >= 0 && connections[id.index].receiveEnd + count <= connections[id.index].receiveBuffer.count)
        connections[id.index].receiveEnd += count
        connections[id.index].statistics.bytesReceived &+= UInt64(count)
        process(id.index)
    }

    /// Copies `bytes` in (as much as fits) and handles them; returns how many were taken. The
    /// tests' way in; a socket loop uses `receiveSpace` to avoid the copy.
    @discardableResult
    public mutating func receive(_ id: ConnectionID, _ bytes: UnsafeRawBufferPointer) -> Int {
        let space = receiveSpace(id)
        let n = min(space.count, bytes.count)
        if n > 0 { space.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n) }
        didReceive(id, count: n)
        return n
    }

    /// Whether the connection wants more input now (false while stalled or closing). Room counts
    /// after compaction (`receiveSpace` moves the unframed bytes to the front): a `recv` that
    /// filled the buffer to its end left the connection unread for good when this looked at
    /// `receiveEnd` alone, which the kernel initiator's writes hit within seconds (HIL boot tcp).
    public func wantsInput(_ id: ConnectionID) -> Bool {
        guard valid(id) else { return false }
        let c = connections[id.index]
        return (c.phase == .awaitingICReq || c.phase == .established) && !c.stalled && c.unframed.count < c.receiveBuffer.count
    }

    /// Calls `body` with the bytes waiting to be sent; `body` returns how many it sent.
    public mutating func send(_ id: ConnectionID, _ body: (UnsafeRawBufferPointer) -> Int) {
        guard valid(id), connections[id.index].pendingOutput > 0 else { return }
        let start = connections[id.index].outputStart
        let sent = connections[id.index].output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        let taken = max(0, min(sent, connections[id.index].pendingOutput))
        connections[id.index].consumeOutput(taken)
        connections[id.index].statistics.bytesSent &+= UInt64(taken)
        if connections[id.index].stalled, connections[id.index].pendingOutput < outputLimit { resume(id.index) }
    }

    /// Takes every byte waiting to be sent (tests).
    public mutating func takeOutput(_ id: ConnectionID) -> [UInt8] {
        var out: [UInt8] = []
        send(id) { out = Array($0); return $0.count }
        return out
    }

    public func pendingOutput(_ id: ConnectionID) -> Int { valid(id) ? connections[id.index].pendingOutput : 0 }

    // MARK: - Framing

    /// Frames and handles the connection's input until it runs out, stalls or ends.
    mutating func process(_ c: Int) {
        while connections[c].phase == .awaitingICReq || connections[c].phase == .established, !connections[c].stalled {
            if connections[c].pendingOutput >= outputLimit {
                stall(c, waitingForOutput: true)
                break
            }
            let input = connections[c].unframed
            guard !input.isEmpty else { break }
            switch PDUFramer.frame(input, receiving: .hostToController, format: connections[c].receiveFormat, maximumLength: maximumReceivePDU) {
            case .incomplete:
                return
            case .fatal(let error):
                terminate(c, error, quoting: input)
                return
            case .pdu(let frame):
                let pdu = UnsafeRawBufferPointer(rebasing: input[0..<frame.length])
                connections[c].statistics.pdusReceived &+= 1
                do {
                    let taken = try handle(c, frame, pdu)
                    guard taken else {
                        stall(c, waitingForOutput: false)
                        return
                    }
                    connections[c].receiveStart += frame.length
                } catch {
                    terminate(c, error, quoting: pdu)
                    return
                }
            }
        }
    }

    /// Stops framing the connection's input: its output is over `outputLimit`, or (not
    /// `waitingForOutput`) the PDU at the front needs a DMA buffer and none is free.
    mutating func stall(_ c: Int, waitingForOutput: Bool) {
        connections[c].stalled = true
        if waitingForOutput {
            connections[c].statistics.outputWaits &+= 1
        } else {
            connections[c].statistics.bufferWaits &+= 1
        }
    }

    mutating func resume(_ c: Int) {
        connections[c].stalled = false
        process(c)
    }

    /// Handles one framed PDU; false when it must wait (no DMA buffer free) and stay unconsumed.
    mutating func handle(_ c: Int, _ frame: PDUFrame, _ pdu: UnsafeRawBufferPointer) throws(TransportFatalError) -> Bool {
        if connections[c].phase == .awaitingICReq, frame.type != .icReq, frame.type != .h2cTermReq {
            throw TransportFatalError(.pduSequenceError, "\(frame.type) before ICReq")
        }
        switch frame.type {
        case .icReq:
            guard connections[c].phase == .awaitingICReq else { throw TransportFatalError(.pduSequenceError, "a second ICReq") }
            let request = try ICReqPDU(frame, in: pdu)
            let sendDigests = request.digests
            connections[c].receiveFormat = PDUFormat(headerDigest: sendDigests.contains(.header), dataDigest: sendDigests.contains(.data))
            connections[c].sendFormat = PDUFormat(
                headerDigest: sendDigests.contains(.header), dataDigest: sendDigests.contains(.data),
                dataAlignment: PDUFormat.alignment(pduDataAlignment: request.hostPDUDataAlignment))
            let response = ICRespPDU(digests: sendDigests, maximumH2CDataLength: UInt32(subsystem.configuration.maximumTransferBytes))
            connections[c].appendOutput(128) { response.encode(into: $0) }
            connections[c].phase = .established
            return true
        case .h2cTermReq:
            // The host gives up on the connection; nothing is answered (3.6.2.4).
            let request = try? TermReqPDU(frame, in: pdu)
            connections[c].closeReason = "host sent H2CTermReq (FES \(request?.status ?? 0))"
            connections[c].phase = .closing
            return true
        case .capsuleCommand:
            return try handleCapsule(c, frame, pdu)
        case .h2cData:
            return try handleData(c, frame, pdu)
        case .icResp, .c2hTermReq, .capsuleResponse, .c2hData, .r2t:
            // The framer refuses controller-to-host types on this side.
            throw .invalidField(at: 0, "\(frame.type) from a host")
        }
    }

    /// Sends a C2HTermReq quoting the offending PDU's header and closes (3.6.2.4-5).
    mutating func terminate(_ c: Int, _ error: TransportFatalError, quoting pdu: UnsafeRawBufferPointer) {
        let hlen = pdu.count >= 3 ? Int(pdu[2]) : 0
        let quoted = UnsafeRawBufferPointer(rebasing: pdu[0..<min(pdu.count, max(hlen, CommonHeader.size), TermReqPDU.maximumQuotedHeader)])
        let request = TermReqPDU(error, quoting: quoted)
        connections[c].appendOutput(24 + request.quotedHeader.count) { request.encode(.c2hTermReq, into: $0) }
        connections[c].closeReason = "terminated: \(error)"
        connections[c].terminated = true
        connections[c].phase = .closing
    }

    // MARK: - Responses

    /// Sends the CapsuleResp of the host's command `hostCommandID`; `dword1` carries the upper half
    /// of an 8-byte Property Get value.
    mutating func respond(_ c: Int, hostCommandID: UInt16, status: NVMeStatus, dword0: UInt32 = 0, dword1: UInt32 = 0) {
        let cqe = CompletionQueueEntry(
            commandSpecific: dword0, reserved: dword1, submissionQueueHead: connections[c].submissionQueueHead,
            submissionQueueID: connections[c].queueID ?? 0, commandID: hostCommandID, statusAndPhase: status.withPhase(false))
        let format = connections[c].sendFormat
        let response = CapsuleResponsePDU(completion: cqe)
        connections[c].appendOutput(format.layout(.capsuleResponse, dataLength: 0).length) { response.encode(format: format, into: $0) }
    }

    /// Sends `data` as one C2HData PDU with LAST_PDU (the CapsuleResp follows).
    mutating func sendData(_ c: Int, hostCommandID: UInt16, _ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        let format = connections[c].sendFormat
        let header = DataPDU(commandID: hostCommandID, dataOffset: 0, dataLength: UInt32(data.count))
        let layout = format.layout(.c2hData, dataLength: data.count)
        connections[c].appendOutput(layout.length) { buffer in
            _ = header.encodeHeader(.c2hData, flags: .lastPDU, format: format, into: buffer)
            PDUEncoding.appendData(data, layout: layout, format: format, type: .c2hData, into: buffer)
        }
    }

    /// Completes slot `s` of connection `c` with `status` (and the data a read produced), and frees it.
    mutating func complete(_ c: Int, slot s: Int, status: NVMeStatus, dword0: UInt32 = 0, dword1: UInt32 = 0, dataIn: Int = 0) {
        let hostCID = connections[c].slots[s].hostCommandID
        if status.isSuccess, dataIn > 0, let buffer = connections[c].slots[s].buffer {
            sendData(c, hostCommandID: hostCID, UnsafeRawBufferPointer(start: buffer.address, count: min(dataIn, buffer.slice.length)))
            connections[c].statistics.readBytes &+= UInt64(dataIn)
        }
        respond(c, hostCommandID: hostCID, status: status, dword0: dword0, dword1: dword1)
        releaseSlot(c, s)
    }

    /// Frees a slot and gives its buffer back (the device is done with it, or never had it).
    mutating func releaseSlot(_ c: Int, _ s: Int) {
        if let buffer = connections[c].slots[s].buffer { buffers.free(buffer) }
        connections[c].slots[s] = CommandSlot()
        connections[c].freeSlots.append(s)
    }
}
