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

/// One reason VFIO cannot take a PCI function now, with the fix.
public enum VFIOObstacle: Sendable, Equatable, CustomStringConvertible {
    /// No `iommu_group`: the IOMMU is off or absent. vfio-pci will not even bind.
    case noIOMMUGroup
    /// vfio-pci cannot take this kind of function at all (a bridge).
    case notBindable(reason: String)
    /// Bound to another driver, or to none.
    case notBoundToVFIO(driver: String?)
    /// Other functions of the IOMMU group have drivers that own DMA for the group.
    case groupShared(group: Int, others: [IOMMUGroupMember])
    /// The host uses the function (see `DeviceUse`).
    case inUse(DeviceUse)

    /// Whether binding must be refused (without force): it cannot work, or it would break the host.
    public var blocksBinding: Bool {
        switch self {
        case .noIOMMUGroup, .notBindable, .inUse: return true
        case .notBoundToVFIO, .groupShared: return false
        }
    }

    public var cause: String {
        switch self {
        case .noIOMMUGroup: return "no IOMMU group: the IOMMU is off"
        case .notBindable(let reason): return "not bindable: it is \(reason)"
        case .notBoundToVFIO(let driver): return "bound to \(driver ?? "no driver"), not vfio-pci"
        case .groupShared(let group, let others):
            return "IOMMU group \(group) also holds \(others.map(\.description).joined(separator: ", "))"
        case .inUse(let use): return "in use: \(use)"
        }
    }

    /// The fix, naming no `vfioctl` command; nil where there is none, or where it depends on the
    /// other obstacles (binding helps only where it could work: see `VFIOVerdict.nextStep`).
    public var remedy: String? {
        switch self {
        case .noIOMMUGroup: return "boot with intel_iommu=on (or amd_iommu=on) iommu=pt"
        case .notBindable, .notBoundToVFIO, .groupShared: return nil
        case .inUse(let use): return use.remedy
        }
    }

    public var description: String { remedy.map { "\(cause); \($0)" } ?? cause }
}

/// Whether VFIO can take a PCI function, and why not.
public struct VFIOVerdict: Sendable, Equatable, CustomStringConvertible {
    public var address: PCIAddress
    /// Empty when the function can be opened with `VFIODevice` now.
    public var obstacles: [VFIOObstacle]

    public init(address: PCIAddress, obstacles: [VFIOObstacle]) {
        self.address = address
        self.obstacles = obstacles
    }

    /// Bound to vfio-pci, in a viable IOMMU group, not used by the host.
    public var isReady: Bool { obstacles.isEmpty }

    /// Binding may proceed without force: nothing blocks it (what remains is the binding itself
    /// and the group's other members). Only then is "bind it" advice worth giving.
    public var canBind: Bool { !obstacles.contains { $0.blocksBinding } }

    /// The host's uses of the function.
    public var uses: [DeviceUse] {
        obstacles.compactMap { if case .inUse(let use) = $0 { return use } else { return nil } }
    }

    /// The functions to bind to vfio-pci next, where binding could work: this one unless it is
    /// bound already, and the group's members whose drivers stand in the way. Empty when the
    /// function is ready, or when binding is blocked (no IOMMU, a bridge, the host uses it):
    /// then advice to bind would be wrong.
    public var toBind: [PCIAddress] {
        guard !isReady, canBind else { return [] }
        var addresses: [PCIAddress] = []
        if obstacles.contains(where: { if case .notBoundToVFIO = $0 { true } else { false } }) { addresses.append(address) }
        for case .groupShared(_, let others) in obstacles { addresses += others.map(\.address) }
        return addresses
    }

    public var description: String {
        if isReady { return "\(address): ready for VFIO" }
        let next = toBind.isEmpty ? [] : ["bind \(toBind.map(\.description).joined(separator: " ")) to vfio-pci"]
        return "\(address): " + (obstacles.map(\.description) + next).joined(separator: "; ")
    }
}
