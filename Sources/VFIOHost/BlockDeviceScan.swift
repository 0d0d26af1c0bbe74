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

/// A block device that depends on a PCI function, as sysfs shows it.
struct BlockDevice: Sendable, Equatable {
    /// Kernel name: `nvme0n1`, `nvme0n1p2`, `vda`, `dm-0`.
    var name: String
    /// Canonical sysfs path (every symlink resolved).
    var sysfsPath: String
    /// `MAJ:MIN` from the `dev` attribute.
    var devNumber: String?
    /// A partition (it has a `partition` attribute); `disk` names its whole disk.
    var isPartition: Bool
    var disk: String
    /// Hidden disks have no device node: NVMe multipath path devices (`nvme0c0n1`), under the
    /// controller, whose I/O goes through the head disk.
    var isHidden: Bool
    /// Found through another device's `holders/` (dm, md), not under the function itself.
    var isStacked: Bool
    /// The `holders/` entries: devices stacked on this one.
    var holders: [String]
}

/// Finds the block devices a PCI function carries, through sysfs alone, so every driver's layout
/// is covered without knowing it: `/sys/class/block/*` entries link into the device tree, and a
/// device lies under the function (`.../0000:00:02.0/virtio1/block/vda`, `.../nvme/nvme0/nvme0n1`,
/// `.../host0/target0:0:0/.../block/sda`), or, for NVMe native multipath, under the subsystem of
/// one of the function's controllers (`/sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1`,
/// linked from the subsystem as `nvme0 -> .../0000:01:00.0/nvme/nvme0`). Then, transitively,
/// whatever is stacked on them (`holders/`: LVM, dm-crypt, md).
struct BlockDeviceScan {
    let sysfsRoot: String

    /// `roots`: canonical sysfs paths of the function (and of its SR-IOV virtual functions).
    func devices(under roots: [String]) -> [BlockDevice] {
        let classDirectory = "\(sysfsRoot)/class/block"
        var prefixes = roots.map { $0 + "/" }
        prefixes += multipathSubsystems(under: prefixes).map { $0 + "/" }
        let all: [(String, String)] = Sysfs.listDirectory(classDirectory).compactMap { name in
            Sysfs.realPath("\(classDirectory)/\(name)").map { (name, $0) }
        }
        var found: [BlockDevice] = []
        for (name, path) in all where prefixes.contains(where: { path.hasPrefix($0) }) {
            found.append(device(name, path, stacked: false))
        }
        var index = 0
        while index < found.count, found.count < 4096 {
            for holder in found[index].holders where !found.contains(where: { $0.name == holder }) {
                if let path = Sysfs.realPath("\(classDirectory)/\(holder)") { found.append(device(holder, path, stacked: true)) }
            }
            index += 1
        }
        return found
    }

    /// The NVMe subsystems (`/sys/devices/virtual/nvme-subsystem/nvme-subsysN`) with a controller
    /// under one of the prefixes: their head disks carry the I/O of that controller's namespaces.
    func multipathSubsystems(under prefixes: [String]) -> [String] {
        let directory = "\(sysfsRoot)/devices/virtual/nvme-subsystem"
        return Sysfs.listDirectory(directory).compactMap { subsystem in
            let path = "\(directory)/\(subsystem)"
            let hasController = Sysfs.listDirectory(path).contains { entry in
                guard Sysfs.readLink("\(path)/\(entry)") != nil, let target = Sysfs.realPath("\(path)/\(entry)") else { return false }
                return prefixes.contains { target.hasPrefix($0) }
            }
            return hasController ? Sysfs.realPath(path) : nil
        }
    }

    private func device(_ name: String, _ path: String, stacked: Bool) -> BlockDevice {
        let isPartition = Sysfs.exists("\(path)/partition")
        let parent = path.split(separator: "/").dropLast().last.map(String.init) ?? name
        return BlockDevice(
            name: name, sysfsPath: path, devNumber: Sysfs.readText("\(path)/dev"),
            isPartition: isPartition, disk: isPartition ? parent : name,
            isHidden: Sysfs.readText("\(path)/hidden") == "1",
            isStacked: stacked, holders: Sysfs.listDirectory("\(path)/holders"))
    }

    /// What a holder is, for a message: "LVM volume vg-home", "dm-crypt mapping luks-1", "RAID array md0".
    func holderKind(_ holder: String) -> String {
        let base = "\(sysfsRoot)/class/block/\(holder)"
        if let uuid = Sysfs.readText("\(base)/dm/uuid") {
            let name = Sysfs.readText("\(base)/dm/name") ?? holder
            if uuid.hasPrefix("LVM-") { return "LVM volume \(name)" }
            if uuid.hasPrefix("CRYPT-") { return "dm-crypt mapping \(name)" }
            if uuid.hasPrefix("mpath-") { return "multipath map \(name)" }
            return "device-mapper device \(name)"
        }
        if holder.hasPrefix("md") { return "RAID array \(holder)" }
        if holder.hasPrefix("bcache") { return "bcache device \(holder)" }
        return "stacked device"
    }
}
