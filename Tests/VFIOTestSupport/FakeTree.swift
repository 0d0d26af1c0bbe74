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
import VFIO

/// A fake sysfs/proc/dev tree in a fresh temporary directory, removed when the test ends: the
/// host's layout (attributes, symlinks, `/proc` tables, device nodes as plain files) without
/// touching the host.
public final class FakeTree {
    public let root: String

    public init() {
        var template = Array("/tmp/vfio-tests.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        root = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { Self.removeTree(root) }

    public var sys: String { root + "/sys" }
    public var proc: String { root + "/proc" }
    public var dev: String { root + "/dev" }

    public func directory(_ path: String) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            _ = mkdir(root + current, 0o755)
        }
    }

    public func file(_ path: String, _ contents: String) {
        file(path, bytes: Array(contents.utf8))
    }

    /// A file with binary contents (a disk image's first sectors).
    public func file(_ path: String, bytes: [UInt8]) {
        directory(String(path.split(separator: "/").dropLast().joined(separator: "/")))
        let fd = open(root + "/" + path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// A symlink at `path` pointing to `target` (relative targets as sysfs has them).
    public func link(_ path: String, to target: String) {
        directory(String(path.split(separator: "/").dropLast().joined(separator: "/")))
        precondition(symlink(target, root + "/" + path) == 0, "symlink \(path) failed")
    }

    public func exists(_ path: String) -> Bool { access(root + "/" + path, F_OK) == 0 }

    /// Removes a tree this test made (never follows symlinks).
    public static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in Sysfs.listDirectory(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// The last path component a symlink points to, read independently of the library.
public func linkBasename(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    let target = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return target.split(separator: "/").last.map(String.init)
}

public func pathExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

// MARK: - The sysfs layout of PCI functions, block devices and interfaces

extension FakeTree {
    /// `sys/devices/pci0000:00/<BDF>` with its attributes, the `bus/pci/devices` link to it, the
    /// `driver` link (and the driver's directory), the `iommu_group` link and group membership.
    /// Returns the function's directory (relative to the root).
    @discardableResult
    public func pciFunction(_ a: PCIAddress, vendor: String, device: String, cls: String, driver: String?, group: Int?,
                            numa: String = "-1", resource: String = "", override: String = "(null)",
                            headerType: UInt8? = nil) -> String {
        let path = "sys/devices/pci0000:00/\(a)"
        file("\(path)/vendor", vendor + "\n")
        file("\(path)/device", device + "\n")
        file("\(path)/class", cls + "\n")
        file("\(path)/numa_node", numa + "\n")
        file("\(path)/resource", resource)
        file("\(path)/driver_override", override + "\n")
        if let headerType { file("\(path)/config", bytes: [UInt8](repeating: 0, count: 0x0e) + [headerType] + [UInt8](repeating: 0, count: 49)) }
        link("sys/bus/pci/devices/\(a)", to: "../../../devices/pci0000:00/\(a)")
        if let driver {
            directory("sys/bus/pci/drivers/\(driver)")
            link("\(path)/driver", to: "../../../bus/pci/drivers/\(driver)")
        }
        if let group {
            directory("sys/kernel/iommu_groups/\(group)/devices")
            link("\(path)/iommu_group", to: "../../../kernel/iommu_groups/\(group)")
            link("sys/kernel/iommu_groups/\(group)/devices/\(a)", to: "../../../../devices/pci0000:00/\(a)")
        }
        return path
    }

    /// A block device at `path` (under `sys/`), its `dev` number, an empty `holders/`, its
    /// `/sys/class/block` link and, unless hidden, its node `dev/<name>` holding `contents`.
    public func blockDevice(_ name: String, at path: String, dev number: String, partition: Int? = nil,
                            hidden: Bool = false, contents: [UInt8] = []) {
        file("\(path)/dev", number + "\n")
        directory("\(path)/holders")
        if let partition { file("\(path)/partition", "\(partition)\n") }
        if hidden { file("\(path)/hidden", "1\n") }
        link("sys/class/block/\(name)", to: "../../" + path.dropFirst("sys/".count))
        if !hidden { file("dev/\(name)", bytes: contents) }
    }

    /// A network interface at `path` (under `sys/`) and its `/sys/class/net` link.
    public func netInterface(_ name: String, at path: String, operstate: String, flags: String) {
        file("\(path)/operstate", operstate + "\n")
        file("\(path)/flags", flags + "\n")
        link("sys/class/net/\(name)", to: "../../" + path.dropFirst("sys/".count))
    }
}
