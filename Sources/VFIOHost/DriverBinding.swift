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

/// Moves PCI functions to vfio-pci and back, through `driver_override` and `drivers_probe`.
///
/// Every check happens before anything is written, so a refused request changes nothing: the
/// device exists and is an endpoint, nothing on the host uses it (unless forced; see
/// `PCIDiscovery.usage(of:)`), vfio-pci is loaded, the function has an IOMMU group, and every
/// other function of the group is bound to vfio-pci, unbound or in the same request. The original
/// driver is remembered under `stateDirectory` so that `unbind` can restore it. Both directions
/// are idempotent.
public struct DriverBinding: Sendable {
    public let discovery: PCIDiscovery
    /// Where the original driver of each bound function is recorded (one file per BDF).
    public let stateDirectory: String

    public init(discovery: PCIDiscovery = PCIDiscovery(lookUpNames: false), stateDirectory: String = "/run/vfioctl") {
        self.discovery = discovery
        self.stateDirectory = stateDirectory
    }

    /// How far `bind` trusts its caller.
    public struct Policy: Sendable, Equatable {
        /// Bind even when the host uses the function (every `DeviceUse`). Never skips the checks
        /// that make binding impossible (bridge, IOMMU, group).
        public var force: Bool
        /// The caller is a udev rule, acting on a device as it appears: a storage or network
        /// function that has no driver yet, or a storage function whose driver shows no disk yet,
        /// is refused, because its disks and interfaces, which the checks look at, do not exist
        /// until its driver has found them (the boot disk of a QEMU guest is such a function
        /// when the rule matches its vendor and device).
        public var fromUdev: Bool

        public init(force: Bool = false, fromUdev: Bool = false) {
            self.force = force
            self.fromUdev = fromUdev
        }
    }

    public enum BindOutcome: Sendable, Equatable {
        case bound(previousDriver: String?)
        case alreadyBound
    }

    var sysfs: String { discovery.sysfsRoot }

    /// Binds every function to vfio-pci, or none if any check fails.
    public func bind(_ addresses: [PCIAddress], policy: Policy = Policy()) throws(HostError) -> [(PCIAddress, BindOutcome)] {
        let requested = Set(addresses)
        var infos: [PCIFunctionInfo] = []
        for address in addresses { infos.append(try discovery.function(at: address)) }
        let pending = infos.filter { $0.driver != "vfio-pci" }
        for info in pending {
            if let reason = info.notBindableReason { throw .notBindable(info.address, reason: reason) }
            if policy.fromUdev, let what = Self.hostStateClass(info.classCode) {
                if info.driver == nil {
                    throw .cannotCheckYet(info.address, reason: "it is \(info.identity) without a driver yet, so its \(what) cannot be checked")
                }
                // NVMe scans namespaces after probe, asynchronously: right after the driver bound,
                // a controller may show no disk yet, and "no disk" would pass every check.
                if what == "disks", discovery.blockDeviceNames(of: info.address).isEmpty {
                    throw .cannotCheckYet(info.address, reason: "it is \(info.identity) whose driver \(info.driver ?? "") shows no disk yet, so there is nothing to check")
                }
            }
        }
        // "In use" before the rest: for the disk that holds `/`, that is the message that matters.
        if !policy.force {
            for info in pending {
                let uses = discovery.usage(of: info.address)
                if !uses.isEmpty { throw .deviceInUse(info.address, uses: uses) }
            }
        }
        guard pending.isEmpty || Sysfs.exists("\(sysfs)/bus/pci/drivers/vfio-pci") else { throw .vfio(.vfioNotLoaded) }
        for info in pending {
            guard let group = info.iommuGroup else { throw .vfio(.noIOMMU(info.address)) }
            let blocking = discovery.members(ofGroup: group).filter { !requested.contains($0.address) && !$0.allowsVFIO }
            if !blocking.isEmpty { throw .vfio(.groupNotViable(group: group, others: blocking.map(\.description))) }
        }
        var results: [(PCIAddress, BindOutcome)] = []
        for info in infos {
            let address = info.address
            let previous = discovery.driver(of: address)
            if previous == "vfio-pci" {
                results.append((address, .alreadyBound))
                continue
            }
            if let previous { remember(previous, for: address) }
            do {
                try move(address, to: "vfio-pci", from: previous)
            } catch {
                forget(address)
                throw error
            }
            results.append((address, .bound(previousDriver: previous)))
        }
        return results
    }

    /// Classes whose functions carry host state the checks look for once a driver has them:
    /// mass storage (disks) and network (interfaces). Nil for other classes.
    static func hostStateClass(_ classCode: UInt32) -> String? {
        switch classCode >> 16 {
        case 0x01: return "disks"
        case 0x02: return "network interfaces"
        default: return nil
        }
    }

    /// Releases functions from vfio-pci and hands each to `driver`, or to the driver it had before
    /// `bind`, or lets the kernel choose. Returns the driver each one ends up with.
    public func unbind(_ addresses: [PCIAddress], driver: String? = nil) throws(HostError) -> [(PCIAddress, String?)] {
        for address in addresses where !discovery.exists(address) { throw .vfio(.noSuchDevice(address)) }
        var results: [(PCIAddress, String?)] = []
        for address in addresses {
            let current = discovery.driver(of: address)
            let target = driver ?? recalled(address)
            if current != "vfio-pci" && currentOverride(address) != "vfio-pci" {
                // Not ours: leave it alone (idempotent), unless asked for a specific driver it lacks.
                results.append((address, current))
                continue
            }
            if let target {
                try move(address, to: target, from: current)
            } else {
                try writeOverride(address, nil)
                if current != nil { try HostSetup.writeText("\(devicePath(address))/driver/unbind", "\(address)\n") }
                try? HostSetup.writeText("\(sysfs)/bus/pci/drivers_probe", "\(address)\n")
            }
            forget(address)
            results.append((address, discovery.driver(of: address)))
        }
        return results
    }

    /// driver_override = target, unbind from the current driver, re-probe, clear the override
    /// unless the target is vfio-pci (which keeps it so a rescan does not hand the device back).
    /// On failure, the previous driver is restored.
    private func move(_ address: PCIAddress, to target: String, from current: String?) throws(HostError) {
        if target != "vfio-pci" && !Sysfs.exists("\(sysfs)/bus/pci/drivers/\(target)") {
            _ = HostSetup.modprobe(target, sysfsRoot: sysfs)
        }
        try writeOverride(address, target)
        if current != nil {
            do {
                try HostSetup.writeText("\(devicePath(address))/driver/unbind", "\(address)\n")
            } catch {
                try? writeOverride(address, nil)
                throw error
            }
        }
        try? HostSetup.writeText("\(sysfs)/bus/pci/drivers_probe", "\(address)\n")
        let now = discovery.driver(of: address)
        if target != "vfio-pci" { try? writeOverride(address, nil) }
        guard now == target else {
            try? writeOverride(address, current)
            if discovery.driver(of: address) != nil {
                try? HostSetup.writeText("\(devicePath(address))/driver/unbind", "\(address)\n")
            }
            try? HostSetup.writeText("\(sysfs)/bus/pci/drivers_probe", "\(address)\n")
            try? writeOverride(address, nil)
            throw .bindFailed(address, expected: target, actual: now)
        }
    }

    private func devicePath(_ address: PCIAddress) -> String { "\(sysfs)/bus/pci/devices/\(address)" }

    private func currentOverride(_ address: PCIAddress) -> String? {
        Sysfs.readText("\(devicePath(address))/driver_override").flatMap { $0 == "(null)" || $0.isEmpty ? nil : $0 }
    }

    /// Writing a newline clears driver_override (the kernel treats an empty string as "none").
    private func writeOverride(_ address: PCIAddress, _ driver: String?) throws(HostError) {
        try HostSetup.writeText("\(devicePath(address))/driver_override", (driver ?? "") + "\n")
    }

    private func statePath(_ address: PCIAddress) -> String { "\(stateDirectory)/\(address).driver" }

    private func remember(_ driver: String, for address: PCIAddress) {
        try? HostSetup.writeTextCreating(statePath(address), driver + "\n")
    }

    private func recalled(_ address: PCIAddress) -> String? {
        Sysfs.readText(statePath(address)).flatMap { $0.isEmpty ? nil : $0 }
    }

    private func forget(_ address: PCIAddress) { _ = unlink(statePath(address)) }
}
