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

import Dispatch
import Foundation
import Synchronization
import Testing
import VFIO
import VFIOHost
import VFIOTestSupport

/// `vfioctl watch` on a fake tree (VFIOCTL_HOST_ROOT) while functions come and go (issue 17).
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct WatchCommandTests {
    static let hotplugged = PCIAddress(domain: 0x7ff0, bus: 5, device: 0, function: 0)

    @Test func watchPrintsAFunctionThatAppearsAndOneThatGoes() throws {
        let t = HostCommandTests.tree()
        // The function comes and goes every 200 ms until the watcher has printed two lines, so
        // the test does not depend on when the process took its first look.
        let done = Atomic<Bool>(false)
        nonisolated(unsafe) let shared = t
        let toggler = DispatchQueue(label: "toggler")
        @Sendable func toggle(_ present: Bool) {
            guard !done.load(ordering: .acquiring) else { return }
            if present {
                unlink("\(shared.sys)/bus/pci/devices/\(Self.hotplugged)")
                unlink("\(shared.sys)/kernel/iommu_groups/9/devices/\(Self.hotplugged)")
                FakeTree.removeTree("\(shared.sys)/devices/pci0000:00/\(Self.hotplugged)")
            } else {
                shared.pciFunction(Self.hotplugged, vendor: "0x1b36", device: "0x0010", cls: "0x010802", driver: "nvme", group: 9)
            }
            toggler.asyncAfter(deadline: .now() + .milliseconds(200)) { toggle(!present) }
        }
        toggler.async { toggle(false) }
        let r = try HostCommandTests.run(t, ["watch", "--time", "20s", "--count", "2", "--interval", "20ms"])
        done.store(true, ordering: .releasing)
        toggler.sync {}
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let added = "added \(Self.hotplugged) 1b36:0010 010802 nvme"
        let removed = "removed \(Self.hotplugged)"
        #expect(lines == [added, removed] || lines == [removed, added], "\(r.stdout)")
    }

    @Test func watchRefusesABadDurationInOneLine() throws {
        let r = try HostCommandTests.run(HostCommandTests.tree(), ["watch", "--time", "soon"])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1 && r.stderr.contains("--time 'soon' is not a duration"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }
}
