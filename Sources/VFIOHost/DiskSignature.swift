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

/// Recognises what the first bytes of a disk hold: a partition table, a filesystem, a volume
/// manager, RAID or cache label. A disk that carries one holds someone's data, so binding it to
/// vfio-pci (where our driver may write it) is refused unless forced, as SPDK's `setup.sh` skips
/// disks where `blkid` finds a partition table.
///
/// Offsets are those of the on-disk formats (util-linux libblkid keeps the same list). Formats
/// whose label is at the end of the device (md 0.90/1.0, the GPT backup) are not looked for: the
/// first bytes decide, so the read is small and bounded.
public enum DiskSignature {
    /// How many bytes from the start of the disk `detect` looks at: up to the end of the first
    /// ZFS label's uberblock ring (256 KiB).
    public static let bytesNeeded = 256 << 10

    struct Magic {
        var what: String
        var offset: Int
        var bytes: [UInt8]
    }

    static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Checked in order: the specific before the generic (a FAT boot sector also ends in 55 AA).
    static let magics: [Magic] = [
        Magic(what: "a GPT partition table", offset: 512, bytes: ascii("EFI PART")),
        Magic(what: "a GPT partition table", offset: 4096, bytes: ascii("EFI PART")),
        Magic(what: "an LVM2 physical volume", offset: 512 + 24, bytes: ascii("LVM2 001")),
        Magic(what: "an LVM2 physical volume", offset: 24, bytes: ascii("LVM2 001")),
        Magic(what: "a LUKS encrypted volume", offset: 0, bytes: ascii("LUKS") + [0xba, 0xbe]),
        Magic(what: "a Linux RAID (md 1.1) member", offset: 0, bytes: [0xfc, 0x4e, 0x2b, 0xa9]),
        Magic(what: "a Linux RAID (md 1.2) member", offset: 4096, bytes: [0xfc, 0x4e, 0x2b, 0xa9]),
        Magic(what: "a bcache device", offset: 4096 + 24,
              bytes: [0xc6, 0x85, 0x73, 0xf6, 0x4e, 0x1a, 0x45, 0xca, 0x82, 0x65, 0xf5, 0x7f, 0x48, 0xba, 0x6d, 0x81]),
        Magic(what: "a Ceph BlueStore device", offset: 0, bytes: ascii("bluestore block device")),
        Magic(what: "an XFS filesystem", offset: 0, bytes: ascii("XFSB")),
        Magic(what: "an ext2/3/4 filesystem", offset: 1024 + 56, bytes: [0x53, 0xef]),
        Magic(what: "an F2FS filesystem", offset: 1024, bytes: [0x10, 0x20, 0xf5, 0xf2]),
        Magic(what: "a btrfs filesystem", offset: 65536 + 64, bytes: ascii("_BHRfS_M")),
        Magic(what: "a squashfs filesystem", offset: 0, bytes: ascii("hsqs")),
        Magic(what: "an NTFS filesystem", offset: 3, bytes: ascii("NTFS    ")),
        Magic(what: "an exFAT filesystem", offset: 3, bytes: ascii("EXFAT   ")),
        Magic(what: "a FAT filesystem", offset: 54, bytes: ascii("FAT1")),
        Magic(what: "a FAT filesystem", offset: 82, bytes: ascii("FAT32   ")),
        Magic(what: "an ISO 9660 filesystem", offset: 32768 + 1, bytes: ascii("CD001")),
    ] + [4096, 8192, 16384, 65536].flatMap { page in
        [Magic(what: "a swap area", offset: page - 10, bytes: ascii("SWAPSPACE2")),
         Magic(what: "a swap area", offset: page - 10, bytes: ascii("SWAP-SPACE"))]
    }

    /// What the disk's first bytes hold, or nil when no known signature is there.
    public static func detect(_ bytes: [UInt8]) -> String? {
        for magic in magics where matches(bytes, magic.bytes, at: magic.offset) { return magic.what }
        if isZFSLabel(bytes) { return "a ZFS pool member" }
        // The DOS partition table (and boot sectors) end their first sector in 55 AA.
        if bytes.count >= 512, bytes[510] == 0x55, bytes[511] == 0xaa {
            let hasEntry = (0..<4).contains { bytes[446 + 16 * $0 + 4] != 0 }
            return hasEntry ? "a DOS (MBR) partition table" : "a DOS boot sector"
        }
        return nil
    }

    static func matches(_ bytes: [UInt8], _ magic: [UInt8], at offset: Int) -> Bool {
        guard offset >= 0, offset + magic.count <= bytes.count else { return false }
        for (index, byte) in magic.enumerated() where bytes[offset + index] != byte { return false }
        return true
    }

    /// ZFS vdev label 0: the uberblock ring fills its second 128 KiB, one uberblock per 1 KiB slot
    /// (or larger, a multiple of it), each starting with the 64-bit magic 0x00bab10c in the
    /// writer's byte order.
    static func isZFSLabel(_ bytes: [UInt8]) -> Bool {
        let little: [UInt8] = [0x0c, 0xb1, 0xba, 0x00, 0x00, 0x00, 0x00, 0x00]
        let big: [UInt8] = little.reversed()
        for slot in stride(from: 128 << 10, to: 256 << 10, by: 1024) {
            if matches(bytes, little, at: slot) || matches(bytes, big, at: slot) { return true }
        }
        return false
    }
}
