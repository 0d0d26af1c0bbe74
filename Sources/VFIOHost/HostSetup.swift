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
import CShims
import VFIO

/// What `vfioctl setup` looks at and changes on a host: the vfio-pci module, 2 MiB hugepages, the
/// IOMMU and the memlock limit, like SPDK's `scripts/setup.sh`. Reading never changes anything;
/// only `loadVFIOModule` and `reserveHugepages` do, and only when asked.
public struct HostSetup: Sendable {
    public let sysfsRoot: String
    public let procRoot: String

    public init(sysfsRoot: String = "/sys", procRoot: String = "/proc") {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
    }

    /// The state that decides whether VFIO can work here.
    public struct Report: Sendable {
        public var vfioModuleLoaded: Bool
        public var vfioDeviceNodePresent: Bool
        /// IOMMU units registered with the kernel (`/sys/class/iommu`); 0 means no IOMMU.
        public var iommuUnits: Int
        /// IOMMU groups (`/sys/kernel/iommu_groups`).
        public var iommuGroups: Int
        /// The kernel command line's IOMMU options (intel_iommu=, amd_iommu=, iommu=).
        public var iommuCommandLine: [String]
        /// vfio's no-IOMMU mode is enabled (unsafe).
        public var noIOMMUModeEnabled: Bool
        public var hugepagesTotal: Int
        public var hugepagesFree: Int
        public var memlockSoft: UInt64
        public var memlockHard: UInt64
    }

    public func report() -> Report {
        var soft: UInt64 = 0, hard: UInt64 = 0
        _ = shim_memlock_limit(&soft, &hard)
        let cmdline = (Sysfs.readText("\(procRoot)/cmdline") ?? "").split(separator: " ").map(String.init)
        return Report(
            vfioModuleLoaded: Sysfs.exists("\(sysfsRoot)/bus/pci/drivers/vfio-pci"),
            vfioDeviceNodePresent: Sysfs.exists("/dev/vfio/vfio"),
            iommuUnits: Sysfs.listDirectory("\(sysfsRoot)/class/iommu").count,
            iommuGroups: Sysfs.listDirectory("\(sysfsRoot)/kernel/iommu_groups").count,
            iommuCommandLine: cmdline.filter { $0.hasPrefix("intel_iommu=") || $0.hasPrefix("amd_iommu=") || $0.hasPrefix("iommu=") || $0.hasPrefix("iommu.") },
            noIOMMUModeEnabled: (Sysfs.readText("\(sysfsRoot)/module/vfio/parameters/enable_unsafe_noiommu_mode") ?? "N").hasPrefix("Y"),
            hugepagesTotal: Int(Sysfs.readText("\(sysfsRoot)/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") ?? "") ?? 0,
            hugepagesFree: Int(Sysfs.readText("\(sysfsRoot)/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") ?? "") ?? 0,
            memlockSoft: soft,
            memlockHard: hard
        )
    }

    /// `modprobe vfio-pci`. Loading a module binds nothing: devices move to vfio-pci only through
    /// `bind`.
    public func loadVFIOModule() throws(HostError) {
        if Sysfs.exists("\(sysfsRoot)/bus/pci/drivers/vfio-pci") { return }
        let status = Self.modprobe("vfio-pci", sysfsRoot: sysfsRoot)
        guard status == 0, Sysfs.exists("\(sysfsRoot)/bus/pci/drivers/vfio-pci") else {
            throw .vfio(.system(operation: "modprobe vfio-pci (exit status \(status); is the module installed for this kernel, and are you root?)", errno: EPERM))
        }
    }

    /// Sets the number of 2 MiB hugepages and returns how many the kernel actually reserved (it
    /// may give fewer when memory is fragmented).
    public func reserveHugepages(_ count: Int) throws(HostError) -> Int {
        let path = "\(sysfsRoot)/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
        try Self.writeText(path, "\(count)\n")
        return Int(Sysfs.readText(path) ?? "") ?? 0
    }

    // MARK: - Writing, shared by setup and binding

    /// Writes a sysfs attribute, mapping EACCES/EPERM/EROFS to `.permissionDenied`. `O_TRUNC`, as
    /// a shell's `echo >` does: sysfs ignores it, and a test's plain file then holds what the
    /// attribute would.
    static func writeText(_ path: String, _ text: String) throws(HostError) {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == EACCES || e == EPERM || e == EROFS { throw .vfio(.permissionDenied(path: path)) }
            throw .vfio(.system(operation: "open \(path)", errno: e))
        }
        defer { close(fd) }
        var utf8 = Array(text.utf8)
        let n = utf8.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == utf8.count else {
            throw .vfio(.system(operation: "write '\(text.split(separator: "\n").first ?? "")' to \(path)", errno: n < 0 ? errno : EIO))
        }
    }

    /// Creates (with its directory) or truncates a regular file and writes `text` (state files,
    /// not sysfs).
    static func writeTextCreating(_ path: String, _ text: String) throws(HostError) {
        var directory = ""
        for part in path.split(separator: "/").dropLast() {
            directory += "/" + part
            _ = mkdir(directory, 0o755)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .vfio(.system(operation: "create \(path)", errno: errno)) }
        defer { close(fd) }
        var utf8 = Array(text.utf8)
        let n = utf8.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == utf8.count else { throw .vfio(.system(operation: "write \(path)", errno: n < 0 ? errno : EIO)) }
    }

    /// `modprobe NAME`, only against the live `/sys`: a tree under another root (a test's fake
    /// sysfs) must never load a module into the running kernel. Returns the exit status (127 when
    /// it cannot start, 1 for another root).
    static func modprobe(_ module: String, sysfsRoot: String) -> Int32 {
        guard sysfsRoot == "/sys" else { return 1 }
        return run(["/sbin/modprobe", module])
    }

    /// Runs a program and waits for it; returns its exit status (127 when it cannot start).
    static func run(_ argv: [String]) -> Int32 {
        var pid: pid_t = 0
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        guard posix_spawn(&pid, argv[0], nil, nil, &cArgs, environ) == 0 else { return 127 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }
}
