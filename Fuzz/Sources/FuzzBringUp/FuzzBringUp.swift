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

/// Bring-up against a controller whose Identify data is the fuzzer's: Identify Controller (MDTS,
/// SQES/CQES, NN, ACL...), Identify Namespace (formats, FLBAS, NSZE/NCAP) and the active namespace
/// list, any of them replaced. Invariants: bring-up finishes (no endless loop on a list that never
/// ends), either throws or yields namespaces the driver can actually use (a supported block size
/// within one command's transfer, a nonzero size, NCAP <= NSZE), releases every DMA mapping when
/// it fails, and a blocking read on each namespace it accepted stays within the namespace.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBringUp(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    silenceLogging()
    var input = FuzzInput(data, size)
    let which = input.byte()
    let device = try! EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(
        namespaces: [EmulatedNamespace(blockSize: 512, capacityInBlocks: 64), EmulatedNamespace(blockSize: 4096, capacityInBlocks: 16)],
        maxIOQueuePairs: 2, msixVectors: 3))
    // Each page is either the fuzzer's bytes or a mutation of the real page at a chosen offset.
    if which & 1 != 0 { device.setIdentifyData(cns: .controller, page(&input, real: realController())) }
    if which & 2 != 0 { device.setIdentifyData(cns: .namespace, page(&input, real: realNamespace())) }
    if which & 4 != 0 { device.setIdentifyData(cns: .activeNamespaceList, page(&input, real: (try? ActiveNamespaceList(namespaceIDs: [1, 2]).encoded()) ?? [])) }
    do {
        let controller = try Controller(device: device, options: ControllerOptions(
            ioQueuePairs: 1, ioQueueEntries: 8, adminTimeoutMilliseconds: 200, interrupts: false, recovery: .disabled))
        fuzzCheck(controller.maximumTransferBytes >= 4096 && controller.maximumTransferBytes <= 2 << 20,
                  "maximum transfer \(controller.maximumTransferBytes)")
        for ns in controller.namespaces {
            fuzzCheck(ns.blockSize >= 512 && ns.blockSize <= 65536 && ns.blockSize <= controller.maximumTransferBytes, "block size \(ns.blockSize)")
            fuzzCheck(ns.blockCount > 0 && ns.capacityBlocks <= ns.blockCount, "NSZE \(ns.blockCount) NCAP \(ns.capacityBlocks)")
            fuzzCheck(ns.maximumBlocksPerCommand >= 1 && ns.maximumBlocksPerCommand * ns.blockSize <= controller.maximumTransferBytes,
                      "\(ns.maximumBlocksPerCommand) blocks per command")
            if let buffer = try? device.dma.allocate(length: ns.blockSize) {
                // The last block: the host-side range check passes; the device answers what it answers.
                _ = try? controller.namespace(ns.id).read(lba: ns.blockCount - 1, blocks: 1, into: buffer.whole)
                do {
                    try controller.namespace(ns.id).read(lba: ns.blockCount, blocks: 1, into: buffer.whole)
                    fuzzCheck(false, "read past namespace \(ns.id) was submitted")
                } catch {}
            }
        }
        try? controller.close()
    } catch {
        fuzzCheck(device.dma.liveMappings == 0, "bring-up failed (\(error)) and left \(device.dma.liveMappings) mappings")
    }
    return 0
}

func page(_ input: inout FuzzInput, real: [UInt8]) -> [UInt8] {
    let mode = input.byte()
    if mode & 1 == 0 { return input.bytes(min(4096, input.remaining)) }
    var bytes = real + [UInt8](repeating: 0, count: max(0, 4096 - real.count))
    // Up to 16 patches of up to 8 bytes at chosen offsets of the real page.
    for _ in 0..<Int(mode >> 4) {
        let at = Int(input.integer(UInt16.self)) % 4096
        for i in 0..<Int(input.byte() % 8) where at + i < 4096 { bytes[at + i] = input.byte() }
    }
    return bytes
}

func realController() -> [UInt8] {
    var id = IdentifyController()
    id.sqes = 0x66
    id.cqes = 0x44
    id.numberOfNamespaces = 2
    id.mdts = 5
    id.abortCommandLimit = 3
    return (try? id.encoded()) ?? []
}

func realNamespace() -> [UInt8] {
    var ns = IdentifyNamespace()
    ns.size = 64
    ns.capacity = 64
    return (try? ns.encoded()) ?? []
}
