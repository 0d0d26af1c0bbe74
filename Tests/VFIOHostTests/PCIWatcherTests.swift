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
#if canImport(Glibc)
import Glibc
#endif
import Testing
import VFIO
import VFIOTestSupport
import VFIOHost

/// Hot-add and hot-remove seen through a fake sysfs tree (issue 17): what `PCIWatcher` reports
/// and what discovery (`vfioctl list`) then shows.
@Suite struct PCIWatcherTests {
    static let boot = PCIAddress(bus: 1, device: 0, function: 0)
    static let hotAdded = PCIAddress(bus: 2, device: 0, function: 0)

    static func addNVMe(_ tree: FakeTree, _ address: PCIAddress) {
        _ = tree.pciFunction(address, vendor: "0x1b36", device: "0x0010", cls: "0x010802", driver: "nvme", group: 7)
    }

    /// What the kernel's removal leaves: no device directory, no bus or IOMMU group link.
    static func remove(_ tree: FakeTree, _ address: PCIAddress) {
        unlink("\(tree.sys)/bus/pci/devices/\(address)")
        unlink("\(tree.sys)/kernel/iommu_groups/7/devices/\(address)")
        FakeTree.removeTree("\(tree.sys)/devices/pci0000:00/\(address)")
    }

    static func tree() -> FakeTree {
        let tree = FakeTree()
        addNVMe(tree, boot)
        return tree
    }

    @Test func functionsPresentAtTheStartAreNotReported() {
        let tree = Self.tree()
        var watcher = PCIWatcher(sysfsRoot: tree.sys)
        #expect(watcher.functions == [Self.boot])
        #expect(watcher.poll().isEmpty)
    }

    @Test func hotAddedFunctionIsReportedOnceAndDiscoveryListsIt() throws {
        let tree = Self.tree()
        var watcher = PCIWatcher(sysfsRoot: tree.sys)
        Self.addNVMe(tree, Self.hotAdded)
        #expect(watcher.poll() == [.added(Self.hotAdded)])
        #expect(watcher.poll().isEmpty)
        #expect(watcher.functions == [Self.boot, Self.hotAdded])
        let discovery = PCIDiscovery(sysfsRoot: tree.sys, procRoot: tree.proc, devRoot: tree.dev, lookUpNames: false)
        let listed = try discovery.functions().map(\.address)
        #expect(listed.contains(Self.hotAdded))
        #expect(try discovery.function(at: Self.hotAdded).driver == "nvme")
    }

    @Test func removedFunctionIsReported() {
        let tree = Self.tree()
        Self.addNVMe(tree, Self.hotAdded)
        var watcher = PCIWatcher(sysfsRoot: tree.sys)
        Self.remove(tree, Self.boot)
        #expect(watcher.poll() == [.removed(Self.boot)])
        #expect(watcher.functions == [Self.hotAdded])
        #expect(watcher.poll().isEmpty)
    }

    @Test func functionReplacedBetweenTwoPollsIsReportedRemovedThenAdded() {
        let tree = Self.tree()
        var watcher = PCIWatcher(sysfsRoot: tree.sys)
        // Held open, the old directory's inode cannot be handed to the new one (kernfs never
        // reuses one at once; a test file system might).
        let old = open("\(tree.sys)/devices/pci0000:00/\(Self.boot)", O_RDONLY | O_DIRECTORY)
        #expect(old >= 0)
        defer { close(old) }
        Self.remove(tree, Self.boot)
        Self.addNVMe(tree, Self.boot)
        #expect(watcher.poll() == [.removed(Self.boot), .added(Self.boot)])
        #expect(watcher.poll().isEmpty)
    }

    @Test func waitForChangesReturnsWhenAFunctionAppears() {
        let tree = Self.tree()
        var watcher = PCIWatcher(sysfsRoot: tree.sys)
        // The other thread only adds files; this one only reads the tree after it started.
        nonisolated(unsafe) let shared = tree
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { Self.addNVMe(shared, Self.hotAdded) }
        let start = MonotonicClock.nanoseconds()
        let changes = watcher.waitForChanges(timeoutMilliseconds: 10_000, intervalMilliseconds: 10)
        let ms = (MonotonicClock.nanoseconds() - start) / 1_000_000
        #expect(changes == [.added(Self.hotAdded)])
        #expect(ms < 5_000, "took \(ms) ms")
    }

    @Test func waitForChangesGivesUpEmptyAtItsTimeout() {
        let tree = Self.tree()
        var watcher = PCIWatcher(sysfsRoot: tree.sys)
        let start = MonotonicClock.nanoseconds()
        #expect(watcher.waitForChanges(timeoutMilliseconds: 100, intervalMilliseconds: 10).isEmpty)
        #expect((MonotonicClock.nanoseconds() - start) / 1_000_000 >= 100)
    }
}
