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

import NVMeTCPTarget
import Testing

/// CRC32C, pinned to published vectors: the check value of the CRC catalogue and RFC 3720 B.4
/// (iSCSI uses the same CRC32C and byte order as NVMe/TCP's digests).
@Suite struct CRC32CTests {
    @Test func checkValueOf123456789() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func rfc3720Vectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        // An iSCSI SCSI Read (10) command PDU; the RFC gives its digest as the bytes 56 3a 96 d9.
        var read10 = [UInt8](repeating: 0, count: 48)
        read10[0] = 0x01; read10[1] = 0xC0
        read10[16] = 0x14; read10[22] = 0x04; read10[27] = 0x14; read10[31] = 0x18; read10[32] = 0x28; read10[40] = 0x02
        let digest = CRC32C.checksum(read10)
        #expect(digest == 0xD996_3A56)
        #expect(withUnsafeBytes(of: digest.littleEndian, Array.init) == [0x56, 0x3A, 0x96, 0xD9])
    }

    @Test func emptyInputIsZero() {
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func slicingMatchesBitwiseReferenceAtEveryLengthAndSplit() {
        var generator = SplitMix64(seed: 20)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let expected = bitwiseCRC32C(bytes)
            #expect(CRC32C.checksum(bytes) == expected, "length \(length)")
            let split = length == 0 ? 0 : Int(generator.next() % UInt64(length + 1))
            var crc = CRC32C()
            bytes.withUnsafeBytes { raw in
                crc.update(UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                crc.update(UnsafeRawBufferPointer(rebasing: raw[split...]))
            }
            #expect(crc.value == expected, "length \(length) split at \(split)")
        }
    }

    /// One bit at a time, straight from the polynomial: the slicing tables' referee.
    func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}

/// A small seeded generator for deterministic tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
