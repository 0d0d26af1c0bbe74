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

/// One PCI function's node in sysfs (`<sysfsRoot>/bus/pci/devices/<BDF>`), read-only: what
/// `VFIODevice` checks before it opens anything (bound driver, IOMMU group, NUMA node), and the
/// other members of its IOMMU group, which a "not viable" error names. Discovery and binding
/// (`VFIOHost`) read a function's node through this type too.
public struct PCISysfsNode: Sendable {
    public let address: PCIAddress
    public let sysfsRoot: String

    public init(address: PCIAddress, sysfsRoot: String = "/sys") {
        self.address = address
        self.sysfsRoot = sysfsRoot
    }

    /// `<sysfsRoot>/bus/pci/devices/<BDF>` (a symlink into `devices/`).
    public var path: String { "\(sysfsRoot)/bus/pci/devices/\(address)" }

    public var exists: Bool { Sysfs.exists(path) }

    /// The bound driver's name (`driver` symlink), nil when unbound.
    public var driver: String? { Sysfs.linkTarget("\(path)/driver") }

    /// The IOMMU group number (`iommu_group` symlink), nil without an IOMMU.
    public var iommuGroup: Int? { Sysfs.linkTarget("\(path)/iommu_group").flatMap { Int($0) } }

    /// `numa_node`; nil when the platform does not say (-1).
    public var numaNode: Int? {
        Sysfs.readText("\(path)/numa_node").flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
    }

    /// Every function of an IOMMU group, with its driver.
    public static func members(ofGroup group: Int, sysfsRoot: String = "/sys") -> [IOMMUGroupMember] {
        let directory = "\(sysfsRoot)/kernel/iommu_groups/\(group)/devices"
        return Sysfs.listDirectory(directory).compactMap { name in
            guard let address = try? PCIAddress(parsing: name) else { return nil }
            return IOMMUGroupMember(address: address, driver: Sysfs.linkTarget("\(directory)/\(name)/driver"))
        }
    }
}

/// A function of an IOMMU group, and whether it stands in the way of VFIO.
public struct IOMMUGroupMember: Sendable, Equatable, CustomStringConvertible {
    public var address: PCIAddress
    public var driver: String?

    public init(address: PCIAddress, driver: String?) {
        self.address = address
        self.driver = driver
    }

    /// Whether this member lets the group be viable: it has no driver, or a driver that does not
    /// use the kernel DMA API for it (`driver_managed_dma`: vfio-pci, pci-stub, pcieport). Any other
    /// driver owns DMA for the group, and `VFIO_GROUP_GET_STATUS` reports it not viable.
    public var allowsVFIO: Bool {
        guard let driver else { return true }
        return driver.hasPrefix("vfio") || driver == "pci-stub" || driver == "pcieport"
    }

    public var description: String { "\(address) (\(driver ?? "no driver"))" }
}
