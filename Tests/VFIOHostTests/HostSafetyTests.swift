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
import Synchronization
import Testing
import VFIO
import VFIOTestSupport
@testable import VFIOHost

/// What `bind` must find before it touches a function, against fake sysfs/proc/dev trees: each
/// case is one the plain "block devices under the function, mounted here" check missed (issue
/// #16, host safety of bind). Each refusal is one line and leaves the tree as it was.
@Suite struct HostSafetyTests {
    static let nvme = PCIAddress(bus: 1, device: 0, function: 0)
    static let vf = PCIAddress(bus: 1, device: 0, function: 1)
    static let nic = PCIAddress(bus: 2, device: 0, function: 0)
    static let bridge = PCIAddress(bus: 0, device: 0, function: 0)

    /// An NVMe function (nvme driver, group 7) with controller `nvme0`; vfio-pci loaded; the
    /// files a bind writes exist, so that a bind that gets past the checks can write them.
    static func nvmeTree() -> (FakeTree, controller: String) {
        let t = FakeTree()
        let function = t.pciFunction(nvme, vendor: "0x144d", device: "0xa808", cls: "0x010802", driver: "nvme", group: 7, headerType: 0)
        t.directory("sys/bus/pci/drivers/vfio-pci")
        t.file("sys/bus/pci/drivers/nvme/unbind", "")
        t.file("sys/bus/pci/drivers_probe", "")
        t.file("proc/self/mountinfo", "22 1 254:0 / /other rw - ext4 /dev/vdz rw\n")
        t.link("proc/self/ns/mnt", to: "mnt:[4026531840]")
        return (t, "\(function)/nvme/nvme0")
    }

    static func discovery(_ t: FakeTree, busy: Set<String> = [], errno: Int32 = EBUSY) -> PCIDiscovery {
        let access = BlockDeviceAccess(
            probeExclusive: { path in
                busy.contains(String(path.split(separator: "/").last ?? "")) ? errno : BlockDeviceAccess.system.probeExclusive(path)
            },
            readStart: BlockDeviceAccess.system.readStart)
        return PCIDiscovery(sysfsRoot: t.sys, procRoot: t.proc, devRoot: t.dev, lookUpNames: false, blockDeviceAccess: access)
    }

    static func binding(_ t: FakeTree, busy: Set<String> = []) -> DriverBinding {
        DriverBinding(discovery: discovery(t, busy: busy), stateDirectory: t.root + "/run/vfioctl")
    }

    /// The files a bind would write, and the driver link, as they are now.
    static func snapshot(_ t: FakeTree, _ a: PCIAddress) -> [String?] {
        let path = "\(t.sys)/bus/pci/devices/\(a)"
        return [Sysfs.readText("\(path)/driver_override"), linkBasename("\(path)/driver"),
                Sysfs.readText("\(t.sys)/bus/pci/drivers/nvme/unbind"), Sysfs.readText("\(t.sys)/bus/pci/drivers_probe"),
                Sysfs.listDirectory(t.root + "/run/vfioctl").joined(separator: ",")]
    }

    /// Binds `address` and expects a refusal: one line starting with `prefix` (by default, the
    /// in-use refusal's) and naming `fragment`, with nothing written.
    func expectRefusal(_ t: FakeTree, _ binding: DriverBinding, _ address: PCIAddress, policy: DriverBinding.Policy = .init(),
                       prefix: String? = nil, naming fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let before = Self.snapshot(t, address)
        do {
            _ = try binding.bind([address], policy: policy)
            Issue.record("bind of \(address) succeeded", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(fragment), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(prefix ?? "refusing to touch \(address): "), "\(error)", sourceLocation: sourceLocation)
            #expect(!error.description.contains("\n"), "one line", sourceLocation: sourceLocation)
        }
        #expect(Self.snapshot(t, address) == before, "a refused bind wrote something", sourceLocation: sourceLocation)
    }

    // MARK: - NVMe native multipath

    /// With CONFIG_NVME_MULTIPATH, `nvme0n1` is the subsystem's head disk under
    /// /sys/devices/virtual/nvme-subsystem, not under the PCI function; only the hidden path
    /// device `nvme0c0n1` is. The head (and its partitions) must count for the function.
    static func multipathTree() -> FakeTree {
        let (t, controller) = nvmeTree()
        t.blockDevice("nvme0c0n1", at: "\(controller)/nvme0c0n1", dev: "259:9", hidden: true)
        let subsystem = "sys/devices/virtual/nvme-subsystem/nvme-subsys0"
        t.link("\(subsystem)/nvme0", to: "../../../pci0000:00/\(nvme)/nvme/nvme0")
        t.file("\(subsystem)/subsysnqn", "nqn.2014.08.org.nvmexpress:144da808\n")
        t.blockDevice("nvme0n1", at: "\(subsystem)/nvme0n1", dev: "259:0")
        t.blockDevice("nvme0n1p1", at: "\(subsystem)/nvme0n1/nvme0n1p1", dev: "259:1", partition: 1)
        t.blockDevice("nvme0n1p2", at: "\(subsystem)/nvme0n1/nvme0n1p2", dev: "259:2", partition: 2)
        t.file("proc/self/mountinfo", """
            22 1 259:2 / / rw,relatime - ext4 /dev/nvme0n1p2 rw
            23 22 259:1 / /boot/efi rw,relatime - vfat /dev/nvme0n1p1 rw
            40 22 0:5 / /proc rw - proc proc rw

            """)
        return t
    }

    @Test func multipathHeadOfTheFunctionsControllerIsFound() {
        let t = Self.multipathTree()
        #expect(Self.discovery(t).usage(of: Self.nvme) == [
            .mountedFilesystem(blockDevice: "nvme0n1p2", mountPoint: "/", fsType: "ext4"),
            .mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/boot/efi", fsType: "vfat"),
        ])
    }

    @Test func multipathHeadWithRootMountedIsRefused() {
        let t = Self.multipathTree()
        expectRefusal(t, Self.binding(t), Self.nvme, naming: "/dev/nvme0n1p2 is mounted at / (ext4)")
    }

    @Test func headOfAnotherSubsystemDoesNotCount() {
        let t = Self.multipathTree()
        let other = "sys/devices/virtual/nvme-subsystem/nvme-subsys1"
        t.link("\(other)/nvme1", to: "../../../pci0000:00/0000:09:00.0/nvme/nvme1")
        t.blockDevice("nvme1n1", at: "\(other)/nvme1n1", dev: "259:5")
        t.file("proc/self/mountinfo", "22 1 259:5 / /data rw - xfs /dev/nvme1n1 rw\n")
        #expect(Self.discovery(t).usage(of: Self.nvme) == [])
    }

    // MARK: - Exclusive open, signatures, probes that fail

    /// A disk with no partition, mounted nowhere we can see, not held, yet the kernel refuses an
    /// exclusive open: a ZFS vdev, a second btrfs member, a mount in a namespace we cannot read.
    @Test func exclusivelyBusyDiskIsRefused() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0")
        #expect(Self.discovery(t, busy: ["nvme0n1"]).usage(of: Self.nvme) == [.exclusivelyOpen(blockDevice: "nvme0n1")])
        expectRefusal(t, Self.binding(t, busy: ["nvme0n1"]), Self.nvme, naming: "/dev/nvme0n1 is busy")
    }

    /// A partition busy on its own (a btrfs member, say) counts; its disk, which the kernel then
    /// reports busy too, is not named twice.
    @Test func busyPartitionIsNamedAndItsDiskIsNot() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0")
        t.blockDevice("nvme0n1p1", at: "\(controller)/nvme0n1/nvme0n1p1", dev: "259:1", partition: 1)
        #expect(Self.discovery(t, busy: ["nvme0n1p1", "nvme0n1"]).usage(of: Self.nvme) == [.exclusivelyOpen(blockDevice: "nvme0n1p1")])
    }

    static func gptDisk() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 4096)
        bytes[510] = 0x55; bytes[511] = 0xaa; bytes[446 + 4] = 0xee
        bytes.replaceSubrange(512..<520, with: Array("EFI PART".utf8))
        return bytes
    }

    @Test func diskWithAPartitionTableIsRefused() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0", contents: Self.gptDisk())
        #expect(Self.discovery(t).usage(of: Self.nvme) == [.carriesData(blockDevice: "nvme0n1", signature: "a GPT partition table")])
        expectRefusal(t, Self.binding(t), Self.nvme, naming: "/dev/nvme0n1 carries a GPT partition table")
    }

    @Test func blankDiskIsNotInUse() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0", contents: [UInt8](repeating: 0, count: 300_000))
        #expect(Self.discovery(t).usage(of: Self.nvme) == [])
    }

    /// --force skips every in-use check (here the partition table) and goes on to write; what it
    /// never skips is the kernel's word: the fake kernel does not move the driver, so the bind
    /// fails as bindFailed and the override is cleared again.
    @Test func forceSkipsTheInUseChecksOnly() throws {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0", contents: Self.gptDisk())
        #expect(throws: HostError.bindFailed(Self.nvme, expected: "vfio-pci", actual: "nvme")) {
            try Self.binding(t).bind([Self.nvme], policy: .init(force: true))
        }
        #expect(Sysfs.readText("\(t.sys)/bus/pci/drivers/nvme/unbind") == "\(Self.nvme)", "force reached the unbind")
        #expect(Sysfs.readText("\(t.sys)/bus/pci/devices/\(Self.nvme)/driver_override") == "")
    }

    @Test func diskThatCannotBeOpenedIsUncheckedNotPassed() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0")
        #expect(Self.discovery(t, busy: ["nvme0n1"], errno: EACCES).usage(of: Self.nvme)
            == [.uncheckable(blockDevice: "nvme0n1", reason: "Permission denied")])
        unlink("\(t.dev)/nvme0n1")
        #expect(Self.discovery(t).usage(of: Self.nvme) == [.uncheckable(blockDevice: "nvme0n1", reason: "No such file or directory")])
    }

    // MARK: - Other namespaces, processes, holders

    @Test func mountInAnotherMountNamespaceIsFound() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0")
        t.link("proc/1/ns/mnt", to: "mnt:[4026531840]")             // the host's namespace: already read
        t.file("proc/1/mountinfo", "22 1 254:0 / /other rw - ext4 /dev/vdz rw\n")
        t.link("proc/4242/ns/mnt", to: "mnt:[4026532999]")
        t.file("proc/4242/comm", "postgres\n")
        t.file("proc/4242/mountinfo", "22 1 0:40 / / rw - overlay overlay rw\n31 22 259:0 / /var/lib/postgresql rw - xfs /dev/nvme0n1 rw\n")
        t.link("proc/4243/ns/mnt", to: "mnt:[4026532999]")             // same container: read once
        t.file("proc/4243/mountinfo", "31 22 259:0 / /elsewhere rw - xfs /dev/nvme0n1 rw\n")
        #expect(Self.discovery(t).usage(of: Self.nvme) == [
            .mountedInOtherNamespace(blockDevice: "nvme0n1", mountPoint: "/var/lib/postgresql", fsType: "xfs", pid: 4242, command: "postgres"),
        ])
        expectRefusal(t, Self.binding(t), Self.nvme, naming: "mounted at /var/lib/postgresql (xfs) in the mount namespace of pid 4242 (postgres)")
    }

    @Test func processWithTheDiskOpenIsFound() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0")
        t.file("proc/777/comm", "qemu-system-x86\n")
        t.link("proc/777/fd/0", to: "/dev/null")
        t.link("proc/777/fd/12", to: "/dev/nvme0n1")
        t.link("proc/777/fd/13", to: "/dev/nvme0n1")
        t.link("proc/778/fd/3", to: "/dev/nvme0n10")
        #expect(Self.discovery(t).usage(of: Self.nvme) == [.openedByProcess(blockDevice: "nvme0n1", pid: 777, command: "qemu-system-x86")])
        expectRefusal(t, Self.binding(t), Self.nvme, naming: "/dev/nvme0n1 is open in pid 777 (qemu-system-x86)")
    }

    /// An active LVM volume on the disk counts though nothing is mounted from it.
    @Test func unmountedLVMVolumeIsFound() {
        let (t, controller) = Self.nvmeTree()
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0")
        t.blockDevice("dm-3", at: "sys/devices/virtual/block/dm-3", dev: "253:3")
        t.file("sys/devices/virtual/block/dm-3/dm/uuid", "LVM-abc\n")
        t.file("sys/devices/virtual/block/dm-3/dm/name", "vg0-scratch\n")
        t.link("\(controller)/nvme0n1/holders/dm-3", to: "../../../../../../virtual/block/dm-3")
        t.blockDevice("md0", at: "sys/devices/virtual/block/md0", dev: "9:0")
        t.link("sys/devices/virtual/block/dm-3/holders/md0", to: "../../md0")
        #expect(Self.discovery(t).usage(of: Self.nvme) == [
            .heldBy(blockDevice: "nvme0n1", holder: "dm-3", kind: "LVM volume vg0-scratch"),
            .heldBy(blockDevice: "dm-3", holder: "md0", kind: "RAID array md0"),
        ])
        expectRefusal(t, Self.binding(t), Self.nvme, naming: "/dev/nvme0n1 is held by dm-3 (LVM volume vg0-scratch)")
    }

    // MARK: - SR-IOV

    /// Unbinding a physical function's driver disables SR-IOV: its virtual functions, and what
    /// the host has on them, go away.
    @Test func enabledVirtualFunctionsAndTheirUsesCount() {
        let (t, _) = Self.nvmeTree()
        let vfPath = t.pciFunction(Self.vf, vendor: "0x8086", device: "0x10ed", cls: "0x020000", driver: "ixgbevf", group: 8)
        t.link("sys/devices/pci0000:00/\(Self.nvme)/virtfn0", to: "../\(Self.vf)")
        t.file("sys/devices/pci0000:00/\(Self.nvme)/sriov_numvfs", "1\n")
        t.netInterface("eth5", at: "\(vfPath)/net/eth5", operstate: "up", flags: "0x1003")
        #expect(Self.discovery(t).usage(of: Self.nvme) == [
            .virtualFunctionsEnabled(count: 1, functions: [IOMMUGroupMember(address: Self.vf, driver: "ixgbevf")]),
            .networkInterfaceUp(interface: "eth5", operstate: "up"),
        ])
        expectRefusal(t, Self.binding(t), Self.nvme, naming: "1 SR-IOV virtual function is enabled (0000:01:00.1 (ixgbevf))")
    }

    // MARK: - What can never be bound, and udev

    @Test func bridgeIsNotBindableWhateverTheForce() throws {
        let t = FakeTree()
        let pciBridge = PCIAddress(bus: 0, device: 0x1c, function: 0)
        t.pciFunction(Self.bridge, vendor: "0x8086", device: "0x29c0", cls: "0x060000", driver: nil, group: 1, headerType: 0)
        t.pciFunction(pciBridge, vendor: "0x8086", device: "0x244e", cls: "0x060401", driver: "pcieport", group: 2, headerType: 1)
        t.directory("sys/bus/pci/drivers/vfio-pci")
        let d = Self.discovery(t)
        let host = try d.verdict(for: Self.bridge)
        #expect(host.obstacles.contains(.notBindable(reason: "a bridge (Host bridge 0600), which routes to other devices: vfio-pci drives endpoint functions only")))
        #expect(!host.canBind && host.toBind == [])
        #expect(try d.verdict(for: pciBridge).obstacles.contains(.notBindable(reason: "a PCI-to-PCI bridge (header type 1): vfio-pci takes endpoint functions only")))
        for address in [Self.bridge, pciBridge] {
            expectRefusal(t, Self.binding(t), address, policy: .init(force: true), prefix: "refusing to bind \(address): it is a ",
                          naming: "bridge")
        }
    }

    /// From udev, a storage function without a driver is left alone: its disks (the boot disk of
    /// a QEMU guest whose NVMe matches the rule) do not exist yet, so nothing could be checked.
    @Test func udevLeavesAStorageFunctionWithoutADriverAlone() {
        let t = FakeTree()
        t.pciFunction(Self.nvme, vendor: "0x1b36", device: "0x0010", cls: "0x010802", driver: nil, group: 7, headerType: 0)
        t.directory("sys/bus/pci/drivers/vfio-pci")
        t.file("sys/bus/pci/drivers_probe", "")
        expectRefusal(t, Self.binding(t), Self.nvme, policy: .init(fromUdev: true), prefix: "not binding \(Self.nvme) from udev: ",
                      naming: "without a driver yet, so its disks cannot be checked")
        // Outside udev the same unbound function may be bound: nothing of the host hangs off it.
        #expect(throws: HostError.bindFailed(Self.nvme, expected: "vfio-pci", actual: nil)) {
            try Self.binding(t).bind([Self.nvme])
        }
    }

    /// NVMe finds its namespaces after probe: a controller whose driver shows no disk yet may be
    /// about to show the boot disk, so udev leaves it too; with a blank disk it binds.
    @Test func udevWaitsForTheDisksOfAStorageDriver() throws {
        let (t, controller) = Self.nvmeTree()
        expectRefusal(t, Self.binding(t), Self.nvme, policy: .init(fromUdev: true), prefix: "not binding \(Self.nvme) from udev: ",
                      naming: "whose driver nvme shows no disk yet")
        t.blockDevice("nvme0n1", at: "\(controller)/nvme0n1", dev: "259:0", contents: [UInt8](repeating: 0, count: 4096))
        #expect(throws: HostError.bindFailed(Self.nvme, expected: "vfio-pci", actual: "nvme")) {
            try Self.binding(t).bind([Self.nvme], policy: .init(fromUdev: true))
        }
    }
}
