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

/// Something on this host that depends on a PCI function, or data on it that binding would put
/// at risk. Unbinding the driver tears the dependants down: a mounted filesystem vanishes under
/// its users, swap in use is lost, a volume stacked on the disk fails, a process loses its open
/// disk, a configured network interface disappears (with the SSH session over it), the function's
/// SR-IOV virtual functions go away. `DriverBinding.bind` refuses while any is found, unless forced.
public enum DeviceUse: Sendable, Equatable, CustomStringConvertible {
    /// A filesystem on one of the function's block devices (a partition of one, a multipath head
    /// over one, or a device-mapper/md device stacked on one) is mounted in this mount namespace.
    case mountedFilesystem(blockDevice: String, mountPoint: String, fsType: String)
    /// The same, in another mount namespace (a container's), seen through `/proc/<pid>/mountinfo`.
    case mountedInOtherNamespace(blockDevice: String, mountPoint: String, fsType: String, pid: Int, command: String?)
    /// A block device of the function (or a partition, or a stacked device) is active swap.
    case activeSwap(blockDevice: String)
    /// A device-mapper or md device is stacked on one of the function's block devices (`holders/`):
    /// an LVM volume, a dm-crypt mapping, a RAID array; active whether or not it is mounted.
    case heldBy(blockDevice: String, holder: String, kind: String)
    /// A process has one of the function's block devices open (`/proc/<pid>/fd`): a VM's disk, a
    /// database's raw device, a `dd`.
    case openedByProcess(blockDevice: String, pid: Int, command: String?)
    /// `open(O_RDONLY|O_EXCL)` says EBUSY: something holds the device exclusively (a mount in a
    /// namespace we cannot read, swap, md, LVM, a ZFS vdev, a member of a multi-device btrfs).
    case exclusivelyOpen(blockDevice: String)
    /// The disk starts with a partition table or a filesystem (or volume, or RAID) signature:
    /// data that binding would hand to a driver which may overwrite it.
    case carriesData(blockDevice: String, signature: String)
    /// The device node could not be opened to check it (`errno` text).
    case uncheckable(blockDevice: String, reason: String)
    /// A network interface of the function is up.
    case networkInterfaceUp(interface: String, operstate: String)
    /// The function is an SR-IOV physical function with virtual functions enabled: unbinding its
    /// driver disables SR-IOV and removes them, whoever uses them (a VM, the host).
    case virtualFunctionsEnabled(count: Int, functions: [IOMMUGroupMember])

    public var description: String {
        switch self {
        case .mountedFilesystem(let device, let mountPoint, let type):
            return "/dev/\(device) is mounted at \(mountPoint) (\(type))"
        case .mountedInOtherNamespace(let device, let mountPoint, let type, let pid, let command):
            return "/dev/\(device) is mounted at \(mountPoint) (\(type)) in the mount namespace of pid \(pid)\(command.map { " (\($0))" } ?? "")"
        case .activeSwap(let device):
            return "/dev/\(device) is active swap"
        case .heldBy(let device, let holder, let kind):
            return "/dev/\(device) is held by \(holder) (\(kind))"
        case .openedByProcess(let device, let pid, let command):
            return "/dev/\(device) is open in pid \(pid)\(command.map { " (\($0))" } ?? "")"
        case .exclusivelyOpen(let device):
            return "/dev/\(device) is busy (open exclusively: a mount elsewhere, swap, RAID, LVM, ZFS or btrfs)"
        case .carriesData(let device, let signature):
            return "/dev/\(device) carries \(signature)"
        case .uncheckable(let device, let reason):
            return "/dev/\(device) cannot be checked (\(reason))"
        case .networkInterfaceUp(let interface, let operstate):
            return "network interface \(interface) is up (operstate \(operstate))"
        case .virtualFunctionsEnabled(let count, let functions):
            let shown = functions.prefix(4).map(\.description).joined(separator: ", ")
            return "\(count) SR-IOV virtual function\(count == 1 ? " is" : "s are") enabled (\(shown)\(functions.count > 4 ? ", ..." : "")), and unbinding the driver removes them"
        }
    }

    /// What makes this use go away, in a few words.
    public var remedy: String {
        switch self {
        case .mountedFilesystem, .mountedInOtherNamespace: return "unmount it"
        case .activeSwap: return "swapoff it"
        case .heldBy: return "stop the volume, mapping or array on it"
        case .openedByProcess: return "stop the process"
        case .exclusivelyOpen: return "release it (lsblk and fuser show the holder)"
        case .carriesData: return "wipe it (wipefs -a) if the data is not needed"
        case .uncheckable: return "check it as root"
        case .networkInterfaceUp: return "take the interface down"
        case .virtualFunctionsEnabled: return "set sriov_numvfs to 0"
        }
    }

    /// The distinct remedies of several uses, in order: "unmount it, swapoff it".
    public static func remedies(of uses: [DeviceUse]) -> String {
        var seen: [String] = []
        for use in uses where !seen.contains(use.remedy) { seen.append(use.remedy) }
        return seen.isEmpty ? "stop using it first" : seen.joined(separator: ", ")
    }

    /// The block device this use names, if any.
    public var blockDevice: String? {
        switch self {
        case .mountedFilesystem(let device, _, _), .mountedInOtherNamespace(let device, _, _, _, _),
             .activeSwap(let device), .heldBy(let device, _, _), .openedByProcess(let device, _, _),
             .exclusivelyOpen(let device), .carriesData(let device, _), .uncheckable(let device, _):
            return device
        case .networkInterfaceUp, .virtualFunctionsEnabled:
            return nil
        }
    }
}
