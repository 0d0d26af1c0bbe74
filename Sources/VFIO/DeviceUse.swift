/// Something on this host that depends on a PCI function through its kernel driver. Unbinding the
/// driver tears it down: a mounted filesystem vanishes under its users, swap in use is lost, a
/// configured network interface disappears (with the SSH session over it). `vfioctl bind` refuses
/// while any is found, unless forced.
public enum DeviceUse: Sendable, Equatable, CustomStringConvertible {
    /// A filesystem on one of the function's block devices, a partition of one, or a
    /// device-mapper/md device stacked on one, is mounted.
    case mountedFilesystem(blockDevice: String, mountPoint: String, fsType: String)
    /// A block device of the function (or a partition, or a stacked device) is active swap.
    case activeSwap(blockDevice: String)
    /// A network interface of the function is up.
    case networkInterfaceUp(interface: String, operstate: String)

    public var description: String {
        switch self {
        case .mountedFilesystem(let device, let mountPoint, let type):
            return "/dev/\(device) is mounted at \(mountPoint) (\(type))"
        case .activeSwap(let device):
            return "/dev/\(device) is active swap"
        case .networkInterfaceUp(let interface, let operstate):
            return "network interface \(interface) is up (operstate \(operstate))"
        }
    }
}

/// One reason VFIO cannot take a PCI function now, with the fix.
public enum VFIOObstacle: Sendable, Equatable, CustomStringConvertible {
    /// No `iommu_group`: the IOMMU is off or absent. vfio-pci will not even bind.
    case noIOMMUGroup
    /// Bound to another driver, or to none.
    case notBoundToVFIO(driver: String?)
    /// Other functions of the IOMMU group have drivers that own DMA for the group.
    case groupShared(group: Int, others: [IOMMUGroupMember])
    /// The host uses the function (see `DeviceUse`).
    case inUse(DeviceUse)

    /// Whether `vfioctl bind` must refuse (without --force): binding cannot work, or would break
    /// the host.
    public var blocksBinding: Bool {
        switch self {
        case .noIOMMUGroup, .inUse: return true
        case .notBoundToVFIO, .groupShared: return false
        }
    }

    public var description: String {
        switch self {
        case .noIOMMUGroup:
            return "no IOMMU group: the IOMMU is off; boot with intel_iommu=on (or amd_iommu=on) iommu=pt"
        case .notBoundToVFIO(let driver):
            return "bound to \(driver ?? "no driver"), not vfio-pci; run: vfioctl bind"
        case .groupShared(let group, let others):
            return "IOMMU group \(group) also holds \(others.map(\.description).joined(separator: ", ")); bind those to vfio-pci too"
        case .inUse(let use):
            return "in use: \(use); unmount, swapoff or take the interface down first"
        }
    }
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

    /// `vfioctl bind` may proceed without --force: nothing blocks binding (the remaining
    /// obstacles are the binding itself and the group's other members).
    public var canBind: Bool { !obstacles.contains { $0.blocksBinding } }

    /// The host's uses of the function.
    public var uses: [DeviceUse] {
        obstacles.compactMap { if case .inUse(let use) = $0 { return use } else { return nil } }
    }

    public var description: String {
        isReady ? "\(address): ready for VFIO"
            : "\(address): " + obstacles.map(\.description).joined(separator: "; ")
    }
}
