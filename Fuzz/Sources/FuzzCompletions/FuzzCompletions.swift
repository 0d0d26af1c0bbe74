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
import VFIO

/// The completion path against a hostile device: the input interleaves submissions, real
/// completions, forged completion queue entries (every field chosen: command id, SQ head, SQ id,
/// status, phase tag) and reaps of any size on one I/O queue pair of 8 entries. Invariants: a
/// completion is delivered only for a command that is outstanding, at most once, with its own
/// token; the pair's count of outstanding commands matches; nothing traps or touches memory it
/// does not own (AddressSanitizer).
final class Rig: @unchecked Sendable {
    let device: EmulatedNVMeController
    let controller: Controller<EmulatedNVMeController>
    let buffer: DMABuffer

    init() {
        device = try! EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(
            namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 64)], maxIOQueuePairs: 2, msixVectors: 3))
        controller = try! Controller(device: device, options: ControllerOptions(
            ioQueuePairs: 1, ioQueueEntries: 8, interrupts: false, recovery: .disabled))
        buffer = try! device.dma.allocate(length: 4096)
    }
}

/// Built once: bring-up is the slow part, and every input starts from a fresh queue pair.
nonisolated(unsafe) var sharedRig: Rig?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCompletions(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    silenceLogging()
    let rig = sharedRig ?? Rig()
    sharedRig = rig
    var input = FuzzInput(data, size)
    let namespace = rig.controller.namespaces[0]
    rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .always, .dropCompletion)]))
    var pair = try! rig.controller.makeQueuePair(entries: 8)
    var outstanding: [UInt64: UInt16] = [:]  // token → command id
    var nextToken: UInt64 = 1
    var steps = 0
    while !input.isEmpty && steps < 256 {
        steps += 1
        switch input.byte() % 6 {
        case 0:
            guard pair.canSubmit else { continue }
            let cid = try! pair.submitRead(namespace: namespace, lba: UInt64(input.byte() % 64), blocks: 1,
                                          into: rig.buffer.slice(offset: 0, length: 512), token: nextToken)
            fuzzCheck(!outstanding.values.contains(cid), "command id \(cid) handed out twice")
            outstanding[nextToken] = cid
            nextToken += 1
        case 1:
            pair.ringSubmissionDoorbell()
            rig.device.service()
        case 2:
            // Let real completions through for a while (the plan drops them otherwise).
            rig.device.setFaultPlan(input.byte() & 1 == 0 ? .none : FaultPlan(rules: [.io(.read, .always, .dropCompletion)]))
        case 3, 4:
            let selector = input.byte()
            let cid: UInt16 = selector & 1 == 0 ? UInt16(input.byte() % 10) : input.integer()
            let head: UInt16 = selector & 2 == 0 ? UInt16(input.byte() % 10) : input.integer()
            let sqid: UInt16 = selector & 4 == 0 ? pair.id : input.integer()
            let status = NVMeStatus(rawValue: selector & 8 == 0 ? 0 : input.integer())
            let entry = CompletionQueueEntry(
                commandSpecific: input.integer(), submissionQueueHead: head, submissionQueueID: sqid, commandID: cid,
                statusAndPhase: status.withPhase(false))
            rig.device.postForgedCompletion(queue: pair.id, entry, phase: selector & 16 == 0 ? .current : .stale)
        default:
            let limit = Int(input.byte() % 10)
            _ = pair.reap(limit: limit) { completion in
                fuzzCheck(outstanding[completion.token] == completion.commandID,
                          "completion of token \(completion.token) (command id \(completion.commandID)) that is not outstanding")
                outstanding[completion.token] = nil
            }
        }
        fuzzCheck(pair.outstanding == outstanding.count, "pair says \(pair.outstanding) outstanding, \(outstanding.count) are")
        for (_, cid) in outstanding { fuzzCheck(pair.isOutstanding(commandID: cid), "command id \(cid) lost") }
    }
    rig.device.setFaultPlan(.none)
    _ = consume pair  // deletes the queues; what was outstanding is aborted by the deletion
    return 0
}
