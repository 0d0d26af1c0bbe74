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
import VFIOTestSupport
@testable import VFIO

/// `VFIODevice` and `VFIOGroup` against a fake sysfs/dev tree: the checks made before any VFIO
/// node is touched, each failing with the error that names the next step.
@Suite struct OpeningFakeTreeTests {
    static let nvme = PCIAddress(bus: 1, device: 0, function: 0)       // nvme, group 7
    static let ready = PCIAddress(bus: 3, device: 0, function: 0)      // vfio-pci, group 9
    static let ahci = PCIAddress(bus: 4, device: 0, function: 0)       // no IOMMU group

    static func makeTree() -> FakeTree {
        let t = FakeTree()
        t.pciFunction(nvme, vendor: "0x144d", device: "0xa808", cls: "0x010802", driver: "nvme", group: 7, numa: "0")
        t.pciFunction(ready, vendor: "0x1b36", device: "0x0010", cls: "0x010802", driver: "vfio-pci", group: 9, override: "vfio-pci")
        t.pciFunction(ahci, vendor: "0x8086", device: "0x2922", cls: "0x010601", driver: "ahci", group: nil)
        return t
    }

    func open(_ t: FakeTree, _ address: PCIAddress, allowNoIOMMU: Bool = false) throws(VFIOError) -> VFIODevice {
        try VFIODevice(address: address, options: .init(allowNoIOMMU: allowNoIOMMU, sysfsRoot: t.sys, vfioDirectory: t.dev + "/vfio"))
    }

    @Test func sysfsNodeReadsDriverGroupAndNUMANode() {
        let t = Self.makeTree()
        let node = PCISysfsNode(address: Self.nvme, sysfsRoot: t.sys)
        #expect(node.exists && node.driver == "nvme" && node.iommuGroup == 7 && node.numaNode == 0)
        let ahci = PCISysfsNode(address: Self.ahci, sysfsRoot: t.sys)
        #expect(ahci.iommuGroup == nil && ahci.numaNode == nil)
        #expect(PCISysfsNode.members(ofGroup: 9, sysfsRoot: t.sys) == [IOMMUGroupMember(address: Self.ready, driver: "vfio-pci")])
        #expect(!PCISysfsNode(address: PCIAddress(bus: 9, device: 0, function: 0), sysfsRoot: t.sys).exists)
    }

    @Test func openingAFunctionBoundElsewhereNamesItsDriver() {
        let t = Self.makeTree()
        #expect(throws: VFIOError.notBoundToVFIO(Self.nvme, driver: "nvme")) { try open(t, Self.nvme) }
    }

    @Test func openingAFunctionWithoutIOMMUGroupSaysNoIOMMU() {
        let t = Self.makeTree()
        #expect(throws: VFIOError.noIOMMU(Self.ahci)) { try open(t, Self.ahci) }
        // With no-IOMMU mode allowed, binding is the next step, so that is what it says.
        #expect(throws: VFIOError.notBoundToVFIO(Self.ahci, driver: "ahci")) { try open(t, Self.ahci, allowNoIOMMU: true) }
    }

    @Test func openingWithoutTheVFIOModuleSaysToLoadIt() {
        let t = Self.makeTree()
        #expect(throws: VFIOError.vfioNotLoaded) { try open(t, Self.ready) }
    }

    @Test func openingAMissingFunctionIsNoSuchDevice() {
        let t = Self.makeTree()
        let missing = PCIAddress(bus: 9, device: 0, function: 0)
        #expect(throws: VFIOError.noSuchDevice(missing)) { try open(t, missing) }
    }

    @Test func noIOMMUGroupNodeNeedsTheExplicitOptIn() {
        let t = Self.makeTree()
        t.file("dev/vfio/noiommu-9", "")
        #expect(throws: VFIOError.noIOMMUModeNotAllowed) {
            try VFIOGroup(number: 9, vfioDirectory: t.dev + "/vfio", allowNoIOMMU: false, sysfsRoot: t.sys)
        }
    }

    @Test func missingGroupNodeWithoutContainerNodeSaysToLoadVFIO() {
        let t = Self.makeTree()
        t.directory("dev/vfio")
        #expect(throws: VFIOError.vfioNotLoaded) {
            try VFIOGroup(number: 9, vfioDirectory: t.dev + "/vfio", allowNoIOMMU: false, sysfsRoot: t.sys)
        }
        #expect(throws: VFIOError.vfioNotLoaded) { try VFIOContainer(vfioDirectory: t.dev + "/vfio") }
    }
}
