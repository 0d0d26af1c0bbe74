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

import VFIO

/// One PCI function as discovery sees it: identity from libpci (or sysfs), the kernel's view
/// (driver, IOMMU group, NUMA node) from sysfs. A snapshot: binding changes it.
public struct PCIFunctionInfo: Sendable, Equatable, CustomStringConvertible {
    public var address: PCIAddress
    public var vendorID: UInt16
    public var deviceID: UInt16
    /// From pci.ids (libpci); nil when the ids are unknown or pci.ids is not installed.
    public var vendorName: String?
    public var deviceName: String?
    /// 24 bits: base class, subclass, programming interface (`0x010802` is NVMe).
    public var classCode: UInt32
    /// The bound driver (`driver` symlink), nil when unbound.
    public var driver: String?
    /// `driver_override`: the only driver the kernel will probe for this function, when set.
    public var driverOverride: String?
    /// `iommu_group` symlink; nil when the IOMMU is off (then VFIO cannot take the function).
    public var iommuGroup: Int?
    /// `numa_node`; nil when the platform does not say (-1).
    public var numaNode: Int?
    /// The implemented BARs (size > 0), in index order.
    public var bars: [PCIBAR]
    /// Config space header type (offset 0x0e, without the multi-function bit): 0 for an endpoint,
    /// 1 for a PCI-to-PCI bridge, 2 for a CardBus bridge; nil when config space was not readable.
    public var headerType: UInt8?

    public init(address: PCIAddress, vendorID: UInt16, deviceID: UInt16, vendorName: String? = nil,
                deviceName: String? = nil, classCode: UInt32, driver: String? = nil,
                driverOverride: String? = nil, iommuGroup: Int? = nil, numaNode: Int? = nil,
                bars: [PCIBAR] = [], headerType: UInt8? = nil) {
        self.address = address
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.vendorName = vendorName
        self.deviceName = deviceName
        self.classCode = classCode
        self.driver = driver
        self.driverOverride = driverOverride
        self.iommuGroup = iommuGroup
        self.numaNode = numaNode
        self.bars = bars
        self.headerType = headerType
    }

    /// "NVMe controller", "Ethernet controller", ... (see `PCIClass`).
    public var className: String? { PCIClass.name(of: classCode) }

    /// Sizes of BAR0...BAR5 in bytes, 0 for unimplemented ones (and for the upper half of a
    /// 64-bit BAR).
    public var barSizes: [UInt64] {
        var sizes = [UInt64](repeating: 0, count: 6)
        for bar in bars where bar.index < 6 { sizes[bar.index] = bar.size }
        return sizes
    }

    public var isBoundToVFIO: Bool { driver == "vfio-pci" }

    /// Why vfio-pci cannot take this function whatever the host does, or nil: vfio-pci probes only
    /// type 0 (endpoint) headers (`vfio_pci_probe` refuses others), and a bridge of any kind is
    /// the path to other devices, not a device to drive.
    public var notBindableReason: String? {
        if let headerType, headerType != 0 {
            return "\(headerType == 1 ? "a PCI-to-PCI bridge" : "a CardBus bridge") (header type \(headerType)): vfio-pci takes endpoint functions only"
        }
        if classCode >> 16 == 0x06 {
            return "a bridge (\(className ?? "class") \(PCIFunctionInfo.hex(classCode >> 8, 4))), which routes to other devices: vfio-pci drives endpoint functions only"
        }
        return nil
    }

    /// "a Mass storage controller [1af4:1001] (Red Hat, Inc. Virtio block device)": what a user
    /// needs to recognise the function in a message.
    public var identity: String {
        let kind = className ?? "class \(PCIFunctionInfo.hex(classCode, 6)) function"
        let article = "AEIOU".contains(kind.first ?? "x") || kind.hasPrefix("NVMe") ? "an" : "a"
        var text = "\(article) \(kind) [\(PCIFunctionInfo.hex(UInt32(vendorID), 4)):\(PCIFunctionInfo.hex(UInt32(deviceID), 4))]"
        let names = [vendorName, deviceName].compactMap { $0 }.filter { !$0.isEmpty }
        if !names.isEmpty { text += " (" + names.joined(separator: " ") + ")" }
        return text
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// `0000:01:00.0 NVMe controller [0108]: Red Hat, Inc. QEMU NVM Express Controller [1b36:0010] (vfio-pci)`.
    public var description: String {
        let hex = PCIFunctionInfo.hex
        var text = "\(address) \(className ?? "class \(hex(classCode, 6))") [\(hex(classCode >> 8, 4))]: "
        let names = [vendorName, deviceName].compactMap { $0 }.filter { !$0.isEmpty }
        if !names.isEmpty { text += names.joined(separator: " ") + " " }
        text += "[\(hex(UInt32(vendorID), 4)):\(hex(UInt32(deviceID), 4))]"
        text += " (\(driver ?? "no driver"))"
        return text
    }
}

/// A base address register: a window of device memory (or I/O ports) a driver maps.
public struct PCIBAR: Sendable, Equatable {
    /// 0...5.
    public var index: Int
    public var size: UInt64
    /// An I/O port BAR: VFIO offers it for read/write, never for mmap.
    public var isIO: Bool
    public var is64Bit: Bool
    public var isPrefetchable: Bool

    public init(index: Int, size: UInt64, isIO: Bool = false, is64Bit: Bool = false, isPrefetchable: Bool = false) {
        self.index = index
        self.size = size
        self.isIO = isIO
        self.is64Bit = is64Bit
        self.isPrefetchable = isPrefetchable
    }
}
