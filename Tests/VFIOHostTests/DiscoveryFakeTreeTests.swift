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

import Testing
import VFIO
import VFIOTestSupport
@testable import VFIOHost

/// Discovery against a fake sysfs/proc tree: every case the host machine does not have.
@Suite struct DiscoveryFakeTreeTests {
    static let nvme = PCIAddress(bus: 1, device: 0, function: 0)       // nvme, group 7, mounted, swap, dm
    static let audio = PCIAddress(bus: 1, device: 0, function: 1)      // same group, snd_hda_intel
    static let nicUp = PCIAddress(bus: 2, device: 0, function: 0)      // e1000e, eth1 up
    static let ready = PCIAddress(bus: 3, device: 0, function: 0)      // vfio-pci, alone in group 9
    static let ahci = PCIAddress(bus: 4, device: 0, function: 0)       // no IOMMU group, holds /
    static let nicDown = PCIAddress(bus: 5, device: 0, function: 0)    // e1000e, eth2 down

    /// Builds the tree: `/sys/devices/pci0000:00/<BDF>` with attributes and links, the
    /// `/sys/bus/pci/devices` and `/sys/class/{block,net}` links into it, and `/proc` tables.
    static func makeTree() -> FakeTree {
        let t = FakeTree()
        let bar0_16k_64 = "0x00000000fe000000 0x00000000fe003fff 0x0000000000140204\n"
        let empty = "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        let io32 = "0x000000000000c000 0x000000000000c01f 0x0000000000040101\n"
        let prefetch = "0x0000000800000000 0x00000008000fffff 0x000000000014220c\n"
        t.pciFunction(nvme, vendor: "0x144d", device: "0xa808", cls: "0x010802", driver: "nvme", group: 7, numa: "0",
                      resource: bar0_16k_64 + empty + empty + empty + io32 + empty + empty, headerType: 0)
        t.pciFunction(audio, vendor: "0x8086", device: "0x1234", cls: "0x040300", driver: "snd_hda_intel", group: 7)
        t.pciFunction(nicUp, vendor: "0x8086", device: "0x10d3", cls: "0x020000", driver: "e1000e", group: 8,
                      resource: empty + empty + prefetch)
        t.pciFunction(ready, vendor: "0x1b36", device: "0x0010", cls: "0x010802", driver: "vfio-pci", group: 9, override: "vfio-pci")
        t.pciFunction(ahci, vendor: "0x8086", device: "0x2922", cls: "0x010601", driver: "ahci", group: nil)
        t.pciFunction(nicDown, vendor: "0x8086", device: "0x10d3", cls: "0x020000", driver: "e1000e", group: 10)
        func block(_ name: String, at path: String, dev: String, partition: Int? = nil) {
            t.blockDevice(name, at: path, dev: dev, partition: partition)
        }
        func net(_ name: String, at path: String, operstate: String, flags: String) {
            t.netInterface(name, at: path, operstate: operstate, flags: flags)
        }

        let ns = "sys/devices/pci0000:00/\(nvme)/nvme/nvme0/nvme0n1"
        block("nvme0n1", at: ns, dev: "259:0")
        block("nvme0n1p1", at: "\(ns)/nvme0n1p1", dev: "259:1", partition: 1)
        block("nvme0n1p2", at: "\(ns)/nvme0n1p2", dev: "259:2", partition: 2)
        block("nvme0n1p3", at: "\(ns)/nvme0n1p3", dev: "259:3", partition: 3)
        block("dm-0", at: "sys/devices/virtual/block/dm-0", dev: "253:0")
        t.file("sys/devices/virtual/block/dm-0/dm/uuid", "LVM-8Fz2k\n")
        t.file("sys/devices/virtual/block/dm-0/dm/name", "vg-home\n")
        t.link("\(ns)/nvme0n1p2/holders/dm-0", to: "../../../../../../../virtual/block/dm-0")
        let sda = "sys/devices/pci0000:00/\(ahci)/ata1/host0/target0:0:0/0:0:0:0/block/sda"
        block("sda", at: sda, dev: "8:0")
        block("sda1", at: "\(sda)/sda1", dev: "8:1", partition: 1)
        block("loop0", at: "sys/devices/virtual/block/loop0", dev: "7:0")
        net("eth1", at: "sys/devices/pci0000:00/\(nicUp)/net/eth1", operstate: "up", flags: "0x1003")
        net("eth2", at: "sys/devices/pci0000:00/\(nicDown)/net/eth2", operstate: "down", flags: "0x1002")
        net("lo", at: "sys/devices/virtual/net/lo", operstate: "unknown", flags: "0x9")

        t.file("proc/self/mountinfo", """
            22 1 8:1 / / rw,relatime - ext4 /dev/root rw
            30 22 259:1 / /data rw,relatime shared:1 - xfs /dev/nvme0n1p1 rw
            31 22 253:0 / /home\\040dir rw,relatime - ext4 /dev/mapper/vg-home rw
            32 22 7:0 / /snap rw - squashfs /dev/loop0 ro
            40 22 0:5 / /proc rw - proc proc rw

            """)
        t.file("proc/swaps", """
            Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
            /dev/nvme0n1p3                          partition\t1048572\t\t0\t\t-2

            """)
        return t
    }

    func discovery(_ t: FakeTree) -> PCIDiscovery {
        PCIDiscovery(sysfsRoot: t.sys, procRoot: t.proc, devRoot: t.dev, lookUpNames: false)
    }

    @Test func listsEveryFunctionSortedWithItsAttributes() throws {
        let t = Self.makeTree()
        let functions = try discovery(t).functions()
        #expect(functions.map(\.address) == [Self.nvme, Self.audio, Self.nicUp, Self.ready, Self.ahci, Self.nicDown])
        let nvme = functions[0]
        #expect(nvme.vendorID == 0x144d && nvme.deviceID == 0xa808)
        #expect(nvme.classCode == 0x010802 && nvme.className == "NVMe controller")
        #expect(nvme.driver == "nvme" && nvme.iommuGroup == 7 && nvme.numaNode == 0)
        #expect(nvme.driverOverride == nil)
        #expect(nvme.bars == [PCIBAR(index: 0, size: 0x4000, is64Bit: true), PCIBAR(index: 4, size: 32, isIO: true)])
        #expect(nvme.barSizes == [0x4000, 0, 0, 0, 32, 0])
        #expect(functions[2].bars == [PCIBAR(index: 2, size: 0x10_0000, is64Bit: true, isPrefetchable: true)])
        #expect(functions[2].className == "Ethernet controller")
        #expect(functions[3].driverOverride == "vfio-pci" && functions[3].isBoundToVFIO)
        #expect(functions[4].iommuGroup == nil && functions[4].numaNode == nil)
        #expect(functions[4].className == "SATA controller (AHCI)")
    }

    @Test func missingFunctionIsNoSuchDevice() {
        let t = Self.makeTree()
        let missing = PCIAddress(bus: 9, device: 0, function: 0)
        #expect(throws: HostError.vfio(.noSuchDevice(missing))) { try discovery(t).function(at: missing) }
        #expect(throws: HostError.vfio(.noSuchDevice(missing))) { try discovery(t).verdict(for: missing) }
    }

    @Test func mountsSwapAndStackedDevicesCountAsUse() {
        let t = Self.makeTree()
        #expect(discovery(t).usage(of: Self.nvme) == [
            .mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/data", fsType: "xfs"),
            .mountedFilesystem(blockDevice: "dm-0", mountPoint: "/home dir", fsType: "ext4"),
            .activeSwap(blockDevice: "nvme0n1p3"),
            .heldBy(blockDevice: "nvme0n1p2", holder: "dm-0", kind: "LVM volume vg-home"),
        ])
    }

    @Test func rootFilesystemMountedAsDevRootIsFoundByDeviceNumber() {
        let t = Self.makeTree()
        #expect(discovery(t).usage(of: Self.ahci) == [.mountedFilesystem(blockDevice: "sda1", mountPoint: "/", fsType: "ext4")])
    }

    @Test func upInterfaceCountsAsUseAndDownInterfaceDoesNot() {
        let t = Self.makeTree()
        #expect(discovery(t).usage(of: Self.nicUp) == [.networkInterfaceUp(interface: "eth1", operstate: "up")])
        #expect(discovery(t).usage(of: Self.nicDown) == [])
    }

    @Test func mountsTableWithoutMountinfoStillFindsMountsByName() {
        let t = Self.makeTree()
        t.file("proc/mounts", "/dev/nvme0n1p1 /data xfs rw 0 0\n")
        FakeTree.removeTree(t.proc + "/self")
        #expect(discovery(t).usage(of: Self.nvme) == [
            .mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/data", fsType: "xfs"),
            .activeSwap(blockDevice: "nvme0n1p3"),
            .heldBy(blockDevice: "nvme0n1p2", holder: "dm-0", kind: "LVM volume vg-home"),
        ])
    }

    @Test func verdictListsEveryObstacle() throws {
        let t = Self.makeTree()
        let d = discovery(t)
        let nvme = try d.verdict(for: Self.nvme)
        #expect(nvme.obstacles == [
            .notBoundToVFIO(driver: "nvme"),
            .groupShared(group: 7, others: [IOMMUGroupMember(address: Self.audio, driver: "snd_hda_intel")]),
            .inUse(.mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/data", fsType: "xfs")),
            .inUse(.mountedFilesystem(blockDevice: "dm-0", mountPoint: "/home dir", fsType: "ext4")),
            .inUse(.activeSwap(blockDevice: "nvme0n1p3")),
            .inUse(.heldBy(blockDevice: "nvme0n1p2", holder: "dm-0", kind: "LVM volume vg-home")),
        ])
        #expect(!nvme.isReady && !nvme.canBind)
        #expect(nvme.uses.count == 4)
        #expect(nvme.toBind == [], "in use: no advice to bind")

        let ahci = try d.verdict(for: Self.ahci)
        #expect(ahci.obstacles.first == .noIOMMUGroup)
        #expect(!ahci.canBind && ahci.toBind == [])

        let nicDown = try d.verdict(for: Self.nicDown)
        #expect(nicDown.obstacles == [.notBoundToVFIO(driver: "e1000e")])
        #expect(nicDown.canBind && !nicDown.isReady)
        #expect(nicDown.toBind == [Self.nicDown])
        #expect(nicDown.description == "0000:05:00.0: bound to e1000e, not vfio-pci; bind 0000:05:00.0 to vfio-pci")

        // The audio function: not used by the host, but its group's other member is the nvme.
        let audio = try d.verdict(for: Self.audio)
        #expect(audio.canBind && audio.toBind == [Self.audio, Self.nvme])

        let ready = try d.verdict(for: Self.ready)
        #expect(ready.isReady && ready.toBind == [], "\(ready)")
    }

    @Test func groupMembersAreListedWithTheirDrivers() {
        let t = Self.makeTree()
        #expect(discovery(t).members(ofGroup: 7) == [
            IOMMUGroupMember(address: Self.nvme, driver: "nvme"),
            IOMMUGroupMember(address: Self.audio, driver: "snd_hda_intel"),
        ])
        #expect(discovery(t).members(ofGroup: 99) == [])
    }

    @Test func mountTableEscapesAreDecoded() {
        #expect(MountTable.unescape("/mnt/a\\040b\\011c\\134d") == "/mnt/a b\tc\\d")
        #expect(MountTable.unescape("/plain") == "/plain")
        #expect(MountTable.unescape("/trailing\\04") == "/trailing\\04")
    }

    @Test func classNamesCoverTheCommonClasses() {
        #expect(PCIClass.name(of: 0x010802) == "NVMe controller")
        #expect(PCIClass.name(of: 0x020000) == "Ethernet controller")
        #expect(PCIClass.name(of: 0x020001) == "Ethernet controller")
        #expect(PCIClass.name(of: 0x060400) == "PCI bridge")
        #expect(PCIClass.name(of: 0x0c0330) == "USB controller (xHCI)")
        #expect(PCIClass.name(of: 0x018000) == "Mass storage controller")
        #expect(PCIClass.name(of: 0x01ee00) == "Mass storage controller")
        #expect(PCIClass.name(of: 0xfe0000) == nil)
    }
}
