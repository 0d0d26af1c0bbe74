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

/// SGL encodings (NVMe base 1.4, 4.4): each descriptor byte for byte against literal values, the
/// SGL1 view of an SQE's DPTR, and the SGLS decoding of Identify Controller.
@Suite struct SGLDescriptorTests {
    func bytes(_ d: SGLDescriptor) -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: 16)
        out.withUnsafeMutableBytes { d.store(to: $0.baseAddress!) }
        return out
    }

    @Test func dataBlockIsAddressLengthAndTypeZero() {
        let d = SGLDescriptor.dataBlock(address: 0x1122_3344_5566_7788, length: 0x0000_2000)
        #expect(bytes(d) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0x20, 0, 0, 0, 0, 0, 0x00])
        #expect(d.type == .dataBlock && d.rawSubtype == 0)
    }

    @Test func bitBucketHasTypeOneInTheIdentifierByte() {
        let d = SGLDescriptor.bitBucket(length: 512)
        #expect(bytes(d) == [0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x02, 0, 0, 0, 0, 0, 0x10])
        #expect(d.type == .bitBucket)
    }

    @Test func segmentAndLastSegmentCountDescriptorsInBytes() {
        let s = SGLDescriptor.segment(address: 0x10_0000, descriptors: 3)
        #expect(bytes(s) == [0, 0, 0x10, 0, 0, 0, 0, 0, 0x30, 0, 0, 0, 0, 0, 0, 0x20])
        let l = SGLDescriptor.lastSegment(address: 0x20_0000, descriptors: 256)
        #expect(bytes(l) == [0, 0, 0x20, 0, 0, 0, 0, 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0x30])
        #expect(s.type == .segment && l.type == .lastSegment)
    }

    @Test func reservedTypeAndSubtypeStayVisible() {
        let d = SGLDescriptor(address: 0, length: 0, dword3: 0x9A00_0000)
        #expect(d.type == nil && d.rawType == 0x9 && d.rawSubtype == 0xA)
        let keyed = SGLDescriptor(address: 0, length: 0, dword3: 0x4100_0000)
        #expect(keyed.type == .keyedDataBlock && keyed.rawSubtype == 1)
    }

    @Test func loadReadsWhatStoreWrote() {
        let d = SGLDescriptor.lastSegment(address: 0xDEAD_B000, descriptors: 7)
        var raw = [UInt8](repeating: 0, count: 20)
        raw.withUnsafeMutableBytes { d.store(to: $0.baseAddress!, at: 4) }
        let back = raw.withUnsafeBytes { SGLDescriptor.load(from: $0.baseAddress!, at: 4) }
        #expect(back == d)
    }

    @Test func sgl1OccupiesTheDataPointerBytes() throws {
        var sqe = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 8)
        sqe.dataPointerType = DataPointerType.sgl.rawValue
        sqe.sgl1 = .dataBlock(address: 0xAABB_CCDD_0000_1000, length: 4096)
        var raw = [UInt8](repeating: 0, count: 64)
        try raw.withUnsafeMutableBytes { try sqe.encode(into: $0) }
        // CDW0 byte 1: PSDT 01b in bits 7:6.
        #expect(raw[1] == 0x40)
        #expect(Array(raw[24..<40]) == [0x00, 0x10, 0, 0, 0xDD, 0xCC, 0xBB, 0xAA, 0x00, 0x10, 0, 0, 0, 0, 0, 0x00])
        #expect(sqe.sgl1 == .dataBlock(address: 0xAABB_CCDD_0000_1000, length: 4096))
        sqe.sgl1 = .lastSegment(address: 0x4000, descriptors: 2)
        #expect(sqe.prp1 == 0x4000 && sqe.prp2 == 0x3000_0000_0000_0020)
    }

    @Test func sglsDecodesSupportAlignmentAndBitBucket() {
        #expect(!SGLSupport(rawValue: 0).supported)
        #expect(!SGLSupport(rawValue: 0b11).supported)
        let qemu = SGLSupport(rawValue: 0x0001_0001)
        #expect(qemu == .qemu && qemu.supported && qemu.bitBucket && !qemu.requiresDwordAlignment && !qemu.excessLength)
        let aligned = SGLSupport(rawValue: 0x0004_0002)
        #expect(aligned.supported && aligned.requiresDwordAlignment && aligned.excessLength && !aligned.bitBucket)
        var id = IdentifyController()
        id.sgls = 0x0001_0001
        #expect(id.sglSupport.supported)
    }

    @Test func sglStatusCodes() {
        #expect(NVMeStatus.sglDescriptorTypeInvalid == NVMeStatus(codeType: .generic, code: 0x11))
        #expect(NVMeStatus.sglDataBlockGranularityInvalid == NVMeStatus(codeType: .generic, code: 0x1E))
        #expect(NVMeStatus.invalidSGLSegmentDescriptor == NVMeStatus(codeType: .generic, code: 0x0D))
    }
}
