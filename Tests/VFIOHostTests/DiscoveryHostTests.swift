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
import Testing
import VFIO
import VFIOTestSupport
@testable import VFIOHost

/// Discovery against this machine's real devices, read-only. Expectations come from reading sysfs
/// directly in the test, not through the library.
@Suite struct DiscoveryHostTests {
    static let devices = "/sys/bus/pci/devices"
    static var hasPCI: Bool { !Sysfs.listDirectory(devices).isEmpty }

    /// The PCI function under the block device that holds `/`, found through `stat` and
    /// `/sys/dev/block/MAJ:MIN`, or nil when `/` is not on a PCI block device.
    static var rootFunction: PCIAddress? {
        var info = stat()
        guard stat("/", &info) == 0 else { return nil }
        let major = (info.st_dev >> 8) & 0xfff | (info.st_dev >> 32) & ~0xfff
        let minor = info.st_dev & 0xff | (info.st_dev >> 12) & ~0xff
        guard let path = Sysfs.realPath("/sys/dev/block/\(major):\(minor)") else { return nil }
        return path.split(separator: "/").compactMap { try? PCIAddress(parsing: String($0)) }.last
    }

    /// Interfaces that are up, with the PCI function under them.
    static var upInterfaces: [(String, PCIAddress)] {
        Sysfs.listDirectory("/sys/class/net").compactMap { name in
            guard Sysfs.readText("/sys/class/net/\(name)/operstate") == "up",
                  let path = Sysfs.realPath("/sys/class/net/\(name)/device"),
                  let address = path.split(separator: "/").compactMap({ try? PCIAddress(parsing: String($0)) }).last
            else { return nil }
            return (name, address)
        }
    }

    @Test(.enabled(if: hasPCI, "no PCI devices in /sys"))
    func listsEveryFunctionInSysfs() throws {
        let listed = try PCIDiscovery().functions().map(\.address.description)
        #expect(listed == Sysfs.listDirectory(Self.devices).sorted())
    }

    @Test(.enabled(if: hasPCI, "no PCI devices in /sys"))
    func fieldsMatchWhatSysfsSays() throws {
        for info in try PCIDiscovery().functions() {
            let path = "\(Self.devices)/\(info.address)"
            #expect(Sysfs.readText("\(path)/vendor") == "0x" + hex4(info.vendorID), "\(info.address) vendor")
            #expect(Sysfs.readText("\(path)/device") == "0x" + hex4(info.deviceID), "\(info.address) device")
            #expect(UInt32(Sysfs.readText("\(path)/class")!.dropFirst(2), radix: 16) == info.classCode, "\(info.address) class")
            #expect(info.driver == linkBasename("\(path)/driver"), "\(info.address) driver")
            #expect(info.iommuGroup == linkBasename("\(path)/iommu_group").flatMap { Int($0) }, "\(info.address) group")
            let numa = Int(Sysfs.readText("\(path)/numa_node") ?? "-1") ?? -1
            #expect(info.numaNode == (numa >= 0 ? numa : nil), "\(info.address) NUMA")
        }
    }

    @Test(.enabled(if: hasPCI, "no PCI devices in /sys"))
    func libpciAndSysfsAttributesAgree() throws {
        let viaLibpci = try PCIDiscovery(lookUpNames: false, usesLibpci: true).functions()
        let viaSysfs = try PCIDiscovery(lookUpNames: false, usesLibpci: false).functions()
        #expect(viaLibpci == viaSysfs)
        #expect(viaLibpci.contains { !$0.bars.isEmpty }, "no function has a BAR: sizes were not read")
    }

    @Test(.enabled(if: hasPCI && pathExists("/usr/share/misc/pci.ids"), "no PCI devices or no pci.ids"))
    func vendorNamesComeFromPciIds() throws {
        let functions = try PCIDiscovery().functions()
        #expect(functions.contains { $0.vendorName?.isEmpty == false }, "no vendor name resolved")
        let one = try PCIDiscovery().function(at: functions[0].address)
        #expect(one.vendorName == functions[0].vendorName)
    }

    @Test(.enabled(if: hasPCI, "no PCI devices in /sys"))
    func noHostFunctionIsReadyUnlessBoundToVFIO() throws {
        let discovery = PCIDiscovery(lookUpNames: false)
        for info in try discovery.functions() {
            let verdict = try discovery.verdict(for: info.address)
            if info.driver != "vfio-pci" {
                #expect(verdict.obstacles.contains(.notBoundToVFIO(driver: info.driver)), "\(verdict)")
                #expect(!verdict.isReady)
            }
            if info.iommuGroup == nil {
                #expect(verdict.obstacles.contains(.noIOMMUGroup), "\(verdict)")
                #expect(!verdict.canBind)
            }
        }
    }

    @Test(.enabled(if: rootFunction != nil, "/ is not on a PCI block device here"))
    func functionHoldingTheRootFilesystemIsInUse() throws {
        let root = try #require(Self.rootFunction)
        let uses = PCIDiscovery().usage(of: root)
        #expect(uses.contains { if case .mountedFilesystem(_, "/", _) = $0 { true } else { false } }, "\(uses)")
        #expect(try !PCIDiscovery().verdict(for: root).canBind)
    }

    @Test(.enabled(if: !upInterfaces.isEmpty, "no PCI network interface is up here"))
    func functionWithAnUpInterfaceIsInUse() {
        for (name, address) in Self.upInterfaces {
            #expect(PCIDiscovery().usage(of: address).contains(.networkInterfaceUp(interface: name, operstate: "up")), "\(name) on \(address)")
        }
    }

    func hex4(_ v: UInt16) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}
