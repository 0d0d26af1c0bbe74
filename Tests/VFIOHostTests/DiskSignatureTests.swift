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

import Testing
@testable import VFIOHost

/// The first bytes of a disk, as the formats lay them out, are recognised; zeros and the bytes
/// of an unformatted disk are not.
@Suite struct DiskSignatureTests {
    static func disk(_ writes: [(Int, [UInt8])]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: DiskSignature.bytesNeeded)
        for (offset, data) in writes { bytes.replaceSubrange(offset..<(offset + data.count), with: data) }
        return bytes
    }

    static func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

    static let cases: [(String, [(Int, [UInt8])])] = [
        ("a GPT partition table", [(510, [0x55, 0xaa]), (512, ascii("EFI PART"))]),
        ("a GPT partition table", [(4096, ascii("EFI PART"))]),                       // 4 KiB sectors
        ("a DOS (MBR) partition table", [(446 + 4, [0x83]), (510, [0x55, 0xaa])]),
        ("a DOS boot sector", [(510, [0x55, 0xaa])]),
        ("an ext2/3/4 filesystem", [(1080, [0x53, 0xef])]),
        ("an XFS filesystem", [(0, ascii("XFSB"))]),
        ("a btrfs filesystem", [(65536 + 64, ascii("_BHRfS_M"))]),
        ("an LVM2 physical volume", [(512, ascii("LABELONE")), (512 + 24, ascii("LVM2 001"))]),
        ("a LUKS encrypted volume", [(0, ascii("LUKS") + [0xba, 0xbe])]),
        ("a Linux RAID (md 1.2) member", [(4096, [0xfc, 0x4e, 0x2b, 0xa9])]),
        ("a swap area", [(4096 - 10, ascii("SWAPSPACE2"))]),
        ("a swap area", [(65536 - 10, ascii("SWAPSPACE2"))]),                         // 64 KiB pages
        ("a ZFS pool member", [(128 << 10, [0x0c, 0xb1, 0xba, 0, 0, 0, 0, 0])]),
        ("a ZFS pool member", [((128 << 10) + 37 * 1024, [0, 0, 0, 0, 0, 0xba, 0xb1, 0x0c])]), // big-endian, a later slot
        ("an F2FS filesystem", [(1024, [0x10, 0x20, 0xf5, 0xf2])]),
        ("a FAT filesystem", [(82, ascii("FAT32   ")), (510, [0x55, 0xaa])]),
        ("an NTFS filesystem", [(3, ascii("NTFS    ")), (510, [0x55, 0xaa])]),
        ("an ISO 9660 filesystem", [(32769, ascii("CD001"))]),
    ]

    @Test(arguments: cases.indices)
    func signatureIsRecognised(_ index: Int) {
        let (what, writes) = Self.cases[index]
        #expect(DiskSignature.detect(Self.disk(writes)) == what)
    }

    @Test func blankAndShortDisksCarryNothing() {
        #expect(DiskSignature.detect(Self.disk([])) == nil)
        #expect(DiskSignature.detect([]) == nil)
        #expect(DiskSignature.detect([0x55, 0xaa]) == nil)
        // Text where labels go (the HIL writes its pattern at LBA 1001, further on) is no signature.
        let text = Self.ascii(String(repeating: "swift-vfio hil nvme0 ns1 lba 1 ", count: 16))
        #expect(DiskSignature.detect(Self.disk([(512, text), (1024, text), (4096, text)])) == nil)
    }
}
