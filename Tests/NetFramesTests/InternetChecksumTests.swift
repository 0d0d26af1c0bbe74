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

import NetFrames
import Testing

/// RFC 1071 against the worked examples of the RFC and of a real IPv4 header.
@Suite struct InternetChecksumTests {
    @Test func rfc1071WorkedExampleSumsToDDF2() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 2ddf0, folded ddf2.
        let bytes = hex("0001 f203 f4f5 f6f7")
        var sum = InternetChecksum()
        bytes.withUnsafeBytes { sum.add($0) }
        #expect(sum.folded == 0xDDF2)
        #expect(sum.checksum == 0x220D)
    }

    @Test func ipv4HeaderChecksumMatchesTheWireValue() {
        // 192.168.0.1 -> 192.168.0.199, UDP, total length 115: the header's checksum field is b861.
        var header = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7")
        #expect(header.withUnsafeBytes { InternetChecksum.checksum($0) } == 0xB861)
        header[10] = 0xB8
        header[11] = 0x61
        var check = InternetChecksum()
        header.withUnsafeBytes { check.add($0) }
        #expect(check.isValid, "a header that carries its checksum sums to ffff")
        #expect(header.withUnsafeBytes { InternetChecksum.checksum($0) } == 0)
    }

    @Test func anOddLastByteIsPaddedWithZero() {
        #expect([UInt8(0x01)].withUnsafeBytes { InternetChecksum.checksum($0) } == 0xFEFF)
        #expect(hex("0001 f203 f4").withUnsafeBytes { InternetChecksum.checksum($0) }
            == hex("0001 f203 f400").withUnsafeBytes { InternetChecksum.checksum($0) })
    }

    @Test func evenBlocksAddedInTurnEqualTheWhole() {
        let bytes = (0..<301).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        var parts = InternetChecksum()
        bytes.withUnsafeBytes {
            parts.add($0, from: 0, count: 100)
            parts.add($0, from: 100, count: 200)
            parts.add($0, from: 300, count: 1)
        }
        #expect(parts.checksum == bytes.withUnsafeBytes { InternetChecksum.checksum($0) })
    }

    @Test func pseudoHeaderWordsAddLikeTheirBytes() {
        // The UDP pseudo-header 10.0.0.1 -> 10.0.0.2, protocol 17, length 12, then the segment.
        let segment = hex("1388 0035 000c 0000") + Array("abcd".utf8)
        var words = InternetChecksum()
        words.add(doubleWord: IPv4Address(10, 0, 0, 1).value)
        words.add(doubleWord: IPv4Address(10, 0, 0, 2).value)
        words.add(word: 17)
        words.add(word: 12)
        segment.withUnsafeBytes { words.add($0) }
        #expect(words.checksum == 0x1350)
    }

    @Test func theEmptyRangeAndAllZerosGiveFFFF() {
        #expect([UInt8]().withUnsafeBytes { InternetChecksum.checksum($0) } == 0xFFFF)
        #expect([UInt8](repeating: 0, count: 20).withUnsafeBytes { InternetChecksum.checksum($0) } == 0xFFFF)
    }
}
