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

import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// A PCI function that appeared or went away since the last look: a hot-add or hot-remove, a
/// rescan, SR-IOV virtual functions being created or destroyed.
public enum PCIChange: Hashable, Sendable, CustomStringConvertible {
    case added(PCIAddress)
    case removed(PCIAddress)

    public var address: PCIAddress {
        switch self {
        case .added(let address), .removed(let address): address
        }
    }

    public var description: String {
        switch self {
        case .added(let address): "added \(address)"
        case .removed(let address): "removed \(address)"
        }
    }
}

/// Learns of PCI functions appearing and disappearing, so that a long-running program can take
/// a hot-added function (bind it with `DriverBinding` or `vfioctl bind`, then open a
/// `VFIODevice`) without restarting, and can tell that one it used is gone from the kernel.
///
/// It polls sysfs (`bus/pci/devices`) rather than listening on udev's netlink socket: one
/// directory listing and one `stat` per function per poll, no privilege, no socket that a
/// container may lack, and it works unchanged against a fake tree (`sysfsRoot`), which is how it
/// is tested. A function removed and added again between two polls is still reported (removed,
/// then added), because each is remembered with its sysfs directory's inode, which the kernel
/// (kernfs) never hands straight back to a new directory. Read-only: it never writes sysfs.
///
/// Owned by one thread at a time (a value; `poll` is `mutating`).
public struct PCIWatcher: Sendable {
    public let sysfsRoot: String
    /// The functions present at the last poll (or at `init`), each with its directory's inode.
    var present: [PCIAddress: UInt64]

    /// Starts from what is present now: only later changes are reported.
    public init(sysfsRoot: String = "/sys") {
        self.sysfsRoot = sysfsRoot
        present = Self.scan(sysfsRoot)
    }

    /// The functions present at the last poll, sorted by address.
    public var functions: [PCIAddress] { present.keys.sorted() }

    /// What changed since the last poll (removals first, then additions, each sorted by
    /// address); empty when nothing did.
    public mutating func poll() -> [PCIChange] {
        let now = Self.scan(sysfsRoot)
        var removed: [PCIAddress] = []
        var added: [PCIAddress] = []
        for (address, inode) in present where now[address] != inode { removed.append(address) }
        for (address, inode) in now where present[address] != inode { added.append(address) }
        present = now
        return removed.sorted().map { .removed($0) } + added.sorted().map { .added($0) }
    }

    /// Polls every `intervalMilliseconds` until something changes or `timeoutMilliseconds` pass
    /// (then returns what the last poll found: empty). `shouldStop` is asked between polls, so a
    /// signal handler's flag can end the wait early.
    public mutating func waitForChanges(
        timeoutMilliseconds: Int, intervalMilliseconds: Int = 100, shouldStop: () -> Bool = { false }
    ) -> [PCIChange] {
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        let interval = UInt32(max(1, min(intervalMilliseconds, 10_000)) * 1000)
        while true {
            let changes = poll()
            if !changes.isEmpty || deadline.hasPassed || shouldStop() { return changes }
            _ = usleep(interval)
        }
    }

    /// Every function under `bus/pci/devices` with the inode of the directory its link leads to.
    static func scan(_ sysfsRoot: String) -> [PCIAddress: UInt64] {
        let directory = "\(sysfsRoot)/bus/pci/devices"
        var result: [PCIAddress: UInt64] = [:]
        for name in Sysfs.listDirectory(directory) {
            guard let address = try? PCIAddress(parsing: name) else { continue }
            var info = stat()
            // Gone between the listing and here: not present.
            guard stat("\(directory)/\(name)", &info) == 0 else { continue }
            result[address] = UInt64(info.st_ino)
        }
        return result
    }
}
