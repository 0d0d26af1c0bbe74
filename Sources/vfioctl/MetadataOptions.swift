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

import ArgumentParser
import Glibc
import NVMe
import NVMeEmulator
import VFIO

/// `--pi`: who makes and checks the protection information of a read or write.
enum PIMode: String, ExpressibleByArgument, CaseIterable {
    /// PRACT: the controller inserts tuples on writes, checks (and strips) them on reads.
    case pract
    /// The tool makes the tuples of a write and checks those of a read; the controller checks too.
    case host
    /// Neither: metadata moves as it is, nothing is checked.
    case off
}

/// `--metadata FILE` and `--pi MODE` of `read` and `write`, on namespaces formatted with metadata.
/// The data file (or stdin/stdout) always holds data only; the metadata, when it moves, goes to
/// or comes from its own file, whatever the namespace's layout (the tool interleaves it for an
/// extended-LBA namespace).
struct MetadataOptions: ParsableArguments {
    @Option(help: "Metadata file (blocks x metadata size bytes): written by read, read by write.")
    var metadata: String?
    @Option(help: "Protection information: pract (the controller makes and checks it), host (the tool does, the controller checks too), off.")
    var pi: PIMode?

    /// The protection for `ns`, after checking the combination (one line naming the fix otherwise).
    func protection(for ns: NamespaceInfo) throws -> IOProtection {
        if ns.metadataSize == 0 {
            guard metadata == nil && pi == nil else {
                throw ValidationFailure("namespace \(ns.id) is formatted without metadata; drop --metadata and --pi")
            }
            return .off
        }
        if ns.protection == nil, let pi, pi != .off {
            throw ValidationFailure("namespace \(ns.id) is formatted without protection information; drop --pi \(pi.rawValue) (or give --pi off)")
        }
        let protection = pi?.protection ?? ns.defaultProtection
        let moves = ns.transfersMetadata(protection)
        if !moves, metadata != nil {
            throw ValidationFailure(
                "with PRACT on namespace \(ns.id) its \(ns.metadataSize)-byte metadata is only the protection tuple, which the controller keeps; drop --metadata (or give --pi off)")
        }
        if moves, metadata == nil, pi != .host {
            let pract = ns.protection.map { $0.guardFormat.tupleSize == ns.metadataSize } ?? false
            throw ValidationFailure(
                "namespace \(ns.id) moves \(ns.metadataSize) bytes of metadata per block; give --metadata FILE\(pract ? " (or --pi pract)" : "")")
        }
        return protection
    }
}

/// A read or write of a namespace with metadata, chunk by chunk through DMA buffers of up to
/// 1 MiB: the data buffer (with each block's metadata after it on an extended-LBA namespace) and
/// the separate metadata buffer, filled from and emptied to the data and metadata files.
struct MetadataTransfer<Device: PCIFunction> {
    let ns: Namespace<Device>
    let protection: IOProtection
    let hostTuples: Bool

    init(_ ns: Namespace<Device>, options: MetadataOptions) throws {
        self.ns = ns
        protection = try options.protection(for: ns.info)
        hostTuples = options.pi == .host
    }

    var info: NamespaceInfo { ns.info }
    var moves: Bool { info.transfersMetadata(protection) }
    var wireBlock: Int { info.dataBytesPerBlock(protection) }
    var separate: Bool { info.separateMetadataBytes(blocks: 1, protection) > 0 }

    /// Runs `body` per chunk with (lba, blocks, data buffer, metadata buffer or nil).
    func forEachChunk(lba: UInt64, count: Int, _ body: (UInt64, Int, DMASlice, DMASlice?) throws -> Void) throws {
        let chunkBlocks = max(1, min(count, (1 << 20) / (info.blockSize + info.metadataSize)))
        let dma = ns.controller.device.dma
        let data = try dma.allocate(length: chunkBlocks * wireBlock)
        let metadata = separate ? try dma.allocate(length: chunkBlocks * info.metadataSize) : nil
        var done = 0
        while done < count {
            let blocks = min(chunkBlocks, count - done)
            try body(
                lba + UInt64(done), blocks, data.slice(offset: 0, length: blocks * wireBlock),
                metadata?.slice(offset: 0, length: blocks * info.metadataSize))
            done += blocks
        }
    }

    /// Block `i`'s metadata in the chunk's buffers.
    func metadataBytes(_ i: Int, _ data: DMASlice, _ metadata: DMASlice?) -> UnsafeMutableRawBufferPointer {
        let ms = info.metadataSize
        if let metadata { return UnsafeMutableRawBufferPointer(rebasing: metadata.bytes[i * ms..<(i + 1) * ms]) }
        return UnsafeMutableRawBufferPointer(rebasing: data.bytes[i * wireBlock + info.blockSize..<(i + 1) * wireBlock])
    }

    func dataBytes(_ i: Int, _ data: DMASlice) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: data.bytes[i * wireBlock..<i * wireBlock + info.blockSize])
    }

    func read(lba: UInt64, count: Int, to out: Int32, name: String, metadataFile: Int32?, metadataName: String) throws {
        var staging = [UInt8](repeating: 0, count: 0)
        try forEachChunk(lba: lba, count: count) { lba, blocks, data, metadata in
            try ns.read(lba: lba, blocks: blocks, into: data, metadata: metadata, protection: protection)
            if hostTuples { try info.verifyProtection(data: data, metadata: metadata, lba: lba, blocks: blocks, protection: protection) }
            try gather(blocks, into: &staging) { dataBytes($0, data) }
            try staging.withUnsafeMutableBytes { try writeAll(out, $0, to: name) }
            if let metadataFile, moves {
                try gather(blocks, into: &staging) { metadataBytes($0, data, metadata) }
                try staging.withUnsafeMutableBytes { try writeAll(metadataFile, $0, to: metadataName) }
            }
        }
    }

    func write(lba: UInt64, count: Int, from input: Int32, name: String, metadataFile: Int32?, metadataName: String) throws {
        try forEachChunk(lba: lba, count: count) { lba, blocks, data, metadata in
            try scatter(blocks, from: input, name: name, firstLBA: lba) { dataBytes($0, data) }
            if moves {
                if let metadataFile {
                    try scatter(blocks, from: metadataFile, name: metadataName, firstLBA: lba) { metadataBytes($0, data, metadata) }
                } else {
                    for i in 0..<blocks { metadataBytes(i, data, metadata).initializeMemory(as: UInt8.self, repeating: 0) }
                }
            }
            if hostTuples { try info.generateProtection(data: data, metadata: metadata, lba: lba, blocks: blocks, protection: protection) }
            try ns.write(lba: lba, blocks: blocks, from: data, metadata: metadata, protection: protection)
        }
    }

    /// The pieces of `blocks` blocks, one after the other, in `staging`.
    private func gather(_ blocks: Int, into staging: inout [UInt8], _ piece: (Int) -> UnsafeMutableRawBufferPointer) throws {
        staging.removeAll(keepingCapacity: true)
        for i in 0..<blocks { staging.append(contentsOf: piece(i)) }
    }

    /// Fills the pieces of `blocks` blocks from `fd`; a short file is an error naming what is missing.
    private func scatter(
        _ blocks: Int, from fd: Int32, name: String, firstLBA: UInt64, _ piece: (Int) -> UnsafeMutableRawBufferPointer
    ) throws {
        for i in 0..<blocks {
            let target = piece(i)
            let got = try readFully(fd, target)
            guard got == target.count else {
                throw ValidationFailure("\(name) ended at LBA \(firstLBA + UInt64(i)) after \(got) of \(target.count) bytes (blocks before it were written)")
            }
        }
    }
}

extension MetadataOptions {
    /// Opens the metadata file: for writing (read) or reading (write).
    func openFile(forWriting: Bool) throws -> Int32? {
        guard let metadata else { return nil }
        let fd = forWriting ? open(metadata, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) : open(metadata, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationFailure("cannot open --metadata \(metadata): \(VFIOError.errnoText(errno))") }
        return fd
    }
}

/// `--emu-format ms=N,mset=0|1,pi=0...3,pil=0|1,pif=0|2`, QEMU's nvme-ns names for the emulated
/// namespaces' metadata size, extended LBA, protection type, tuple first, and guard format.
func parseEmulatedFormat(_ text: String, into namespace: inout EmulatedNamespace) throws {
    for item in text.split(separator: ",") {
        let pair = item.split(separator: "=", maxSplits: 1)
        guard pair.count == 2, let value = Int(pair[1]) else {
            throw ValidationFailure("--emu-format \(text): \"\(item)\" is not NAME=NUMBER; give e.g. ms=8,mset=1,pi=1")
        }
        switch pair[0] {
        case "ms": namespace.metadataSize = value
        case "mset" where value == 0 || value == 1: namespace.extendedLBA = value == 1
        case "pi" where (0...3).contains(value): namespace.protection = ProtectionType(rawValue: UInt8(value))!
        case "pil" where value == 0 || value == 1: namespace.protectionFirst = value == 1
        case "pif" where value == 0 || value == 2: namespace.guardFormat = value == 0 ? .crc16 : .crc64
        default:
            throw ValidationFailure("--emu-format \(text): \"\(item)\" is not one of ms=0|8|16|64, mset=0|1, pi=0...3, pil=0|1, pif=0|2")
        }
    }
}

/// `identify`'s words for a namespace's format: nothing without metadata, else the metadata
/// size and place, and the protection type, guard and tuple place.
func formatSummary(_ ns: NamespaceInfo) -> String {
    guard ns.metadataSize > 0 else { return "" }
    var text = ", metadata \(ns.metadataSize) B \(ns.extendedLBA ? "extended LBA (after each block)" : "in a separate buffer")"
    if let pi = ns.protection {
        text += ", PI \(pi.type), \(pi.guardFormat), tuple \(pi.tupleFirst ? "first" : "last")"
    } else {
        text += ", no PI"
    }
    return text
}

/// The same for `identify --json`.
func formatFields(_ ns: NamespaceInfo) -> [(String, JSON)] {
    [
        ("metadata_size", .int(ns.metadataSize)), ("extended_lba", .bool(ns.extendedLBA)),
        ("protection_type", .int(Int(ns.protection?.type.rawValue ?? 0))),
        ("guard", .string(ns.protection.map { $0.guardFormat == .crc16 ? "crc16" : "crc64" } ?? "none")),
        ("pi_first", .bool(ns.protection?.tupleFirst ?? false)),
    ]
}

extension PIMode {
    /// The PRINFO this mode asks of a command.
    var protection: IOProtection {
        switch self {
        case .pract: .controller
        case .host: .checked
        case .off: .off
        }
    }
}
