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

/// The two ways VFIO reaches the IOMMU.
public enum VFIOBackendKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The legacy container and group (`/dev/vfio/vfio`, `/dev/vfio/<group>`): every kernel with
    /// VFIO; type1v2 or no-IOMMU. With `CONFIG_IOMMUFD_VFIO_CONTAINER`, iommufd serves the same
    /// ioctls behind `/dev/vfio/vfio`.
    case container
    /// iommufd (`/dev/iommu`, Linux 6.2) and the device cdev (`/dev/vfio/devices/vfioN`, 6.6):
    /// the device binds to an iommufd and attaches to an I/O address space, without a group.
    case iommufd

    public var description: String { rawValue }
}

/// Which backend `VFIODevice` uses: chosen automatically, or forced.
public enum VFIOBackendPreference: String, Sendable, CaseIterable, CustomStringConvertible {
    /// iommufd with the device cdev when the kernel offers both for the function and this user
    /// may open them, else the container (libvfn's order).
    case automatic
    case container
    case iommufd

    public var description: String { rawValue }
}

/// What the running kernel offers, read from `/dev` and sysfs without opening anything: for
/// `vfioctl list` and `vfioctl setup --check`, and for the automatic choice.
public struct VFIOBackendSupport: Sendable {
    public let sysfsRoot: String
    public let procRoot: String
    /// `/dev/vfio` (groups, `vfio`, `devices/`).
    public let vfioDirectory: String
    /// `/dev/iommu`.
    public let iommuPath: String

    public init(sysfsRoot: String = "/sys", procRoot: String = "/proc", vfioDirectory: String = "/dev/vfio", iommuPath: String = "/dev/iommu") {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
        self.vfioDirectory = vfioDirectory
        self.iommuPath = iommuPath
    }

    /// One backend's state: usable, or the reason it is not (one line naming the fix).
    public struct Offer: Sendable, Equatable {
        public var kind: VFIOBackendKind
        public var unusableReason: String?
        public var isUsable: Bool { unusableReason == nil }
    }

    /// Both backends as the kernel offers them to this process, not yet for a given function.
    public func offers() -> [Offer] {
        [Offer(kind: .container, unusableReason: containerProblem()),
         Offer(kind: .iommufd, unusableReason: iommufdProblem())]
    }

    func containerProblem() -> String? {
        let node = "\(vfioDirectory)/vfio"
        guard Sysfs.exists(node) else { return "\(node) is missing: load vfio-pci (modprobe vfio-pci)" }
        guard Self.mayOpen(node) else { return "no permission to open \(node): install udev/60-vfio.rules and join the vfio group, or run as root" }
        return nil
    }

    func iommufdProblem() -> String? {
        guard Sysfs.exists(iommuPath) else {
            return "\(iommuPath) is missing: the kernel is built without CONFIG_IOMMUFD (Debian's kernels are; scripts/lib/guest-kernel.sh builds one with it)"
        }
        guard Self.mayOpen(iommuPath) else { return "no permission to open \(iommuPath): install udev/60-vfio.rules and join the vfio group, or run as root" }
        guard kernelHasDeviceCDev else {
            return "the kernel has iommufd but no VFIO device cdev (CONFIG_VFIO_DEVICE_CDEV, Linux 6.6+; no vfio-dev in /proc/devices), or vfio is not loaded"
        }
        return nil
    }

    /// `/dev/vfio/devices`: the folder of the device cdevs (it appears with the first bound function).
    public var devicesDirectory: String { "\(vfioDirectory)/devices" }

    /// The device cdevs' character major, registered as "vfio-dev" (drivers/vfio/device_cdev.c),
    /// exists exactly when the kernel has `CONFIG_VFIO_DEVICE_CDEV` and vfio is loaded, whether or
    /// not a function is bound yet.
    var kernelHasDeviceCDev: Bool {
        Sysfs.exists(devicesDirectory)
            || (Sysfs.readText("\(procRoot)/devices") ?? "").split(separator: "\n").contains { $0.hasSuffix(" vfio-dev") }
    }

    /// The cdev name (`vfioN`) of a function bound to vfio-pci, from `<function>/vfio-dev/`.
    public func deviceCDevName(of address: PCIAddress) -> String? {
        Sysfs.listDirectory("\(sysfsRoot)/bus/pci/devices/\(address)/vfio-dev").first { $0.hasPrefix("vfio") }
    }

    /// Why the iommufd backend cannot take this function, or nil when it can.
    public func iommufdProblem(for address: PCIAddress, noIOMMUGroup: Bool) -> String? {
        if noIOMMUGroup {
            return "the VFIO device cdev does not support no-IOMMU mode (Linux 6.12); use the container backend"
        }
        if let problem = iommufdProblem() { return problem }
        guard let name = deviceCDevName(of: address) else {
            return "\(address) has no vfio-dev/vfioN in sysfs: the kernel has no VFIO device cdev (CONFIG_VFIO_DEVICE_CDEV), or the function is not bound to vfio-pci"
        }
        let node = "\(devicesDirectory)/\(name)"
        guard Sysfs.exists(node) else { return "\(node) is missing: the kernel has no VFIO device cdev, or devtmpfs is not mounted on /dev" }
        guard Self.mayOpen(node) else { return "no permission to open \(node): install udev/60-vfio.rules and join the vfio group, or run as root" }
        return nil
    }

    /// The backend `preference` resolves to for this function, or the reason a forced one cannot
    /// be used (as `.backendUnavailable`).
    public func choose(_ preference: VFIOBackendPreference, for address: PCIAddress, noIOMMUGroup: Bool) throws(VFIOError) -> VFIOBackendKind {
        switch preference {
        case .container:
            return .container
        case .iommufd:
            if let problem = iommufdProblem(for: address, noIOMMUGroup: noIOMMUGroup) {
                throw .backendUnavailable(kind: VFIOBackendKind.iommufd.rawValue, reason: problem)
            }
            return .iommufd
        case .automatic:
            return iommufdProblem(for: address, noIOMMUGroup: noIOMMUGroup) == nil ? .iommufd : .container
        }
    }

    /// access(2) for reading and writing: what opening the node `O_RDWR` will need.
    static func mayOpen(_ path: String) -> Bool { access(path, R_OK | W_OK) == 0 }
}

#if canImport(Glibc)
import Glibc
#endif
