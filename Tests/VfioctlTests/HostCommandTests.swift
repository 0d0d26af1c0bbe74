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

import Foundation
import Testing
import VFIO
import VFIOHost
import VFIOTestSupport

/// `vfioctl list`, `bind` and the message for a device VFIO cannot open, as a user runs them:
/// against fake trees (VFIOCTL_HOST_ROOT), and read-only against this machine's own devices.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct HostCommandTests {
    // In PCI domain 7ff0, which no host has: a binary that ignored VFIOCTL_HOST_ROOT would find
    // no such device on the real machine, never touch one.
    static let bridge = PCIAddress(domain: 0x7ff0, bus: 0, device: 0, function: 0)
    static let disk = PCIAddress(domain: 0x7ff0, bus: 1, device: 0, function: 0)      // nvme, GPT on nvme0n1
    static let nic = PCIAddress(domain: 0x7ff0, bus: 2, device: 0, function: 0)       // e1000e, interface down, group 8
    static let noIOMMU = PCIAddress(domain: 0x7ff0, bus: 3, device: 0, function: 0)   // ahci, no group
    static let blank = PCIAddress(domain: 0x7ff0, bus: 4, device: 0, function: 0)     // unbound NVMe, group 9

    static func tree() -> FakeTree {
        let t = FakeTree()
        t.pciFunction(bridge, vendor: "0x8086", device: "0x29c0", cls: "0x060000", driver: nil, group: 1, headerType: 0)
        let nvme = t.pciFunction(disk, vendor: "0x144d", device: "0xa808", cls: "0x010802", driver: "nvme", group: 7, headerType: 0)
        var gpt = [UInt8](repeating: 0, count: 1024)
        gpt.replaceSubrange(512..<520, with: Array("EFI PART".utf8))
        t.blockDevice("nvme0n1", at: "\(nvme)/nvme/nvme0/nvme0n1", dev: "259:0", contents: gpt)
        let e1000e = t.pciFunction(nic, vendor: "0x8086", device: "0x10d3", cls: "0x020000", driver: "e1000e", group: 8, headerType: 0)
        t.netInterface("eth1", at: "\(e1000e)/net/eth1", operstate: "down", flags: "0x1002")
        t.pciFunction(noIOMMU, vendor: "0x8086", device: "0x2922", cls: "0x010601", driver: "ahci", group: nil, headerType: 0)
        t.pciFunction(blank, vendor: "0x1b36", device: "0x0010", cls: "0x010802", driver: nil, group: 9, headerType: 0)
        t.directory("sys/bus/pci/drivers/vfio-pci")
        t.file("sys/bus/pci/drivers/nvme/unbind", "")
        t.file("sys/bus/pci/drivers_probe", "")
        t.file("proc/self/mountinfo", "22 1 254:0 / / rw - ext4 /dev/vdz rw\n")
        return t
    }

    static func run(_ t: FakeTree, _ arguments: [String]) throws -> Run {
        try vfioctl(arguments, environment: ["VFIOCTL_HOST_ROOT": t.root])
    }

    // MARK: - list: advice to bind only where binding could work

    @Test func listSuggestsBindOnlyWhereBindingCouldWork() throws {
        let t = Self.tree()
        let r = try Self.run(t, ["list", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let objects = try #require(try JSONSerialization.jsonObject(with: r.output) as? [[String: Any]])
        var next: [String: String] = [:]
        for object in objects {
            let address = try #require(object["address"] as? String)
            next[address] = object["next"] as? String
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            if address != Self.nic.description && address != Self.blank.description {
                #expect(!text.contains("vfioctl bind") && !text.contains("bind it to vfio-pci"), "\(address): \(text)")
            }
        }
        #expect(next == [Self.nic.description: "vfioctl bind \(Self.nic)", Self.blank.description: "vfioctl bind \(Self.blank)"])
        let table = try Self.run(t, ["list"])
        let rows = table.stdout.split(separator: "\n")
        #expect(rows.first { $0.hasPrefix(Self.bridge.description) }?.contains("bridge") == true, "\(table.stdout)")
        #expect(rows.filter { $0.contains("(vfioctl bind ") }.count == 2, "\(table.stdout)")
    }

    /// On this machine: a bridge, a function without IOMMU group, or one the host uses is never
    /// told to bind (vfioctl used to say "run: vfioctl bind" for the host bridge).
    @Test func listOnThisMachineNeverSuggestsAHopelessBind() throws {
        let r = try vfioctl(["list", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let objects = try #require(try JSONSerialization.jsonObject(with: r.output) as? [[String: Any]])
        let discovery = PCIDiscovery(lookUpNames: false)
        for object in objects {
            let address = try PCIAddress(parsing: try #require(object["address"] as? String))
            let info = try discovery.function(at: address)
            let hopeless = info.iommuGroup == nil || info.classCode >> 16 == 0x06 || !discovery.usage(of: address).isEmpty
            guard hopeless else { continue }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            #expect(!text.contains("vfioctl bind"), "\(address): \(text)")
        }
    }

    // MARK: - bind: one line, the override named, nothing written

    @Test func bindRefusesADiskWithAPartitionTableAndNamesForce() throws {
        let t = Self.tree()
        let override = "\(t.sys)/bus/pci/devices/\(Self.disk)/driver_override"
        let r = try Self.run(t, ["bind", Self.disk.description])
        #expect(r.status == 1)
        #expect(r.stderrLines == ["vfioctl: refusing to touch \(Self.disk): /dev/nvme0n1 carries a GPT partition table; wipe it (wipefs -a) if the data is not needed, or pass --force if you are sure"])
        #expect(Sysfs.readText(override) == "(null)" && Sysfs.readText("\(t.sys)/bus/pci/drivers/nvme/unbind") == "")
    }

    @Test func bindRefusesABridgeAndAFunctionWithoutIOMMU() throws {
        let t = Self.tree()
        let bridge = try Self.run(t, ["bind", "--force", Self.bridge.description])
        #expect(bridge.status == 1)
        #expect(bridge.stderrLines.count == 1 && bridge.stderr.hasPrefix("vfioctl: refusing to bind \(Self.bridge): it is a bridge"), "\(bridge.stderr)")
        let ahci = try Self.run(t, ["bind", Self.noIOMMU.description])
        #expect(ahci.status == 1)
        #expect(ahci.stderrLines.count == 1 && ahci.stderr.contains("no IOMMU group"), "\(ahci.stderr)")
    }

    @Test func udevBindNeverForcesAndLeavesAnUncheckableDiskAlone() throws {
        let t = Self.tree()
        let forced = try Self.run(t, ["bind", "--udev", "--force", Self.blank.description])
        #expect(forced.status == 1 && forced.stderrLines.count == 1 && forced.stderr.contains("--udev never forces"), "\(forced.stderr)")
        let r = try Self.run(t, ["bind", "--udev", Self.blank.description])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("vfioctl: not binding \(Self.blank) from udev: it is an NVMe controller [1b36:0010] without a driver yet, so its disks cannot be checked"), "\(r.stderr)")
        #expect(r.stderr.hasSuffix("run: vfioctl bind \(Self.blank)\n"), "\(r.stderr)")
        #expect(Sysfs.readText("\(t.sys)/bus/pci/devices/\(Self.blank)/driver_override") == "(null)")
    }

    // MARK: - A device VFIO cannot open: what it is, who holds it, what it would need

    /// The function under `/` on this machine, when it has no IOMMU group (the IOMMU is off),
    /// as on a cloud VM whose disk is virtio.
    static var rootFunctionWithoutIOMMU: PCIFunctionInfo? {
        let discovery = PCIDiscovery(lookUpNames: false)
        return (try? discovery.functions())?.first { info in
            info.iommuGroup == nil && discovery.usage(of: info.address).contains {
                if case .mountedFilesystem(_, "/", _) = $0 { true } else { false }
            }
        }
    }

    @Test(.enabled(if: rootFunctionWithoutIOMMU != nil, "no function here holds / without an IOMMU group"))
    func openingTheRootDiskSaysWhatItIsWhoHoldsItAndWhatItWouldNeed() throws {
        let info = try #require(Self.rootFunctionWithoutIOMMU)
        let driver = try #require(info.driver)
        let r = try vfioctl(["nvme", "identify", "--device", info.address.description])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1, "\(r.stderr)")
        let line = r.stderr
        #expect(line.hasPrefix("vfioctl: \(info.address) is a"), "\(line)")
        #expect(line.contains("[\(hex4(info.vendorID)):\(hex4(info.deviceID))]") && line.contains("driven by \(driver)"), "\(line)")
        #expect(line.contains("it backs / (/dev/"), "\(line)")
        #expect(line.contains("the IOMMU is off") && line.contains("it would need: the IOMMU on"), "\(line)")
        #expect(line.contains("then vfioctl bind \(info.address)"), "\(line)")
        #expect(PCIDiscovery(lookUpNames: false).driver(of: info.address) == driver)
    }

    func hex4(_ v: UInt16) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}
