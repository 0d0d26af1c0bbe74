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

import NVMeSpec
import Testing

// Protection information encodings with literal values: the guard CRCs' published check values,
// the tuple's big-endian layout, PRINFO and tag bits in the command dwords, and the checks.

private func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R { bytes.withUnsafeBytes(body) }

extension ProtectionTuple {
    fileprivate func storeInto(_ bytes: inout [UInt8], format: GuardFormat) {
        bytes.withUnsafeMutableBytes { store(into: $0, format: format) }
    }
}

@Test func crc16T10DIFMatchesTheCheckValue() {
    // The catalogue check value of CRC-16/T10-DIF: "123456789" -> 0xD0DB.
    #expect(withBytes(Array("123456789".utf8)) { CRC16T10DIF.checksum($0) } == 0xD0DB)
    #expect(withBytes([UInt8](repeating: 0, count: 512)) { CRC16T10DIF.checksum($0) } == 0)
    // Computed bit by bit elsewhere (a shift register, no table): 512 bytes of 0xFF, and 0...255 twice.
    #expect(withBytes([UInt8](repeating: 0xFF, count: 512)) { CRC16T10DIF.checksum($0) } == 0xE6A1)
    let ramp = (0..<512).map { UInt8(truncatingIfNeeded: $0) }
    #expect(withBytes(ramp) { CRC16T10DIF.checksum($0) } == 0x4F10)
}

@Test func crc16ContinuesOverTheMetadataPrefix() {
    let ramp = (0..<512).map { UInt8(truncatingIfNeeded: $0) }
    let whole = withBytes(ramp + [1, 2, 3, 4, 5, 6, 7, 8]) { CRC16T10DIF.checksum($0) }
    let split = withBytes(ramp) { d in withBytes([1, 2, 3, 4, 5, 6, 7, 8]) { CRC16T10DIF.update(CRC16T10DIF.checksum(d), $0) } }
    #expect(whole == 0x12BA)
    #expect(split == whole)
}

@Test func crc64NVMeMatchesTheCheckValue() {
    // The catalogue check value of CRC-64/NVME: "123456789" -> 0xAE8B14860A799888.
    #expect(withBytes(Array("123456789".utf8)) { CRC64NVMe.checksum($0) } == 0xAE8B_1486_0A79_9888)
    let ramp = (0..<4096).map { UInt8(truncatingIfNeeded: $0) }
    #expect(withBytes(ramp) { CRC64NVMe.checksum($0) } == 0x3E72_9F5F_6750_449C)
}

@Test func tupleIsBigEndianInBothGuardFormats() {
    var short = [UInt8](repeating: 0, count: 8)
    ProtectionTuple(guardValue: 0x1234, applicationTag: 0x5678, referenceTag: 0x9ABC_DEF0)
        .storeInto(&short, format: .crc16)
    #expect(short == [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0])
    var long = [UInt8](repeating: 0, count: 16)
    ProtectionTuple(guardValue: 0x0102_0304_0506_0708, applicationTag: 0x090A, referenceTag: 0x0B0C_0D0E_0F10)
        .storeInto(&long, format: .crc64)
    #expect(long == Array(1...16))
    let back = withBytes(long) { ProtectionTuple(loading: $0, format: .crc64) }
    #expect(back == ProtectionTuple(guardValue: 0x0102_0304_0506_0708, applicationTag: 0x090A, referenceTag: 0x0B0C_0D0E_0F10))
}

@Test func protectionFieldsSitInTheirCommandBits() {
    var sqe = SubmissionQueueEntry.read(namespaceID: 1, lba: 7, blocks: 8)
    sqe.protectionAction = [.act, .checkGuard]
    #expect(sqe.cdw12 == 7 | 1 << 29 | 1 << 28)
    sqe.protectionAction = [.checkApplicationTag, .checkReferenceTag]
    #expect(sqe.cdw12 == 7 | 1 << 27 | 1 << 26)
    sqe.protectionTags = ProtectionTags(referenceTag: 0xABCD_1234_5678, applicationTag: 0x1111, applicationTagMask: 0xF0F0)
    #expect(sqe.cdw14 == 0x1234_5678)
    #expect(sqe.cdw3 == 0xABCD)
    #expect(sqe.cdw15 == 0xF0F0_1111)
    #expect(sqe.protectionTags.referenceTag == 0xABCD_1234_5678)
}

@Test func identifyNamespaceDecodesMetadataAndProtectionFields() {
    var id = IdentifyNamespace()
    id.lbaFormats[0] = LBAFormat(metadataSize: 8, lbaDataSize: 9)
    id.formattedLBASize = 0x10
    id.metadataCapabilities = 0x3
    id.dataProtectionCapabilities = 0x1D
    id.dataProtectionSettings = 0x09
    #expect(id.metadataSize == 8)
    #expect(id.extendedLBA)
    #expect(id.protectionType == .type1)
    #expect(id.protectionFirst)
    #expect(id.supportedProtectionTypes == [.type1, .type3])
    #expect(id.supportsProtectionFirst && id.supportsProtectionLast)
    id.dataProtectionSettings = 0x05
    #expect(id.protectionType == nil)
    let elbaf = ExtendedLBAFormat(rawValue: 0x100)
    #expect(elbaf.protectionInformationFormat == 2 && elbaf.guardFormat == .crc64)
    #expect(ExtendedLBAFormat(rawValue: 0x80).guardFormat == nil)
}

@Test func checksFindEachMismatchInOrderAndHonourTheEscape() {
    let format = ProtectionFormat(type: .type1, metadataSize: 16)
    let data = (0..<512).map { UInt8(truncatingIfNeeded: $0 * 7) }
    var metadata = [UInt8](repeating: 0xAA, count: 16)
    let tags = ProtectionTags(referenceTag: 100, applicationTag: 0x4242, applicationTagMask: 0xFFFF)
    data.withUnsafeBytes { d in
        metadata.withUnsafeMutableBytes { m in
            format.generate(data: d, metadata: m, applicationTag: 0x4242, referenceTag: 101)
            // Tuple last: bytes 8...15; the guard covers the data and metadata bytes 0...7.
            #expect(Array(m[0..<8]) == [UInt8](repeating: 0xAA, count: 8))
            let guardValue = CRC16T10DIF.update(CRC16T10DIF.checksum(d), UnsafeRawBufferPointer(rebasing: m[0..<8]))
            #expect(UInt16(m[8]) << 8 | UInt16(m[9]) == guardValue)
            let view = UnsafeRawBufferPointer(m)
            #expect(format.check(data: d, metadata: view, checks: .checkAll, tags: tags, referenceTag: 101) == nil)
            #expect(format.check(data: d, metadata: view, checks: .checkAll, tags: tags, referenceTag: 102) == .referenceTagMismatch)
            #expect(format.check(data: d, metadata: view, checks: .checkGuard, tags: tags, referenceTag: 102) == nil)
            let otherApp = ProtectionTags(referenceTag: 100, applicationTag: 0x4243, applicationTagMask: 0xFFFF)
            #expect(format.check(data: d, metadata: view, checks: .checkAll, tags: otherApp, referenceTag: 101) == .applicationTagMismatch)
            let masked = ProtectionTags(referenceTag: 100, applicationTag: 0x4243, applicationTagMask: 0xFFFE)
            #expect(format.check(data: d, metadata: view, checks: .checkAll, tags: masked, referenceTag: 101) == nil)
            m[3] ^= 1  // a metadata byte the guard covers
            #expect(format.check(data: d, metadata: UnsafeRawBufferPointer(m), checks: .checkAll, tags: tags, referenceTag: 101) == .guardMismatch)
            // Application tag FFFFh: checking is off for the block (types 1 and 2).
            m[10] = 0xFF
            m[11] = 0xFF
            #expect(format.check(data: d, metadata: UnsafeRawBufferPointer(m), checks: .checkAll, tags: tags, referenceTag: 101) == nil)
        }
    }
    #expect(format.referenceTag(initial: 0xFFFF_FFFF, block: 1) == 0)
    #expect(ProtectionFormat(type: .type3, metadataSize: 8).referenceTag(initial: 5, block: 3) == 5)
    #expect(ProtectionCheckFailure.guardMismatch.status.rawValue == 0x282)
}
