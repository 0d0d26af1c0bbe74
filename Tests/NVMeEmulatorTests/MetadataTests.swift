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

import NVMeEmulator
import NVMeSpec
import Testing
import VFIO

/// Namespaces formatted with metadata (NVMe base 1.4, 8.2) and end-to-end protection (8.3): the
/// emulated controller moves metadata at MPTR or interleaved, generates and strips tuples with
/// PRACT, and answers each mismatch with its end-to-end status.
@Suite struct MetadataTests {
    static func host(_ namespace: EmulatedNamespace) throws -> (TestHost, TestQueue) {
        try TestHost.ready(EmulatedNVMeConfiguration(namespaces: [namespace]))
    }

    /// A command with its data at `data` (PRPs) and, when given, its metadata at `metadata` (MPTR).
    func command(
        _ sqe: SubmissionQueueEntry, data: borrowing DMABuffer, length: Int, lists: borrowing DMABuffer, metadata: UInt64 = 0
    ) -> SubmissionQueueEntry {
        var entry = sqe
        (entry.prp1, entry.prp2) = buildPRPs(buffer: data, offset: 0, length: length, list: lists)
        entry.metadataPointer = metadata
        return entry
    }

    @Test func separateMetadataTravelsAtMPTR() throws {
        let (host, queue) = try Self.host(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 16))
        let dma = host.controller.dma
        let data = try dma.allocate(length: 8192), meta = try dma.allocate(length: 4096), lists = try dma.allocate(length: 4096)
        let written = pattern(4096, seed: 3), writtenMeta = pattern(128, seed: 4)
        data.fill(written)
        meta.fill(writtenMeta)
        let w = queue.execute(command(.write(namespaceID: 1, lba: 40, blocks: 8), data: data, length: 4096, lists: lists, metadata: meta.iova.rawValue))
        #expect(w.status == .success)
        data.fill([UInt8](repeating: 0, count: 4096))
        meta.fill([UInt8](repeating: 0, count: 128))
        let r = queue.execute(command(.read(namespaceID: 1, lba: 40, blocks: 8), data: data, length: 4096, lists: lists, metadata: meta.iova.rawValue))
        #expect(r.status == .success)
        #expect(data.read(4096) == written)
        #expect(meta.read(128) == writtenMeta)
        // The metadata of blocks never written reads as all ones (the check-disabling escape).
        let fresh = queue.execute(command(.read(namespaceID: 1, lba: 0, blocks: 1), data: data, length: 512, lists: lists, metadata: meta.iova.rawValue))
        #expect(fresh.status == .success)
        #expect(meta.read(16) == [UInt8](repeating: 0xFF, count: 16))
    }

    @Test func extendedLBAInterleavesMetadataWithData() throws {
        let (host, queue) = try Self.host(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, extendedLBA: true))
        let dma = host.controller.dma
        let wire = 4 * 520
        let data = try dma.allocate(length: 8192), lists = try dma.allocate(length: 4096)
        let written = pattern(wire, seed: 9)
        data.fill(written)
        #expect(queue.execute(command(.write(namespaceID: 1, lba: 2, blocks: 4), data: data, length: wire, lists: lists)).status == .success)
        data.fill([UInt8](repeating: 0, count: wire))
        #expect(queue.execute(command(.read(namespaceID: 1, lba: 3, blocks: 1), data: data, length: 520, lists: lists)).status == .success)
        #expect(data.read(520) == Array(written[520..<1040]))
        // Compare sees the metadata too.
        data.fill(Array(written[0..<520]))
        #expect(queue.execute(command(.compare(namespaceID: 1, lba: 2, blocks: 1), data: data, length: 520, lists: lists)).status == .success)
        data.fill([0x55], at: 515)
        #expect(queue.execute(command(.compare(namespaceID: 1, lba: 2, blocks: 1), data: data, length: 520, lists: lists)).status.matches(.compareFailure))
    }

    @Test func practGeneratesTuplesOnWriteAndStripsThemOnRead() throws {
        let (host, queue) = try Self.host(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, extendedLBA: true, protection: .type1))
        let dma = host.controller.dma
        let data = try dma.allocate(length: 8192), lists = try dma.allocate(length: 4096)
        let written = pattern(2048, seed: 11)
        data.fill(written)
        var write = SubmissionQueueEntry.write(namespaceID: 1, lba: 16, blocks: 4)
        write.protectionAction = [.act, .checkAll]
        write.protectionTags = ProtectionTags(referenceTag: 16, applicationTag: 0xBEEF)
        // The metadata is only the tuple: with PRACT only 4 x 512 bytes cross the bus.
        #expect(queue.execute(command(write, data: data, length: 2048, lists: lists)).status == .success)
        var raw = SubmissionQueueEntry.read(namespaceID: 1, lba: 16, blocks: 4)
        raw.protectionAction = .checkAll
        raw.protectionTags = ProtectionTags(referenceTag: 16, applicationTag: 0xBEEF)
        #expect(queue.execute(command(raw, data: data, length: 4 * 520, lists: lists)).status == .success)
        let back = data.read(4 * 520)
        for block in 0..<4 {
            let blockData = Array(written[block * 512..<(block + 1) * 512])
            #expect(Array(back[block * 520..<block * 520 + 512]) == blockData)
            let guardValue = blockData.withUnsafeBytes { CRC16T10DIF.checksum($0) }
            let tuple = Array(back[block * 520 + 512..<(block + 1) * 520])
            let reference = UInt32(16 + block)
            #expect(tuple == [UInt8(guardValue >> 8), UInt8(guardValue & 0xFF), 0xBE, 0xEF,
                              UInt8(reference >> 24), UInt8(reference >> 16 & 0xFF), UInt8(reference >> 8 & 0xFF), UInt8(reference & 0xFF)])
        }
        data.fill([UInt8](repeating: 0, count: 2048))
        var stripped = raw
        stripped.protectionAction = [.act, .checkAll]
        #expect(queue.execute(command(stripped, data: data, length: 2048, lists: lists)).status == .success)
        #expect(data.read(2048) == written)
    }

    @Test func eachTupleMismatchHasItsEndToEndStatus() throws {
        let (host, queue) = try Self.host(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, protection: .type2))
        let dma = host.controller.dma
        let data = try dma.allocate(length: 4096), meta = try dma.allocate(length: 4096), lists = try dma.allocate(length: 4096)
        let format = ProtectionFormat(type: .type2, metadataSize: 8)
        let block = pattern(512, seed: 5)
        var tuple = [UInt8](repeating: 0, count: 8)
        block.withUnsafeBytes { d in
            tuple.withUnsafeMutableBytes { format.generate(data: d, metadata: $0, applicationTag: 7, referenceTag: 1000) }
        }
        func write(_ tupleBytes: [UInt8], _ checks: ProtectionInformationAction, lba: UInt64 = 5) -> NVMeStatus {
            data.fill(block)
            meta.fill(tupleBytes)
            var sqe = SubmissionQueueEntry.write(namespaceID: 1, lba: lba, blocks: 1)
            sqe.protectionAction = checks
            sqe.protectionTags = ProtectionTags(referenceTag: 1000, applicationTag: 7)
            return queue.execute(command(sqe, data: data, length: 512, lists: lists, metadata: meta.iova.rawValue)).status
        }
        var badGuard = tuple
        badGuard[1] ^= 0x40
        #expect(write(badGuard, .checkAll).matches(.endToEndGuardCheckError))
        // Nothing was written: the block still reads as never written.
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 5, blocks: 1)
        read.metadataPointer = meta.iova.rawValue
        #expect(queue.execute(command(read, data: data, length: 512, lists: lists, metadata: meta.iova.rawValue)).status == .success)
        #expect(meta.read(8) == [UInt8](repeating: 0xFF, count: 8))
        // Unchecked, the bad guard is stored; a checked read then finds it.
        #expect(write(badGuard, .checkApplicationTag) == .success)
        read.protectionAction = .checkGuard
        #expect(queue.execute(command(read, data: data, length: 512, lists: lists, metadata: meta.iova.rawValue)).status.matches(.endToEndGuardCheckError))
        var badApp = tuple
        badApp[3] = 8
        #expect(write(badApp, .checkAll).matches(.endToEndApplicationTagCheckError))
        var badRef = tuple
        badRef[7] ^= 1
        #expect(write(badRef, .checkAll).matches(.endToEndReferenceTagCheckError))
        #expect(write(tuple, .checkAll) == .success)
    }

    /// The reference tag check as QEMU's nvme_check_prinfo applies it: type 1's tag must be the
    /// LBA (else Invalid Protection Information with DNR); type 3 has no tag to check (NVM
    /// command set 1.0, 5.2), so PRCHK bit 0 itself is Invalid Protection Information, no DNR.
    @Test(arguments: [ProtectionType.type1, .type3])
    func referenceTagCheckIsRefusedWhereQEMURefusesIt(_ type: ProtectionType) throws {
        let (host, queue) = try Self.host(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, protection: type))
        let dma = host.controller.dma
        let data = try dma.allocate(length: 4096), lists = try dma.allocate(length: 4096)
        var write = SubmissionQueueEntry.write(namespaceID: 1, lba: 77, blocks: 2)
        write.protectionAction = [.act, .checkAll]
        write.initialReferenceTag = type == .type1 ? 78 : 77
        let status = queue.execute(command(write, data: data, length: 1024, lists: lists)).status
        #expect(status.matches(.invalidProtectionInformation))
        #expect(status.doNotRetry == (type == .type1))
        if type == .type1 {
            write.initialReferenceTag = 77
        } else {
            var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 77, blocks: 2)
            read.protectionAction = .checkReferenceTag
            #expect(queue.execute(command(read, data: data, length: 1024, lists: lists)).status.matches(.invalidProtectionInformation))
            write.protectionAction = [.act, .checkGuard, .checkApplicationTag]
        }
        #expect(queue.execute(command(write, data: data, length: 1024, lists: lists)).status == .success)
    }

    @Test func typeThreeKeepsOneReferenceTagAndTheSixtyFourBitGuard() throws {
        let (host, queue) = try Self.host(EmulatedNamespace(
            blockSize: 4096, capacityInBlocks: 256, metadataSize: 16, protection: .type3, protectionFirst: true, guardFormat: .crc64))
        let dma = host.controller.dma
        let identify = try dma.allocate(length: 4096), lists = try dma.allocate(length: 4096)
        var cns5 = SubmissionQueueEntry.identifyNVMNamespace(namespaceID: 1)
        cns5.prp1 = identify.iova.rawValue
        #expect(host.adminCommand(cns5).status == .success)
        let nvm = try IdentifyNVMNamespace(bytes: UnsafeRawBufferPointer(start: identify.address, count: 4096))
        #expect(nvm.extendedFormats[0].guardFormat == .crc64)
        let data = try dma.allocate(length: 8192), meta = try dma.allocate(length: 4096)
        let written = pattern(8192, seed: 21)
        data.fill(written)
        var write = SubmissionQueueEntry.write(namespaceID: 1, lba: 9, blocks: 2)
        write.protectionAction = .act
        write.protectionTags = ProtectionTags(referenceTag: 0x1234_5678_9ABC, applicationTag: 1)
        // 16 bytes of metadata, 16-byte tuple: nothing at MPTR is read with PRACT.
        #expect(queue.execute(command(write, data: data, length: 8192, lists: lists)).status == .success)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 9, blocks: 2)
        read.protectionAction = [.checkGuard, .checkApplicationTag]
        read.protectionTags = write.protectionTags
        #expect(queue.execute(command(read, data: data, length: 8192, lists: lists, metadata: meta.iova.rawValue)).status == .success)
        let tuples = meta.read(32)
        for block in 0..<2 {
            let tuple = tuples.withUnsafeBytes { ProtectionTuple(loading: UnsafeRawBufferPointer(rebasing: $0[block * 16..<block * 16 + 16]), format: .crc64) }
            let guardValue = written[block * 4096..<(block + 1) * 4096].withUnsafeBytes { CRC64NVMe.checksum($0) }
            #expect(tuple == ProtectionTuple(guardValue: guardValue, applicationTag: 1, referenceTag: 0x1234_5678_9ABC))
        }
    }

    @Test func metadataPointerIsCheckedLikeAnyHostAddress() throws {
        let (host, queue) = try Self.host(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 64))
        let dma = host.controller.dma
        let data = try dma.allocate(length: 4096), meta = try dma.allocate(length: 4096), lists = try dma.allocate(length: 4096)
        let read = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 2)
        let misaligned = queue.execute(command(read, data: data, length: 1024, lists: lists, metadata: meta.iova.rawValue + 2)).status
        #expect(misaligned.matches(.invalidFieldInCommand))
        // 2 x 64 bytes starting 64 bytes before the end of the mapping: beyond what the IOMMU maps.
        let overrun = queue.execute(command(read, data: data, length: 1024, lists: lists, metadata: meta.iova.rawValue + 4096 - 64)).status
        #expect(overrun.matches(.dataTransferError))
        let unmapped = queue.execute(command(read, data: data, length: 1024, lists: lists, metadata: 0xDEAD_0000)).status
        #expect(unmapped.matches(.dataTransferError))
    }

    @Test func identifyNamespaceReportsTheFormat() throws {
        let (host, _) = try Self.host(EmulatedNamespace(capacityInBlocks: 1024, metadataSize: 8, extendedLBA: true, protection: .type1))
        let buffer = try host.controller.dma.allocate(length: 4096)
        var sqe = SubmissionQueueEntry.identify(cns: .namespace, namespaceID: 1)
        sqe.prp1 = buffer.iova.rawValue
        #expect(host.adminCommand(sqe).status == .success)
        let id = try IdentifyNamespace(bytes: UnsafeRawBufferPointer(start: buffer.address, count: 4096))
        #expect(id.metadataSize == 8 && id.extendedLBA && id.protectionType == .type1 && !id.protectionFirst)
        #expect(id.supportsSeparateMetadata && id.supportedProtectionTypes == [.type1, .type2, .type3])
    }

    @Test func inconsistentFormatsAreRefused() {
        let bad = EmulatedNVMeConfiguration(namespaces: [
            EmulatedNamespace(capacityInBlocks: 8, metadataSize: 12),
            EmulatedNamespace(capacityInBlocks: 8, extendedLBA: true),
            EmulatedNamespace(capacityInBlocks: 8, metadataSize: 8, protection: .type1, guardFormat: .crc64),
        ])
        #expect(bad.validationErrors() == [
            "namespace 1: metadata size 12 is not 0, 8, 16 or 64",
            "namespace 2: extended LBA needs metadata",
            "namespace 3: type 1 protection with the 64-bit guard (CRC-64 NVMe) needs 16 metadata bytes per block",
        ])
    }
}
