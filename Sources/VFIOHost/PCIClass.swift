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

/// PCI class codes (PCI Code and ID Assignment Specification, chapter 1): 24 bits, base class,
/// subclass, programming interface. Names for the classes a user of this project meets; anything
/// else falls back to its base class name, then to nil.
public enum PCIClass {
    /// 01/08/02: NVM Express I/O controller.
    public static let nvme: UInt32 = 0x01_08_02
    /// 02/00: Ethernet controller (any programming interface).
    public static let ethernet: UInt32 = 0x02_00_00
    /// 06/04: PCI-to-PCI bridge.
    public static let pciBridge: UInt32 = 0x06_04_00

    /// A human name for a 24-bit class code.
    public static func name(of classCode: UInt32) -> String? {
        let base = UInt8((classCode >> 16) & 0xff)
        let sub = UInt8((classCode >> 8) & 0xff)
        if let name = exact[classCode & 0xff_ff_ff] { return name }
        if let name = subclasses[UInt16(base) << 8 | UInt16(sub)] { return name }
        return baseClasses[base]
    }

    private static let exact: [UInt32: String] = [
        0x01_06_01: "SATA controller (AHCI)",
        0x01_08_02: "NVMe controller",
        0x01_08_03: "NVMe controller (administrative)",
        0x0c_03_00: "USB controller (UHCI)",
        0x0c_03_20: "USB controller (EHCI)",
        0x0c_03_30: "USB controller (xHCI)",
    ]

    private static let subclasses: [UInt16: String] = [
        0x01_00: "SCSI storage controller",
        0x01_01: "IDE controller",
        0x01_04: "RAID controller",
        0x01_06: "SATA controller",
        0x01_07: "SAS controller",
        0x01_08: "Non-volatile memory controller",
        0x01_80: "Mass storage controller",
        0x02_00: "Ethernet controller",
        0x02_07: "InfiniBand controller",
        0x02_80: "Network controller",
        0x03_00: "VGA compatible controller",
        0x03_02: "3D controller",
        0x03_80: "Display controller",
        0x04_03: "Audio device",
        0x05_00: "RAM memory",
        0x06_00: "Host bridge",
        0x06_01: "ISA bridge",
        0x06_04: "PCI bridge",
        0x06_80: "Bridge",
        0x07_00: "Serial controller",
        0x08_80: "System peripheral",
        0x0c_03: "USB controller",
        0x0c_05: "SMBus",
        0x0c_80: "Serial bus controller",
        0x12_00: "Processing accelerator",
        0xff_ff: "Unassigned class",
    ]

    private static let baseClasses: [UInt8: String] = [
        0x00: "Unclassified device",
        0x01: "Mass storage controller",
        0x02: "Network controller",
        0x03: "Display controller",
        0x04: "Multimedia controller",
        0x05: "Memory controller",
        0x06: "Bridge",
        0x07: "Communication controller",
        0x08: "Generic system peripheral",
        0x09: "Input device controller",
        0x0b: "Processor",
        0x0c: "Serial bus controller",
        0x0d: "Wireless controller",
        0x10: "Encryption controller",
        0x11: "Signal processing controller",
        0x12: "Processing accelerator",
        0x13: "Non-essential instrumentation",
        0xff: "Unassigned class",
    ]
}
