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

import CShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An open IOMMU group (`/dev/vfio/<N>`): the unit of isolation VFIO hands to userspace. Every
/// function in the group shares one IOMMU context, so the group is only usable ("viable") when
/// no function in it is driven by a kernel driver that does DMA.
///
/// Owned by the `VFIOContainer` it is attached to; its `deinit` detaches it
/// (`VFIO_GROUP_UNSET_CONTAINER`) and closes it, after every device fd from it is closed.
public final class VFIOGroup: Sendable {
    public let number: Int
    /// `/dev/vfio/<N>`, or `/dev/vfio/noiommu-<N>` in no-IOMMU mode.
    public let path: String
    public let isNoIOMMU: Bool
    let descriptor: FileDescriptor
    private let attached = Atomic<Bool>(false)

    /// Opens the group node and checks that it is viable (`VFIO_GROUP_GET_STATUS`); when it is
    /// not, the error names the other functions of the group and their drivers.
    init(number: Int, vfioDirectory: String, allowNoIOMMU: Bool, sysfsRoot: String) throws(VFIOError) {
        self.number = number
        var path = "\(vfioDirectory)/\(number)"
        var noIOMMU = false
        // vfio's no-IOMMU mode names the node noiommu-<N>; using it is an explicit choice.
        let alternative = "\(vfioDirectory)/noiommu-\(number)"
        if !Sysfs.exists(path), Sysfs.exists(alternative) {
            guard allowNoIOMMU else { throw .noIOMMUModeNotAllowed }
            path = alternative
            noIOMMU = true
        }
        let opened = SystemCall.open(path, flags: O_RDWR)
        switch consume opened {
        case .opened(let fd):
            descriptor = fd
        case .failed(let e):
            switch e {
            case EACCES, EPERM: throw .permissionDenied(path: path)
            case EBUSY: throw .groupBusy(group: number)
            case ENOENT where !Sysfs.exists("\(vfioDirectory)/vfio"): throw .vfioNotLoaded
            case ENOENT: throw .system(operation: "open \(path) (the group's node is missing; is devtmpfs mounted on /dev?)", errno: e)
            default: throw .system(operation: "open \(path)", errno: e)
            }
        }
        self.path = path
        self.isNoIOMMU = noIOMMU

        var status = vfio_group_status(argsz: UInt32(MemoryLayout<vfio_group_status>.size), flags: 0)
        let fd = descriptor.rawValue
        try SystemCall.run("VFIO_GROUP_GET_STATUS on \(path)", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_GROUP_GET_STATUS, &status)) })
        guard status.flags & UInt32(VFIO_GROUP_FLAGS_VIABLE) != 0 else {
            let members = PCISysfsNode.members(ofGroup: number, sysfsRoot: sysfsRoot)
            let blocking = members.filter { !$0.allowsVFIO }
            throw .groupNotViable(group: number, others: (blocking.isEmpty ? members : blocking).map(\.description))
        }
    }

    /// `VFIO_GROUP_SET_CONTAINER`.
    func setContainer(_ containerFD: Int32) throws(VFIOError) {
        var container = containerFD
        let fd = descriptor.rawValue
        try SystemCall.run("VFIO_GROUP_SET_CONTAINER for \(path)", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_GROUP_SET_CONTAINER, &container)) })
        attached.store(true, ordering: .releasing)
    }

    /// `VFIO_GROUP_GET_DEVICE_FD` with the function's address as the kernel names it.
    func openDevice(_ address: PCIAddress) throws(VFIOError) -> FileDescriptor {
        let fd = descriptor.rawValue
        let name = address.description
        let outcome = SystemCall.attempt("VFIO_GROUP_GET_DEVICE_FD \(name)", {
            name.withCString { Int(shim_ioctl_ptr(fd, SHIM_VFIO_GROUP_GET_DEVICE_FD, UnsafeMutableRawPointer(mutating: $0))) }
        })
        if outcome.failed {
            switch outcome.errno {
            case EBUSY: throw .groupBusy(group: number)
            default: throw .system(operation: "VFIO_GROUP_GET_DEVICE_FD \(name) from \(path)", errno: outcome.errno)
            }
        }
        return FileDescriptor(owning: Int32(outcome.value))
    }

    deinit {
        // Device fds from this group are closed by now (each device holds its container, which
        // holds this group). Closing the fd would detach too; doing it first keeps the order visible.
        if attached.load(ordering: .acquiring) {
            _ = shim_ioctl_none(descriptor.rawValue, SHIM_VFIO_GROUP_UNSET_CONTAINER)
        }
    }
}
