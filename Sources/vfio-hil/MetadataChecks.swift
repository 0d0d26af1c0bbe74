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

import DriverScenarios
import NVMe
import VFIO

/// Metadata and end-to-end protection against QEMU's controller (issue 18): each check runs on
/// every namespace of the kind it needs and skips a controller without one. QEMU checks the
/// tuples with its own CRC (hw/nvme/dif.c), so a pass here proves ours agrees with it.
let metadataChecks: [HILCheck] = [
    HILCheck("pi-pract-roundtrip", "writes and reads with PRACT (QEMU makes and checks the tuples; strips them when the metadata is only the tuple), then reads the tuples raw and checks them on the host") { context in
        try forEachNamespace(context, where: { $0.protection != nil }) { ns, rig in
            let info = ns.info
            let blocks = 8, lba = info.blockCount / 3
            // Metadata larger than the tuple still moves with PRACT (the rest of it is the host's).
            let wire = info.dataBytesPerBlock(.controller), metadataBytes = info.separateMetadataBytes(blocks: blocks, .controller)
            let data = try rig.device.dma.allocate(length: blocks * wire)
            fillPattern(data.whole, seed: lba ^ 0x9111)
            let metadata = try MetadataBuffer(rig, bytes: metadataBytes)
            if let slice = metadata.slice { fillPattern(slice, seed: lba ^ 0x9112) }
            try ns.write(lba: lba, blocks: blocks, from: data.whole, metadata: metadata.slice, protection: .controller)
            let back = try rig.device.dma.allocate(length: blocks * wire)
            let backMetadata = try MetadataBuffer(rig, bytes: metadataBytes)
            try ns.read(lba: lba, blocks: blocks, into: back.whole, metadata: backMetadata.slice, protection: .controller)
            if let block = firstDifferentBlock(info, blocks, data.whole, stride: wire, back.whole, stride: wire) {
                throw ScenarioFailure("namespace \(info.id): block \(block) read with PRACT differs from what was written")
            }
            // PRACT off: the tuples QEMU made come to the host, which checks them with its own CRC.
            let raw = try rig.device.dma.allocate(length: blocks * info.dataBytesPerBlock(.checked))
            let rawMetadata = try MetadataBuffer(rig, bytes: info.separateMetadataBytes(blocks: blocks, .checked))
            try ns.read(lba: lba, blocks: blocks, into: raw.whole, metadata: rawMetadata.slice, protection: .checked)
            try info.verifyProtection(data: raw.whole, metadata: rawMetadata.slice, lba: lba, blocks: blocks)
        }
    },

    HILCheck("pi-host-generated", "writes tuples made on the host (QEMU checks them), reads back with PRACT (QEMU checks them)") { context in
        try forEachNamespace(context, where: { $0.protection != nil }) { ns, rig in
            let info = ns.info
            let blocks = 4, lba = info.blockCount / 3 + 64
            let buffers = try hostProtected(info, rig, blocks: blocks, lba: lba, seed: 0x4242)
            let data = buffers.data.whole
            try ns.write(lba: lba, blocks: blocks, from: data, metadata: buffers.metadata.slice, protection: .checked)
            let wire = info.dataBytesPerBlock(.controller)
            let back = try rig.device.dma.allocate(length: blocks * wire)
            let backMetadata = try MetadataBuffer(rig, bytes: info.separateMetadataBytes(blocks: blocks, .controller))
            try ns.read(lba: lba, blocks: blocks, into: back.whole, metadata: backMetadata.slice, protection: .controller)
            if let block = firstDifferentBlock(info, blocks, data, stride: info.dataBytesPerBlock(.checked), back.whole, stride: wire) {
                throw ScenarioFailure("namespace \(info.id): block \(block) read back differs")
            }
        }
    },

    HILCheck("pi-bad-guard-detected", "a tuple whose guard no longer matches its data (one data bit flipped after it was made) is refused with End-to-end Guard Check Error") { context in
        try forEachNamespace(context, where: { $0.protection != nil }) { ns, rig in
            let info = ns.info
            let lba = info.blockCount / 3 + 128
            let buffers = try hostProtected(info, rig, blocks: 1, lba: lba, seed: 0xBAD)
            // Spelled out: `^=` through this subscript crashes Swift 6.3.1's compiler under
            // -sanitize=thread ("Invalid bitcast"; see fab2685), which broke reliability.sh's TSan build.
            buffers.data.bytes[17] = buffers.data.bytes[17] ^ 0x04
            do {
                try ns.write(lba: lba, blocks: 1, from: buffers.data.whole, metadata: buffers.metadata.slice, protection: .checked)
            } catch {
                guard let failure = error as? NVMeError, case .commandFailed(_, let status) = failure else { throw error }
                try expect(status.matches(.endToEndGuardCheckError), "namespace \(info.id): refused with \(status), not a guard check error")
                return
            }
            throw ScenarioFailure("namespace \(info.id): the write with a bad guard succeeded")
        }
    },

    HILCheck("metadata-roundtrip", "writes data and metadata (PRACT off, separate buffer or extended LBA), reads both back, leaves both in HIL_HANDOFF_DIR (data in .bin, metadata in .md)") { context in
        try forEachNamespace(context, where: { $0.metadataSize > 0 }) { ns, rig in
            let info = ns.info
            let blocks = 8, lba = info.blockCount / 2 + 7
            let protection: IOProtection = .off
            let wire = blocks * info.dataBytesPerBlock(protection), metadataBytes = info.separateMetadataBytes(blocks: blocks, protection)
            let data = try rig.device.dma.allocate(length: wire)
            fillPattern(data.whole, seed: lba ^ 0x3D)
            let metadata = try MetadataBuffer(rig, bytes: metadataBytes)
            if let slice = metadata.slice { fillPattern(slice, seed: lba ^ 0x3E) }
            if info.protection != nil {
                // Valid tuples, so that the kernel's PI checks pass when it reads these blocks.
                try info.generateProtection(data: data.whole, metadata: metadata.slice, lba: lba, blocks: blocks, protection: .checked)
            }
            try ns.write(lba: lba, blocks: blocks, from: data.whole, metadata: metadata.slice, protection: protection)
            let back = try rig.device.dma.allocate(length: wire)
            let backMetadata = try MetadataBuffer(rig, bytes: metadataBytes)
            try ns.read(lba: lba, blocks: blocks, into: back.whole, metadata: backMetadata.slice, protection: protection)
            try expect(equal(data.whole, back.whole, wire), "namespace \(info.id): data (with extended metadata) read back differs")
            if let written = metadata.slice, let read = backMetadata.slice {
                try expect(equal(written, read, metadataBytes), "namespace \(info.id): metadata read back differs")
            }
            if let dir = context.environment["HIL_HANDOFF_DIR"] {
                // Data only, as the kernel's block device returns it (guest.sh: ck_kernel_sees_driver_writes).
                // The metadata of each block in order, whatever the layout: nvme-cli reads it back
                // through the kernel (metadata.sh: ck_nvme_cli_reads_metadata).
                let stride = info.dataBytesPerBlock(protection)
                var plain: [UInt8] = [], blockMetadata: [UInt8] = []
                for block in 0..<blocks {
                    plain += data.bytes[block * stride..<block * stride + info.blockSize]
                    if info.extendedLBA { blockMetadata += data.bytes[block * stride + info.blockSize..<(block + 1) * stride] }
                }
                if let slice = metadata.slice { blockMetadata = Array(slice.bytes[0..<metadataBytes]) }
                for (suffix, bytes) in [("bin", plain), ("md", blockMetadata)] {
                    var bytes = bytes
                    let path = "\(dir)/ns\(info.id)-lba\(lba).\(suffix)"
                    try expect(bytes.withUnsafeMutableBytes { writeWholeFile(path, $0) }, "cannot write \(path)")
                }
            }
        }
    },
]

/// Runs `body` on every namespace `matching` holds for; skips when there is none.
func forEachNamespace(
    _ context: HILContext, where matching: (NamespaceInfo) -> Bool,
    _ body: (Namespace<VFIODevice>, NVMeScenarioRig<VFIODevice>) throws -> Void
) throws -> ScenarioOutcome {
    let rig = try NVMeScenarioRig(nvmeTarget(context))
    let chosen = rig.controller.namespaces.filter(matching)
    for info in chosen {
        context.log("namespace \(info.id): metadata \(info.metadataSize) B\(info.extendedLBA ? " extended" : ""), protection \(info.protection.map { "\($0.type), \($0.guardFormat)" } ?? "none")")
        try body(try rig.controller.namespace(info.id), rig)
    }
    try rig.controller.close()
    return chosen.isEmpty ? .skip("no namespace of this kind on this controller") : .pass
}

/// A separate metadata buffer (MPTR) when a command moves `bytes` > 0 of metadata. The DMA
/// buffer is always allocated, so that the owner is not an optional ~Copyable value, which each
/// use would consume; `slice` is nil when the command takes none.
struct MetadataBuffer: ~Copyable {
    let buffer: DMABuffer
    let slice: DMASlice?

    init(_ rig: NVMeScenarioRig<VFIODevice>, bytes: Int) throws {
        buffer = try rig.device.dma.allocate(length: max(bytes, 4))
        slice = bytes > 0 ? buffer.slice(offset: 0, length: bytes) : nil
    }
}

/// A data buffer and, on a separate-metadata namespace, its metadata buffer.
struct ProtectedBuffers: ~Copyable {
    let data: DMABuffer
    let metadata: MetadataBuffer
}

/// `blocks` blocks of a pattern with the host's tuples, laid out as PRACT off moves them.
func hostProtected(
    _ info: NamespaceInfo, _ rig: NVMeScenarioRig<VFIODevice>, blocks: Int, lba: UInt64, seed: UInt64
) throws -> ProtectedBuffers {
    let data = try rig.device.dma.allocate(length: blocks * info.dataBytesPerBlock(.checked))
    fillPattern(data.whole, seed: seed ^ lba)
    let metadata = try MetadataBuffer(rig, bytes: info.separateMetadataBytes(blocks: blocks, .checked))
    if let slice = metadata.slice { fillPattern(slice, seed: seed) }
    try info.generateProtection(data: data.whole, metadata: metadata.slice, lba: lba, blocks: blocks, protection: .checked)
    return ProtectedBuffers(data: data, metadata: metadata)
}

func equal(_ a: DMASlice, _ b: DMASlice, _ count: Int) -> Bool { a.bytes[0..<count].elementsEqual(b.bytes[0..<count]) }

/// The first of `blocks` blocks whose data differs between `a` and `b`, each laid out with its
/// own stride (a block, or a block and its metadata), nil when all match.
func firstDifferentBlock(_ info: NamespaceInfo, _ blocks: Int, _ a: DMASlice, stride strideA: Int, _ b: DMASlice, stride strideB: Int) -> Int? {
    (0..<blocks).first { block in
        !a.bytes[block * strideA..<block * strideA + info.blockSize].elementsEqual(b.bytes[block * strideB..<block * strideB + info.blockSize])
    }
}
