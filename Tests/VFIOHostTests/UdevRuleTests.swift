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

/// The udev rules as shipped: the opt-in bind rule writes nothing itself (it runs the guarded
/// `vfioctl bind --udev`), and its example cannot match a boot disk.
@Suite struct UdevRuleTests {
    static let udev: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)     // Tests/VFIOHostTests/UdevRuleTests.swift
        return parts.joined(separator: "/") + "/udev"
    }()

    /// Rule lines, without comments and blank lines.
    static func rules(_ file: String) -> [Substring] {
        (Sysfs.readText("\(udev)/\(file)") ?? "").split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.allSatisfy(\.isWhitespace) }
    }

    @Test func bindRuleRunsTheGuardedHelperAndWritesNothingItself() throws {
        let lines = Self.rules("61-vfio-bind.rules")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(!line.contains("ATTR{driver_override}="), "the rule writes driver_override itself: \(line)")
            #expect(!line.contains("/bin/sh") && !line.contains("unbind") && !line.contains("drivers_probe"), "\(line)")
        }
        let runs = lines.filter { $0.contains("RUN") }
        #expect(runs.count == 1)
        #expect(runs.first?.contains("RUN+=\"/usr/local/bin/vfioctl bind --udev %k\"") == true, "\(runs)")
        #expect(runs.first?.contains("--force") == false)
    }

    @Test func bindRuleExampleIsNotAStorageController() throws {
        let text = Sysfs.readText("\(Self.udev)/61-vfio-bind.rules") ?? ""
        let example = try #require(text.split(separator: "\n").first { $0.hasPrefix("# ATTR{vendor}==") })
        #expect(example.contains("ATTR{vendor}==\"0x8086\", ATTR{device}==\"0x10d3\""), "\(example)")
        #expect(!text.split(separator: "\n").contains { $0.contains("0x1b36") && $0.contains("0x0010") && $0.contains("ENV{VFIO_PCI}=\"1\"") })
    }

    @Test func groupRuleSaysItCoversEveryGroupAndHowToNarrowIt() {
        let text = Sysfs.readText("\(Self.udev)/60-vfio.rules") ?? ""
        #expect(text.contains("EVERY IOMMU group and every function bound to vfio-pci,\n# including those bound for virtual machines"))
        #expect(text.contains("SUBSYSTEM==\"vfio\", KERNEL==\"12\", GROUP=\"vfio\""))
        #expect(text.contains("SUBSYSTEM==\"vfio-dev\", KERNELS==\"0000:01:00.0\", GROUP=\"vfio\""))
    }

    /// Both backends' nodes go to the vfio group, 0660: the container and group nodes, iommufd's
    /// /dev/iommu (a misc device named iommu) and the device cdevs (class vfio-dev, vfioN).
    @Test func accessRulesCoverTheContainerAndTheIOMMUFDNodesForTheVFIOGroupOnly() {
        let lines = Self.rules("60-vfio.rules")
        for match in ["SUBSYSTEM==\"misc\", KERNEL==\"vfio\"", "SUBSYSTEM==\"vfio\"", "SUBSYSTEM==\"misc\", KERNEL==\"iommu\"",
                      "SUBSYSTEM==\"vfio-dev\", KERNEL==\"vfio[0-9]*\""] {
            let line = lines.first { $0.hasPrefix(match + ",") }
            #expect(line?.hasSuffix("GROUP=\"vfio\", MODE=\"0660\"") == true, "no rule for \(match): \(lines)")
        }
        #expect(lines.allSatisfy { !$0.contains("MODE=\"0666\"") && !$0.contains("MODE=\"0606\"") }, "\(lines)")
    }
}
