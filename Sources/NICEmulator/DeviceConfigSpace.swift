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

import PCIEmulation
import VFIO

extension NICEngine {
    /// Config space offsets of the capabilities, as QEMU's `e1000e` places them.
    static let msixOffset = 0xA0
    static let powerManagementOffset = 0xC8
    static let msiOffset = 0xD0
    static let expressOffset = 0xE0

    /// BAR3 holds the MSI-X table (offset 0) and PBA (offset 0x2000).
    static let msixBAR = 3
    static let msixTableOffset = 0
    static let msixPBAOffset = 0x2000
    static let msixBARSize = 0x4000

    /// The 82574L as QEMU's `e1000e` presents it (hw/net/e1000e.c): Intel 8086:10d3, class
    /// 0x020000 (Ethernet), BAR0 128 KiB registers, BAR1 128 KiB flash, BAR2 32 bytes of I/O, BAR3
    /// 16 KiB for MSI-X. Capabilities: power management version 2 (0xC8), MSI (0xD0), PCI Express
    /// endpoint x1 at 2.5 GT/s with FLR (0xE0) and MSI-X with five vectors (0xA0). Only BAR0 and
    /// BAR3 are backed by the emulator; BAR1 and BAR2 exist for tools that size them.
    static let configSpace = PCIConfigSpace(
        identity: PCIIdentity(vendorID: 0x8086, deviceID: 0x10D3, revision: 0x00, classCode: 0x02_00_00,
                              subsystemVendorID: 0x8086, subsystemID: 0x0000),
        bars: [.memory32(size: 0x20000), .memory32(size: 0x20000), .io(size: 32), .memory32(size: msixBARSize)],
        capabilities: [
            (powerManagementOffset, .powerManagement(version: 2)),
            (msiOffset, .msi),
            (expressOffset, .express(linkWidth: 1, linkSpeed: 1, completionTimeoutDisable: false)),
            (msixOffset, .msix(vectors: vectorCount, table: PCIBARLocation(bar: msixBAR, offset: msixTableOffset),
                               pba: PCIBARLocation(bar: msixBAR, offset: msixPBAOffset))),
        ])

    static func msixTable(in memory: MMIORegion) -> MSIXTable {
        MSIXTable(memory: memory, vectors: vectorCount, tableOffset: msixTableOffset, pbaOffset: msixPBAOffset)
    }
}
