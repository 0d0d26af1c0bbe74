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
import ArgumentParser
import VFIO
import VFIOHost

/// Parses BDF arguments, each error naming the bad one.
func parseAddresses(_ texts: [String]) throws(VFIOError) -> [PCIAddress] {
    var result: [PCIAddress] = []
    for text in texts { result.append(try PCIAddress(parsing: text)) }
    return result
}

/// The host `list`, `bind` and `unbind` look at: the live one, or, for tests, a fake tree under
/// `$VFIOCTL_HOST_ROOT` (its `sys`, `proc` and `dev`, and `run/vfioctl` for the state). Under
/// another root nothing reaches the running kernel: no module is loaded, no real node is opened.
enum HostRoots {
    static var root: String? { getenv("VFIOCTL_HOST_ROOT").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }

    static var discovery: PCIDiscovery {
        guard let root else { return PCIDiscovery() }
        return PCIDiscovery(sysfsRoot: root + "/sys", procRoot: root + "/proc", devRoot: root + "/dev", lookUpNames: false)
    }

    static var binding: DriverBinding {
        var discovery = discovery
        discovery.lookUpNames = false
        guard let root else { return DriverBinding(discovery: discovery) }
        return DriverBinding(discovery: discovery, stateDirectory: root + "/run/vfioctl")
    }
}

/// `vfioctl list`: every PCI function, and whether VFIO can take it. Read-only.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List PCI functions: ids and names, class, driver, IOMMU group, NUMA node, VFIO readiness.")

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(name: .customLong("nvme"), help: "Only NVMe controllers (class 01:08:02).")
    var nvmeOnly = false

    func run() throws {
        try reportingErrors {
            let discovery = HostRoots.discovery
            let backends = VFIOBackendSupport()
            var functions = try discovery.functions()
            if nvmeOnly { functions = functions.filter { $0.classCode == PCIClass.nvme } }
            var rows: [[String]] = []
            var objects: [JSON] = []
            for f in functions {
                let verdict = discovery.verdict(for: f)
                let next = nextStep(verdict)
                var status = verdict.isReady ? "ready" : verdict.obstacles.map(shortReason).joined(separator: ", ")
                if let next { status += " (\(next))" }
                rows.append([
                    f.address.description, hex4(f.vendorID) + ":" + hex4(f.deviceID),
                    [f.vendorName, f.deviceName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " "),
                    f.className ?? hex6(f.classCode), f.driver ?? "-", f.iommuGroup.map(String.init) ?? "-",
                    f.numaNode.map(String.init) ?? "-", status,
                ])
                objects.append(.object([
                    ("address", .string(f.address.description)),
                    ("vendor_id", .string(hex4(f.vendorID))), ("device_id", .string(hex4(f.deviceID))),
                    ("vendor", .optional(f.vendorName)), ("device", .optional(f.deviceName)),
                    ("class", .string(hex6(f.classCode))), ("class_name", .optional(f.className)),
                    ("driver", .optional(f.driver)), ("iommu_group", .optional(f.iommuGroup)),
                    ("numa_node", .optional(f.numaNode)),
                    ("bar_sizes", .array(f.barSizes.map { .uint($0) })),
                    ("vfio_ready", .bool(verdict.isReady)), ("can_bind", .bool(verdict.canBind)),
                    ("vfio_backend", .optional(f.driver == "vfio-pci" ? automaticBackend(for: f, backends) : nil)),
                    ("obstacles", .array(verdict.obstacles.map { .string($0.description) })),
                    ("next", .optional(next)),
                ]))
            }
            if json {
                print(JSON.array(objects).render())
            } else {
                printTable(["BDF", "ID", "NAME", "CLASS", "DRIVER", "GROUP", "NUMA", "VFIO"], rows)
                printBackendOffers(backends)
            }
        }
    }
}

/// The backend `--vfio-backend automatic` picks for a function bound to vfio-pci.
func automaticBackend(for f: PCIFunctionInfo, _ backends: VFIOBackendSupport) -> String {
    let noIOMMU = f.iommuGroup.map { !Sysfs.exists("\(backends.vfioDirectory)/\($0)") && Sysfs.exists("\(backends.vfioDirectory)/noiommu-\($0)") } ?? false
    return ((try? backends.choose(.automatic, for: f.address, noIOMMUGroup: noIOMMU)) ?? .container).rawValue
}

/// One line per VFIO backend: usable, or why not.
func printBackendOffers(_ backends: VFIOBackendSupport) {
    for offer in backends.offers() {
        let state = offer.unusableReason.map { "not usable: \($0)" } ?? "usable"
        print("VFIO backend \(offer.kind.rawValue):\(String(repeating: " ", count: max(1, 10 - offer.kind.rawValue.count)))\(state)")
    }
}

/// The command that moves a function on, where binding could work (`VFIOVerdict.toBind`): a host
/// bridge, a function without IOMMU or the disk under `/` gets no such advice.
func nextStep(_ verdict: VFIOVerdict) -> String? {
    verdict.toBind.isEmpty ? nil : "vfioctl bind " + verdict.toBind.map(\.description).joined(separator: " ")
}

/// `vfioctl bind`: hand functions to vfio-pci. Refuses devices the host is using unless forced.
struct Bind: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bind PCI functions to vfio-pci (via driver_override); the original driver is remembered.",
        discussion: """
            Nothing is written unless every check passes. Refused while the host uses the function: \
            a mounted filesystem (in any mount namespace we may read), swap, an LVM, dm-crypt or RAID \
            device on it, a process with its disk open, a disk the kernel holds exclusively, a disk \
            that carries a partition table or filesystem, an interface that is up, enabled SR-IOV \
            virtual functions. NVMe multipath heads count for each controller under them.
            """)

    @Argument(help: "PCI addresses, e.g. 0000:01:00.0")
    var devices: [String]

    @Flag(help: "Bind even though the host uses the device or its disk holds data (every in-use check is skipped; the IOMMU and group checks are not). Data on it may be lost.")
    var force = false

    @Flag(help: "Called from a udev rule (udev/61-vfio-bind.rules): every check runs, and a storage or network function without a driver yet is left alone, since its disks or interfaces cannot be checked.")
    var udev = false

    func run() throws {
        try reportingErrors {
            if udev && force { throw ValidationFailure("--udev never forces: a rule must not bind what the checks refuse; drop --force") }
            let policy = DriverBinding.Policy(force: force, fromUdev: udev)
            let results = try HostRoots.binding.bind(try parseAddresses(devices), policy: policy)
            for (address, outcome) in results {
                switch outcome {
                case .alreadyBound: print("\(address): already bound to vfio-pci")
                case .bound(let previous): print("\(address): bound to vfio-pci (was \(previous ?? "unbound"))")
                }
            }
        }
    }
}

/// `vfioctl unbind`: give functions back to the kernel.
struct Unbind: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Release PCI functions from vfio-pci and restore their original (or the given) driver.")

    @Argument(help: "PCI addresses, e.g. 0000:01:00.0")
    var devices: [String]

    @Option(help: "Driver to bind afterwards (default: the one it had before `bind`, else the kernel's choice).")
    var driver: String?

    func run() throws {
        try reportingErrors {
            for (address, now) in try HostRoots.binding.unbind(try parseAddresses(devices), driver: driver) {
                print("\(address): \(now.map { "bound to \($0)" } ?? "unbound")")
            }
        }
    }
}

/// A few words per obstacle for the table; `--json` and `bind` give the whole sentence.
func shortReason(_ obstacle: VFIOObstacle) -> String {
    switch obstacle {
    case .noIOMMUGroup: return "no IOMMU"
    case .notBindable: return "bridge"
    case .notBoundToVFIO(let driver): return driver.map { "bound to \($0)" } ?? "unbound"
    case .groupShared(let group, _): return "group \(group) shared"
    case .inUse(let use):
        switch use {
        case .mountedFilesystem(_, let mountPoint, _): return "in use (\(mountPoint) mounted)"
        case .mountedInOtherNamespace(_, let mountPoint, _, let pid, _): return "in use (\(mountPoint) mounted for pid \(pid))"
        case .activeSwap: return "in use (swap)"
        case .heldBy(_, let holder, _): return "in use (held by \(holder))"
        case .openedByProcess(let device, let pid, _): return "in use (\(device) open in pid \(pid))"
        case .exclusivelyOpen(let device): return "in use (\(device) busy)"
        case .carriesData(let device, _): return "data on \(device)"
        case .uncheckable(let device, _): return "\(device) unchecked"
        case .networkInterfaceUp(let interface, _): return "in use (\(interface) up)"
        case .virtualFunctionsEnabled(let count, _): return "\(count) VFs enabled"
        }
    }
}

func hex4(_ v: UInt16) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 4 - s.count) + s }
func hex6(_ v: UInt32) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: max(0, 6 - s.count)) + s }
