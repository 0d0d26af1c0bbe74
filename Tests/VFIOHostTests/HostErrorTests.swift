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
@testable import VFIOHost

/// Every message is one line: the cause, then the fix after the last `; `, naming no vfioctl
/// command (the tool puts its own there).
@Suite struct HostErrorTests {
    static let bdf = PCIAddress(bus: 3, device: 0, function: 0)

    static let cases: [(HostError, String)] = [
        (.deviceInUse(bdf, uses: [.mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/", fsType: "ext4")]),
         "refusing to touch 0000:03:00.0: /dev/nvme0n1p1 is mounted at / (ext4); unmount it, or force the binding if you are sure"),
        (.deviceInUse(bdf, uses: [.carriesData(blockDevice: "nvme1n1", signature: "a GPT partition table"),
                                  .exclusivelyOpen(blockDevice: "nvme2n1")]),
         "refusing to touch 0000:03:00.0: /dev/nvme1n1 carries a GPT partition table; /dev/nvme2n1 is busy (open exclusively: a mount elsewhere, swap, RAID, LVM, ZFS or btrfs); wipe it (wipefs -a) if the data is not needed, release it (lsblk and fuser show the holder), or force the binding if you are sure"),
        (.bindFailed(bdf, expected: "vfio-pci", actual: "nvme"),
         "0000:03:00.0 did not bind to vfio-pci (now nvme); the previous driver was restored; see dmesg"),
        (.bindFailed(bdf, expected: "vfio-pci", actual: nil),
         "0000:03:00.0 did not bind to vfio-pci (now no driver); the previous driver was restored; see dmesg"),
        (.notBindable(bdf, reason: "a PCI-to-PCI bridge (header type 1): vfio-pci takes endpoint functions only"),
         "refusing to bind 0000:03:00.0: it is a PCI-to-PCI bridge (header type 1): vfio-pci takes endpoint functions only; bind the endpoint functions behind it instead"),
        (.cannotCheckYet(bdf, reason: "it is an NVMe controller [1b36:0010] without a driver yet, so its disks cannot be checked"),
         "not binding 0000:03:00.0 from udev: it is an NVMe controller [1b36:0010] without a driver yet, so its disks cannot be checked; it stays with its kernel driver: bind it once that driver has brought it up"),
        (.vfio(.noSuchDevice(bdf)),
         "no PCI device at 0000:03:00.0; check the address against /sys/bus/pci/devices (lspci -D lists them)"),
    ]

    @Test(arguments: cases.indices)
    func messageIsOneLineWithTheFixLast(_ index: Int) {
        let (error, expected) = Self.cases[index]
        #expect(error.description == expected)
        #expect(!error.description.contains("\n") && !error.description.contains("vfioctl"))
        #expect(error.description == error.cause + "; " + error.remedy)
        #expect(HostError.splitAtFix(error.description).fix == error.remedy)
    }

    @Test func everyUseNamesItsDeviceAndARemedy() {
        let uses: [DeviceUse] = [
            .mountedFilesystem(blockDevice: "a", mountPoint: "/", fsType: "ext4"),
            .mountedInOtherNamespace(blockDevice: "a", mountPoint: "/m", fsType: "xfs", pid: 9, command: nil),
            .activeSwap(blockDevice: "a"), .heldBy(blockDevice: "a", holder: "dm-0", kind: "LVM volume v"),
            .openedByProcess(blockDevice: "a", pid: 9, command: "qemu"), .exclusivelyOpen(blockDevice: "a"),
            .carriesData(blockDevice: "a", signature: "a btrfs filesystem"), .uncheckable(blockDevice: "a", reason: "Permission denied"),
        ]
        for use in uses {
            #expect(use.description.hasPrefix("/dev/a "), "\(use)")
            #expect(use.blockDevice == "a" && !use.remedy.isEmpty)
        }
        #expect(DeviceUse.networkInterfaceUp(interface: "eth0", operstate: "up").blockDevice == nil)
        #expect(DeviceUse.remedies(of: [uses[0], uses[1], uses[2]]) == "unmount it, swapoff it")
    }

    @Test func obstaclesNameTheirFixWithoutTheTool() {
        let member = IOMMUGroupMember(address: PCIAddress(bus: 1, device: 0, function: 1), driver: "snd_hda_intel")
        #expect(VFIOObstacle.noIOMMUGroup.description.contains("intel_iommu=on"))
        #expect(VFIOObstacle.notBoundToVFIO(driver: "nvme").description == "bound to nvme, not vfio-pci")
        #expect(VFIOObstacle.groupShared(group: 3, others: [member]).description.contains("0000:01:00.1 (snd_hda_intel)"))
        let use = DeviceUse.mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/data", fsType: "xfs")
        #expect(VFIOObstacle.inUse(use).description.contains("/dev/nvme0n1p1 is mounted at /data (xfs)"))
        #expect(VFIOObstacle.inUse(use).blocksBinding && VFIOObstacle.noIOMMUGroup.blocksBinding)
        #expect(VFIOObstacle.notBindable(reason: "a bridge").blocksBinding)
        #expect(!VFIOObstacle.notBoundToVFIO(driver: nil).blocksBinding)
        for obstacle in [VFIOObstacle.noIOMMUGroup, .notBindable(reason: "x"), .notBoundToVFIO(driver: nil),
                         .groupShared(group: 3, others: [member]), .inUse(use)] {
            #expect(!obstacle.description.contains("vfioctl"), "\(obstacle)")
        }
    }

    /// A description never traps on any value its case can hold (counts and ids at their extremes).
    @Test func descriptionsNeverTrapOnExtremeValues() {
        let bdf = PCIAddress(domain: .max, bus: .max, device: .max, function: .max)
        let members = (0..<6).map { IOMMUGroupMember(address: PCIAddress(bus: 1, device: 0, function: UInt8($0)), driver: nil) }
        var uses: [DeviceUse] = []
        for n in [Int.min, -1, 0, 1, Int.max] {
            uses += [.virtualFunctionsEnabled(count: n, functions: []), .virtualFunctionsEnabled(count: n, functions: members),
                     .mountedInOtherNamespace(blockDevice: "", mountPoint: "", fsType: "", pid: n, command: nil),
                     .openedByProcess(blockDevice: "", pid: n, command: "")]
        }
        var errors: [HostError] = uses.map { .deviceInUse(bdf, uses: [$0]) }
        errors += [.deviceInUse(bdf, uses: []), .notBindable(bdf, reason: ""), .cannotCheckYet(bdf, reason: ""),
                   .bindFailed(bdf, expected: "", actual: nil), .vfio(.system(operation: "", errno: .min)), .vfio(.invalidAddress("", reason: ""))]
        for error in errors { #expect(!error.description.isEmpty && !error.description.contains("\n"), "\(error)") }
        for group in [Int.min, Int.max] {
            #expect(!VFIOObstacle.groupShared(group: group, others: members).description.isEmpty)
        }
    }
}
