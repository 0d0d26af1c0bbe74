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
import NVMeSpec
import Testing
import VFIO

/// The driver on namespaces formatted with metadata and protection information (NVMe base 1.4,
/// 8.2-8.3), against the emulated controller: once refused as unusable, now read and written
/// with separate and interleaved metadata, PRACT, and the host's own tuples.
@Suite struct MetadataIOTests {
    static func rig(_ namespace: EmulatedNamespace, mdts: UInt8 = 5) throws -> Rig {
        try Rig(mdts: mdts, namespaces: [namespace])
    }

    @Test func formattedNamespacesAreUsableAndDescribed() throws {
        let rig = try Rig(namespaces: [
            EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, extendedLBA: true, protection: .type1),
            EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 16),
            EmulatedNamespace(blockSize: 4096, capacityInBlocks: 256, metadataSize: 16, protection: .type3, guardFormat: .crc64),
        ])
        let infos = rig.controller.namespaces
        #expect(infos.map(\.id) == [1, 2, 3])
        #expect(infos[0].metadataSize == 8 && infos[0].extendedLBA && infos[0].protection?.type == .type1)
        #expect(infos[1].metadataSize == 16 && !infos[1].extendedLBA && infos[1].protection == nil)
        // The guard format comes from ELBAF (Identify CNS 05h).
        #expect(infos[2].protection == ProtectionFormat(type: .type3, guardFormat: .crc64, metadataSize: 16))
        // 128 KiB MDTS over 520-byte blocks on the wire.
        #expect(infos[0].maximumBlocksPerCommand == 131072 / 520)
    }

    @Test func dataOnlyCallsRefuseANamespaceWithMetadata() throws {
        let rig = try Self.rig(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 16))
        var pair = try rig.controller.makeQueuePair()
        let buffer = try rig.device.dma.allocate(length: 4096)
        #expect {
            try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.whole, token: 1)
        } throws: { "\($0)".contains("16 bytes of metadata per block") }
        #expect(pair.outstanding == 0)
    }

    @Test func separateMetadataRoundTripsAcrossSplitCommands() throws {
        // MDTS 2^1 pages = 8 KiB: 64 blocks go as four commands, each with its part of the metadata.
        let rig = try Self.rig(EmulatedNamespace(capacityInBlocks: 4096, metadataSize: 16), mdts: 1)
        let ns = try rig.controller.namespace(1)
        let data = try patternBuffer(rig.device.dma, bytes: 64 * 512, seed: 1)
        let metadata = try patternBuffer(rig.device.dma, bytes: 64 * 16, seed: 2)
        try ns.write(lba: 300, blocks: 64, from: data.whole, metadata: metadata.slice(offset: 0, length: 1024))
        let back = try rig.device.dma.allocate(length: 64 * 512), backMetadata = try rig.device.dma.allocate(length: 64 * 16)
        try ns.read(lba: 300, blocks: 64, into: back.whole, metadata: backMetadata.whole)
        #expect(equalBytes(data.whole, back.whole))
        #expect(equalBytes(metadata.slice(offset: 0, length: 1024), backMetadata.slice(offset: 0, length: 1024)))
        #expect(throws: NVMeError.self) { try ns.read(lba: 0, blocks: 1, into: back.whole) }
        #expect(throws: NVMeError.self) { try ns.read(lba: 0, blocks: 64, into: back.whole, metadata: backMetadata.slice(offset: 0, length: 1008)) }
    }

    @Test func plainCallsUsePRACTWhenTheMetadataIsOnlyTheTuple() throws {
        let rig = try Self.rig(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, extendedLBA: true, protection: .type1))
        let ns = try rig.controller.namespace(1)
        let data = try patternBuffer(rig.device.dma, bytes: 16 * 512, seed: 3)
        try ns.write(lba: 8, blocks: 16, from: data.whole)
        let back = try rig.device.dma.allocate(length: 16 * 512)
        try ns.read(lba: 8, blocks: 16, into: back.whole)
        #expect(equalBytes(data.whole, back.whole))
        // The controller generated the tuples: read raw (PRACT off), the host finds them right.
        let raw = try rig.device.dma.allocate(length: 16 * 520)
        try ns.read(lba: 8, blocks: 16, into: raw.whole, metadata: nil, protection: .checked)
        try ns.info.verifyProtection(data: raw.whole, metadata: nil, lba: 8, blocks: 16)
    }

    @Test func hostGeneratedProtectionIsCheckedByTheController() throws {
        let rig = try Self.rig(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, extendedLBA: true, protection: .type2))
        let ns = try rig.controller.namespace(1)
        let wire = try patternBuffer(rig.device.dma, bytes: 4 * 520, seed: 4)
        let tagged = IOProtection(action: .checkAll, referenceTag: 5000, applicationTag: 0x1234)
        try ns.info.generateProtection(data: wire.whole, metadata: nil, lba: 20, blocks: 4, protection: tagged)
        try ns.write(lba: 20, blocks: 4, from: wire.whole, metadata: nil, protection: tagged)
        let back = try rig.device.dma.allocate(length: 4 * 512)
        try ns.read(lba: 20, blocks: 4, into: back.whole, metadata: nil, protection: IOProtection(action: [.act, .checkAll], referenceTag: 5000, applicationTag: 0x1234))
        for block in 0..<4 { #expect(Array(back.bytes[block * 512..<(block + 1) * 512]) == Array(wire.bytes[block * 520..<block * 520 + 512])) }
        // A bad guard (a data byte changed after the tuple was made) is refused and writes nothing.
        // Spelled out: `^=` on this subscript crashes Swift 6.3.1's compiler under -sanitize=thread
        // (LLVM "Invalid bitcast" in the verify pass), which broke reliability.sh's TSan build.
        wire.bytes[700] = wire.bytes[700] ^ 0x20
        #expect {
            try ns.write(lba: 20, blocks: 4, from: wire.whole, metadata: nil, protection: tagged)
        } throws: { error in
            guard case NVMeError.commandFailed(_, let status) = error else { return false }
            return status.matches(.endToEndGuardCheckError)
        }
        // The host finds the same when it checks a buffer itself, and names the block.
        #expect {
            try ns.info.verifyProtection(data: wire.whole, metadata: nil, lba: 20, blocks: 4, protection: tagged)
        } throws: { "\($0)".contains("LBA 21") && "\($0)".contains("Guard") }
    }

    @Test func sixtyFourBitGuardTuplesFromTheHostPassTheController() throws {
        let rig = try Self.rig(EmulatedNamespace(
            blockSize: 4096, capacityInBlocks: 256, metadataSize: 16, protection: .type1, protectionFirst: true, guardFormat: .crc64))
        let ns = try rig.controller.namespace(1)
        let data = try patternBuffer(rig.device.dma, bytes: 2 * 4096, seed: 5)
        let metadata = try rig.device.dma.allocate(length: 32)
        try ns.info.generateProtection(data: data.whole, metadata: metadata.whole, lba: 7, blocks: 2)
        try ns.write(lba: 7, blocks: 2, from: data.whole, metadata: metadata.whole, protection: .checked)
        let back = try rig.device.dma.allocate(length: 2 * 4096)
        try ns.read(lba: 7, blocks: 2, into: back.whole, metadata: nil, protection: .controller)
        #expect(equalBytes(data.whole, back.whole))
    }

    @Test func typeThreeCommandsLeaveTheReferenceTagCheckOff() throws {
        // The emulator refuses PRCHK bit 0 on type 3 as QEMU does; .controller and .checked ask
        // for every check, and the driver drops the one type 3 has no tag for.
        let rig = try Self.rig(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, protection: .type3))
        let ns = try rig.controller.namespace(1)
        #expect(ns.info.protection?.permittedAction(.checkAll) == [.checkGuard, .checkApplicationTag])
        let data = try patternBuffer(rig.device.dma, bytes: 8 * 512, seed: 6)
        try ns.write(lba: 40, blocks: 8, from: data.whole, metadata: nil, protection: .controller)
        let back = try rig.device.dma.allocate(length: 8 * 512)
        try ns.read(lba: 40, blocks: 8, into: back.whole, metadata: nil, protection: .controller)
        #expect(equalBytes(data.whole, back.whole))
        // Host tuples, checked by the controller, stripped on the way back.
        let wire = try patternBuffer(rig.device.dma, bytes: 4 * 512, seed: 7)
        let metadata = try rig.device.dma.allocate(length: 4 * 8)
        try ns.info.generateProtection(data: wire.whole, metadata: metadata.whole, lba: 60, blocks: 4)
        try ns.write(lba: 60, blocks: 4, from: wire.whole, metadata: metadata.whole, protection: .checked)
        try ns.read(lba: 60, blocks: 4, into: back.whole, metadata: nil, protection: .controller)
        #expect(equalBytes(wire.slice(offset: 0, length: 4 * 512), back.slice(offset: 0, length: 4 * 512)))
    }

    @Test func protectionOnANamespaceWithoutItIsRefused() throws {
        let rig = try Self.rig(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 16))
        let ns = try rig.controller.namespace(1)
        let data = try rig.device.dma.allocate(length: 512), metadata = try rig.device.dma.allocate(length: 16)
        #expect { try ns.write(lba: 0, blocks: 1, from: data.whole, metadata: metadata.whole, protection: .controller) } throws: {
            "\($0)".contains("without protection information")
        }
        #expect { try ns.info.generateProtection(data: data.whole, metadata: metadata.whole, lba: 0, blocks: 1) } throws: {
            "\($0)".contains("without protection information")
        }
    }
}
