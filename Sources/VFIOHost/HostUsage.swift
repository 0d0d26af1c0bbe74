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

#if canImport(Glibc)
import Glibc
#endif
import VFIO

extension PCIDiscovery {
    /// What on this host depends on the function through its current driver, or would lose data
    /// to a driver that writes its disks (compare SPDK's `setup.sh`, which checks holders, mounts
    /// and `blkid`; this goes further where the kernel lets us look):
    ///
    /// - its block devices: under the function, NVMe multipath heads of its controllers'
    ///   subsystems, partitions, and what is stacked on them (`BlockDeviceScan`);
    /// - mounts of them in this mount namespace and in every other one we may read, active swap;
    /// - holders (an active LVM volume, dm-crypt mapping or md array, mounted or not);
    /// - processes that have one open (`/proc/<pid>/fd`);
    /// - an exclusive open that fails with EBUSY (ZFS vdevs, btrfs members, mounts we cannot see);
    /// - a partition table or filesystem signature at the start of a disk nothing else explains;
    /// - network interfaces that are up;
    /// - enabled SR-IOV virtual functions, and all of the above for each of them.
    ///
    /// Empty for an unbound function (nothing of the host hangs off it). Reads only: the probes
    /// open device nodes read-only and close them at once.
    public func usage(of address: PCIAddress) -> [DeviceUse] {
        let node = node(address)
        guard let root = Sysfs.realPath(node.path) else { return [] }
        var uses: [DeviceUse] = []
        var roots = [root]
        let virtualFunctions = self.virtualFunctions(of: node)
        if !virtualFunctions.isEmpty {
            let enabled = Sysfs.readText("\(node.path)/sriov_numvfs").flatMap { Int($0) } ?? virtualFunctions.count
            uses.append(.virtualFunctionsEnabled(count: max(enabled, virtualFunctions.count), functions: virtualFunctions))
            roots += virtualFunctions.compactMap { Sysfs.realPath(self.node($0.address).path) }
        }
        let scan = BlockDeviceScan(sysfsRoot: sysfsRoot)
        let blocks = scan.devices(under: roots)
        if !blocks.isEmpty { uses += blockDeviceUses(blocks, scan: scan) }
        uses += interfacesUp(under: roots)
        return uses
    }

    /// Names of the block devices the function carries (see `BlockDeviceScan`), stacked ones
    /// included; empty for a function without disks, or whose driver has not found them yet.
    public func blockDeviceNames(of address: PCIAddress) -> [String] {
        guard let root = Sysfs.realPath(node(address).path) else { return [] }
        return BlockDeviceScan(sysfsRoot: sysfsRoot).devices(under: [root]).map(\.name)
    }

    /// The functions `virtfn0...` of an SR-IOV physical function, with their drivers.
    func virtualFunctions(of node: PCISysfsNode) -> [IOMMUGroupMember] {
        Sysfs.listDirectory(node.path).filter { $0.hasPrefix("virtfn") }
            .sorted { (Int($0.dropFirst(6)) ?? 0) < (Int($1.dropFirst(6)) ?? 0) }
            .compactMap { link in
                guard let name = Sysfs.linkTarget("\(node.path)/\(link)"), let address = try? PCIAddress(parsing: name) else { return nil }
                return IOMMUGroupMember(address: address, driver: self.node(address).driver)
            }
    }

    private func blockDeviceUses(_ blocks: [BlockDevice], scan: BlockDeviceScan) -> [DeviceUse] {
        var uses: [DeviceUse] = []
        let byNumber = Dictionary(blocks.compactMap { b in b.devNumber.map { ($0, b.name) } }, uniquingKeysWith: { a, _ in a })
        let names = Set(blocks.map(\.name))
        let processes = ProcessTable(procRoot: procRoot)
        let table = MountTable(procRoot: procRoot)

        for mount in table.mounts(processes: processes) {
            let byName = Self.deviceName(mount.source, devRoot: devRoot).flatMap { names.contains($0) ? $0 : nil }
            guard let device = mount.majorMinor.flatMap({ byNumber[$0] }) ?? byName else { continue }
            if let pid = mount.namespacePID {
                uses.append(.mountedInOtherNamespace(blockDevice: device, mountPoint: mount.mountPoint, fsType: mount.fsType,
                                                     pid: pid, command: mount.command))
            } else {
                uses.append(.mountedFilesystem(blockDevice: device, mountPoint: mount.mountPoint, fsType: mount.fsType))
            }
        }
        for swap in table.swaps() {
            if let name = Self.deviceName(swap, devRoot: devRoot), names.contains(name) { uses.append(.activeSwap(blockDevice: name)) }
        }
        for block in blocks {
            for holder in block.holders { uses.append(.heldBy(blockDevice: block.name, holder: holder, kind: scan.holderKind(holder))) }
        }
        for (device, pid) in processes.openers(of: names) {
            uses.append(.openedByProcess(blockDevice: device, pid: pid, command: processes.command(of: pid)))
        }

        // The function's own disks and partitions that nothing above explains: the kernel's
        // exclusive-open check, then (whole disks) the signature of what they hold.
        // Partitions first: when one is busy, its disk (busy through it) need not be named too.
        let own = blocks.filter { !$0.isStacked && !$0.isHidden && $0.isPartition } + blocks.filter { !$0.isStacked && !$0.isHidden && !$0.isPartition }
        func explained(_ block: BlockDevice, by uses: [DeviceUse]) -> Bool {
            let named = Set(uses.compactMap(\.blockDevice))
            if named.contains(block.name) { return true }
            if block.isPartition { return named.contains(block.disk) }
            return blocks.contains { $0.isPartition && $0.disk == block.name && named.contains($0.name) }
        }
        for block in own where !explained(block, by: uses) {
            let error = blockDeviceAccess.probeExclusive("\(devRoot)/\(block.name)")
            if error == EBUSY {
                uses.append(.exclusivelyOpen(blockDevice: block.name))
            } else if error != 0 {
                uses.append(.uncheckable(blockDevice: block.name, reason: VFIOError.errnoText(error)))
            }
        }
        for block in own where !block.isPartition && !explained(block, by: uses) {
            switch blockDeviceAccess.readStart("\(devRoot)/\(block.name)", DiskSignature.bytesNeeded) {
            case .bytes(let bytes):
                if let signature = DiskSignature.detect(bytes) { uses.append(.carriesData(blockDevice: block.name, signature: signature)) }
            case .failed(let errno):
                uses.append(.uncheckable(blockDevice: block.name, reason: VFIOError.errnoText(errno)))
            }
        }
        return uses
    }

    /// Network interfaces under the roots that are up: operstate up, or IFF_UP (administratively
    /// up even without carrier: the interface is configured).
    private func interfacesUp(under roots: [String]) -> [DeviceUse] {
        let netDirectory = "\(sysfsRoot)/class/net"
        return Sysfs.listDirectory(netDirectory).compactMap { interface in
            guard let target = Sysfs.realPath("\(netDirectory)/\(interface)"),
                  roots.contains(where: { target.hasPrefix($0 + "/") })
            else { return nil }
            let operstate = Sysfs.readText("\(netDirectory)/\(interface)/operstate") ?? "unknown"
            let flags = Sysfs.readText("\(netDirectory)/\(interface)/flags").flatMap { Self.parseHex($0) } ?? 0
            return operstate == "up" || flags & 0x1 != 0 ? .networkInterfaceUp(interface: interface, operstate: operstate) : nil
        }
    }

    /// The kernel block device name behind a `/dev` path: `/dev/vda1` → vda1, `/dev/mapper/x` →
    /// dm-0 (through its symlink, resolved under `devRoot`). nil for anything not under /dev
    /// (tmpfs, 9p, overlay).
    static func deviceName(_ source: String, devRoot: String) -> String? {
        guard source.hasPrefix("/dev/") else { return nil }
        let local = devRoot + source.dropFirst("/dev".count)
        let resolved = Sysfs.realPath(local) ?? source
        return resolved.split(separator: "/").last.map(String.init)
    }
}
