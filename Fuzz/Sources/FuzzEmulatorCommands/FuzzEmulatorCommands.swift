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

/// The emulated controller's command and PRP handling, fed arbitrary submission queue entries:
/// any opcode, namespace, CDWs, and data pointers that are raw values, point into mapped data
/// buffers at any offset, or point at a PRP list page whose entries the fuzzer wrote. Admin
/// commands go through the admin queue, I/O commands through an I/O queue pair, and the
/// controller is stepped after each. Invariants: nothing traps or touches memory outside the
/// mappings (AddressSanitizer; the emulated IOMMU refuses and records everything else); every
/// submitted I/O command completes exactly once, or its queue is gone; the driver's view stays
/// consistent.
final class Buffers: @unchecked Sendable {
    let data: DMABuffer
    let list: DMABuffer
    init(_ device: EmulatedNVMeController) {
        data = try! device.dma.allocate(length: 4 * 4096)
        list = try! device.dma.allocate(length: 4096)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEmulatorCommands(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    silenceLogging()
    var input = FuzzInput(data, size)
    let device = try! EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(
        namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 256), EmulatedNamespace(blockSize: 4096, capacityInBlocks: 32)],
        maxDataTransferSize: 2, maxIOQueuePairs: 3, msixVectors: 4))
    let controller = try! Controller(device: device, options: ControllerOptions(
        ioQueuePairs: 2, ioQueueEntries: 16, adminTimeoutMilliseconds: 50, interrupts: false, recovery: .disabled))
    let buffers = Buffers(device)
    var pair = try! controller.makeQueuePair(entries: 16)
    var outstanding: Set<UInt64> = []
    var token: UInt64 = 0
    var steps = 0
    while !input.isEmpty && steps < 64 {
        steps += 1
        let kind = input.byte()
        var sqe = SubmissionQueueEntry(
            opcode: input.byte(), flags: input.byte() & 0x03, commandID: 0, namespaceID: nsid(&input),
            cdw2: 0, cdw3: 0, metadataPointer: 0, prp1: pointer(&input, buffers), prp2: pointer(&input, buffers),
            cdw10: input.integer(), cdw11: input.integer(), cdw12: smallCount(&input), cdw13: input.integer(),
            cdw14: input.integer(), cdw15: input.integer())
        if kind & 0x10 != 0 {
            // Fill the PRP list page: page-aligned entries into the data buffer, or anything.
            let base = buffers.data.iova.rawValue
            let list = buffers.list.address.bindMemory(to: UInt64.self, capacity: 512)
            for i in 0..<Int(input.byte() % 8) {
                let raw: UInt64 = input.integer()
                list[i] = raw & 1 == 0 ? base + (raw >> 1) % 4 * 4096 : raw
            }
        }
        if kind & 1 == 0 {
            // Admin. An Asynchronous Event Request never completes by design: leave it out.
            if sqe.opcode == AdminOpcode.asynchronousEventRequest.rawValue { sqe.opcode = AdminOpcode.getLogPage.rawValue }
            _ = try? controller.adminCommand(sqe, name: "fuzzed admin command")
        } else if pair.canSubmit {
            token += 1
            if (try? pair.submit(sqe, token: token)) != nil { outstanding.insert(token) }
            pair.ringSubmissionDoorbell()
        }
        device.service()
        _ = pair.reap { completion in
            fuzzCheck(outstanding.remove(completion.token) != nil, "completion for token \(completion.token) not outstanding")
        }
        fuzzCheck(pair.outstanding == outstanding.count, "pair says \(pair.outstanding) outstanding, \(outstanding.count) are")
    }
    _ = consume pair
    try? controller.close()
    return 0
}

/// Mostly the two real namespaces, sometimes 0, broadcast or anything.
func nsid(_ input: inout FuzzInput) -> UInt32 {
    let b = input.byte()
    switch b % 8 {
    case 0: return 0
    case 1: return 0xFFFF_FFFF
    case 2: return input.integer()
    default: return UInt32(b % 2) + 1
    }
}

/// A data pointer: into the data buffer (any dword offset), the PRP list page, or raw.
func pointer(_ input: inout FuzzInput, _ buffers: Buffers) -> UInt64 {
    let b = input.byte()
    switch b % 4 {
    case 0: return buffers.data.iova.rawValue + UInt64(input.integer(UInt16.self)) % (4 * 4096)
    case 1: return buffers.list.iova.rawValue + UInt64(b >> 2) * 8
    case 2: return buffers.data.iova.rawValue + UInt64(b >> 2) % 4 * 4096
    default: return input.integer()
    }
}

/// CDW12 (NLB in its low 16 bits for I/O): mostly small, so transfers stay within the buffers
/// often enough to reach the data paths.
func smallCount(_ input: inout FuzzInput) -> UInt32 {
    let b = input.byte()
    return b & 0x80 == 0 ? UInt32(b & 0x1F) : input.integer()
}
