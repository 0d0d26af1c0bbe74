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

extension ControllerEngine {
    /// Config space offsets of the capabilities: power management, then MSI-X, then PCI Express.
    static let powerManagementOffset = 0x40
    static let msixOffset = 0x50
    static let expressOffset = 0x60

    /// QEMU's NVMe device as config space shows it (vendor 0x1b36, device 0x0010, class
    /// 0x010802), so tools that recognise QEMU recognise this: BAR0 64-bit, power management
    /// version 3 (PCI PM 1.2), MSI-X with its table and PBA in BAR0, and a PCIe v2 endpoint with
    /// FLR, link x4 at 8 GT/s.
    static func configSpace(_ layout: BARLayout, controllerMemoryBytes: Int = 0) -> PCIConfigSpace {
        var space = PCIConfigSpace(
            identity: PCIIdentity(vendorID: 0x1B36, deviceID: 0x0010, revision: 0x02, classCode: 0x01_08_02,
                                  subsystemVendorID: 0x1AF4, subsystemID: 0x1100),
            bars: controllerMemoryBytes > 0 ? [.memory64(size: layout.size), .memory64(size: controllerMemoryBytes)] : [.memory64(size: layout.size)],
            capabilities: [
                (powerManagementOffset, .powerManagement(version: 3)),
                (msixOffset, .msix(vectors: layout.msixVectors, table: PCIBARLocation(bar: 0, offset: layout.msixTableOffset),
                                   pba: PCIBARLocation(bar: 0, offset: layout.msixPBAOffset))),
                (expressOffset, .express(linkWidth: 4, linkSpeed: 3, completionTimeoutDisable: true)),
            ])
        if controllerMemoryBytes > 0 {
            // BAR2 at an address, as firmware would assign one: the CMB's controller address.
            _ = space.write(UInt32(truncatingIfNeeded: controllerMemoryBARAddress), at: 0x18, width: 4)
            _ = space.write(UInt32(truncatingIfNeeded: controllerMemoryBARAddress >> 32), at: 0x1C, width: 4)
        }
        return space
    }

    /// Where BAR2 sits in the bus address space: far above the IOVAs a driver hands out first
    /// (first fit from the bottom), inside the emulated IOMMU's 48-bit aperture.
    static let controllerMemoryBARAddress: UInt64 = 0x4000_0000_0000
}
