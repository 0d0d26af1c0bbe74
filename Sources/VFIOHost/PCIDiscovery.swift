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

import CLibPCI
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// Finds PCI functions and tells whether VFIO can take them. Read-only: it never writes sysfs.
///
/// Identity (ids, class, header type, BAR sizes) comes from libpci when reading the live `/sys`,
/// and from the sysfs attributes otherwise; names come from pci.ids through libpci. The kernel's
/// view of each function comes from sysfs (`/sys/bus/pci/devices/<BDF>/`): `driver` and
/// `iommu_group` symlinks, `numa_node`, `driver_override`. The roots (sysfs, procfs, device
/// nodes) are parameters so tests can build a fake tree.
public struct PCIDiscovery: Sendable {
    public let sysfsRoot: String
    public let procRoot: String
    /// Where block device nodes are (`/dev/<name>`), for the in-use check's probes.
    public let devRoot: String
    /// Look up vendor and device names in pci.ids (libpci). Costs a parse of pci.ids per scan.
    public var lookUpNames: Bool
    /// Identity from libpci's scan (true) or from the sysfs attribute files (false). libpci reads
    /// the live `/sys` only, so the default is true exactly for that root.
    public var usesLibpci: Bool
    /// How the in-use check opens block device nodes (the real system calls by default).
    public var blockDeviceAccess: BlockDeviceAccess

    public init(sysfsRoot: String = "/sys", procRoot: String = "/proc", devRoot: String = "/dev",
                lookUpNames: Bool = true, usesLibpci: Bool? = nil, blockDeviceAccess: BlockDeviceAccess = .system) {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
        self.devRoot = devRoot
        self.lookUpNames = lookUpNames
        self.usesLibpci = usesLibpci ?? (sysfsRoot == "/sys")
        self.blockDeviceAccess = blockDeviceAccess
    }

    var devicesDirectory: String { "\(sysfsRoot)/bus/pci/devices" }

    func node(_ address: PCIAddress) -> PCISysfsNode { PCISysfsNode(address: address, sysfsRoot: sysfsRoot) }

    // MARK: - Listing

    /// Every PCI function, sorted by address.
    public func functions() throws(HostError) -> [PCIFunctionInfo] {
        guard Sysfs.exists(devicesDirectory) else {
            throw .vfio(.system(operation: "reading \(devicesDirectory) (is sysfs mounted?)", errno: ENOENT))
        }
        let addresses = Sysfs.listDirectory(devicesDirectory).compactMap { try? PCIAddress(parsing: $0) }
        let fromLibpci = usesLibpci ? Self.libpciScan() : [:]
        var names = NameCache(enabled: lookUpNames)
        return addresses.sorted().compactMap { info(for: $0, libpci: fromLibpci[$0], names: &names) }
    }

    /// One function; `.noSuchDevice` when sysfs has no such address.
    public func function(at address: PCIAddress) throws(HostError) -> PCIFunctionInfo {
        let fromLibpci = usesLibpci ? Self.libpciScan()[address] : nil
        var names = NameCache(enabled: lookUpNames)
        guard let info = info(for: address, libpci: fromLibpci, names: &names) else { throw .vfio(.noSuchDevice(address)) }
        return info
    }

    public func exists(_ address: PCIAddress) -> Bool { node(address).exists }

    /// The bound driver's name, nil when unbound.
    public func driver(of address: PCIAddress) -> String? { node(address).driver }

    /// The IOMMU group number, nil without an IOMMU.
    public func iommuGroup(of address: PCIAddress) -> Int? { node(address).iommuGroup }

    /// Every function of an IOMMU group (including the one asked about), with its driver.
    public func members(ofGroup group: Int) -> [IOMMUGroupMember] {
        PCISysfsNode.members(ofGroup: group, sysfsRoot: sysfsRoot)
    }

    private func info(for address: PCIAddress, libpci: clibpci_function?, names: inout NameCache) -> PCIFunctionInfo? {
        let node = node(address)
        let path = node.path
        guard node.exists else { return nil }
        let vendorID: UInt16
        let deviceID: UInt16
        let classCode: UInt32
        let bars: [PCIBAR]
        var headerType: UInt8?
        if let libpci {
            vendorID = libpci.vendor_id
            deviceID = libpci.device_id
            classCode = libpci.class_code
            bars = Self.bars(libpci)
            headerType = libpci.header_type
        } else {
            guard let vendor = Self.hexAttribute("\(path)/vendor"), let device = Self.hexAttribute("\(path)/device"),
                  let cls = Self.hexAttribute("\(path)/class")
            else { return nil }
            vendorID = UInt16(truncatingIfNeeded: vendor)
            deviceID = UInt16(truncatingIfNeeded: device)
            classCode = UInt32(truncatingIfNeeded: cls) & 0xff_ff_ff
            bars = Self.bars(resourceFile: Sysfs.readText("\(path)/resource") ?? "")
            headerType = Self.headerType(configFile: "\(path)/config")
        }
        let (vendorName, deviceName) = names.lookUp(vendorID, deviceID)
        let override = Sysfs.readText("\(path)/driver_override").flatMap { $0 == "(null)" || $0.isEmpty ? nil : $0 }
        return PCIFunctionInfo(
            address: address, vendorID: vendorID, deviceID: deviceID,
            vendorName: vendorName, deviceName: deviceName, classCode: classCode,
            driver: node.driver, driverOverride: override, iommuGroup: node.iommuGroup,
            numaNode: node.numaNode, bars: bars, headerType: headerType)
    }

    // MARK: - The verdict

    /// Whether VFIO can take the function now, and every reason it cannot.
    public func verdict(for address: PCIAddress) throws(HostError) -> VFIOVerdict {
        let info = try function(at: address)
        return verdict(for: info)
    }

    /// The verdict for a function already listed (saves a second scan in `vfioctl list`).
    public func verdict(for info: PCIFunctionInfo) -> VFIOVerdict {
        let address = info.address
        var obstacles: [VFIOObstacle] = []
        if info.iommuGroup == nil { obstacles.append(.noIOMMUGroup) }
        if let reason = info.notBindableReason { obstacles.append(.notBindable(reason: reason)) }
        if info.driver != "vfio-pci" { obstacles.append(.notBoundToVFIO(driver: info.driver)) }
        if let group = info.iommuGroup {
            let others = members(ofGroup: group).filter { $0.address != address && !$0.allowsVFIO }
            if !others.isEmpty { obstacles.append(.groupShared(group: group, others: others)) }
        }
        obstacles += usage(of: address).map { .inUse($0) }
        return VFIOVerdict(address: address, obstacles: obstacles)
    }

    // MARK: - Attribute parsing

    static func parseHex(_ text: String) -> UInt64? {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        return UInt64(digits, radix: 16)
    }

    static func hexAttribute(_ path: String) -> UInt64? { Sysfs.readText(path).flatMap(parseHex) }

    /// Header type from the sysfs `config` file (offset 0x0e, readable without privilege), without
    /// the multi-function bit; nil when the file is missing or short.
    static func headerType(configFile: String) -> UInt8? {
        let fd = open(configFile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var byte: UInt8 = 0
        guard pread(fd, &byte, 1, 0x0e) == 1 else { return nil }
        return byte & 0x7f
    }

    /// BARs from sysfs `resource`: one `start end flags` line per resource, BAR0...BAR5 first
    /// (then the ROM and bridge windows, ignored). Flags are the kernel's IORESOURCE_* bits.
    static func bars(resourceFile: String) -> [PCIBAR] {
        let ioresourceIO: UInt64 = 0x100, prefetch: UInt64 = 0x2000, mem64: UInt64 = 0x10_0000
        var bars: [PCIBAR] = []
        for (index, line) in resourceFile.split(separator: "\n").prefix(6).enumerated() {
            let fields = line.split(separator: " ").compactMap { parseHex(String($0)) }
            guard fields.count == 3, fields[1] > fields[0] else { continue }
            let (start, end, flags) = (fields[0], fields[1], fields[2])
            bars.append(PCIBAR(index: index, size: end - start + 1, isIO: flags & ioresourceIO != 0,
                               is64Bit: flags & mem64 != 0, isPrefetchable: flags & prefetch != 0))
        }
        return bars
    }

    /// BARs from libpci: sizes, and the low bits of the BAR register (bit 0 I/O, bits 2:1 = 2 for
    /// 64-bit, bit 3 prefetchable; PCI Local Bus 3.0, 6.2.5.1).
    static func bars(_ function: clibpci_function) -> [PCIBAR] {
        let sizes = [function.bar_size.0, function.bar_size.1, function.bar_size.2,
                     function.bar_size.3, function.bar_size.4, function.bar_size.5]
        let flags = [function.bar_flags.0, function.bar_flags.1, function.bar_flags.2,
                     function.bar_flags.3, function.bar_flags.4, function.bar_flags.5]
        return (0..<6).compactMap { i in
            guard sizes[i] > 0 else { return nil }
            let io = flags[i] & 0x1 != 0
            return PCIBAR(index: i, size: sizes[i], isIO: io, is64Bit: !io && flags[i] & 0x6 == 0x4,
                          isPrefetchable: !io && flags[i] & 0x8 != 0)
        }
    }

    /// Every function libpci sees, by address; empty when libpci cannot initialise.
    static func libpciScan() -> [PCIAddress: clibpci_function] {
        var capacity = 256
        while true {
            var buffer = [clibpci_function](repeating: clibpci_function(), count: capacity)
            let total = Int(clibpci_scan(&buffer, Int32(capacity)))
            if total < 0 { return [:] }
            if total > capacity {
                capacity = total
                continue
            }
            var result: [PCIAddress: clibpci_function] = [:]
            for f in buffer.prefix(total) {
                result[PCIAddress(domain: f.domain, bus: f.bus, device: f.device, function: f.function)] = f
            }
            return result
        }
    }

    /// Names from pci.ids, looked up once per vendor/device pair in a scan.
    struct NameCache {
        let enabled: Bool
        var cache: [UInt32: (String?, String?)] = [:]

        mutating func lookUp(_ vendor: UInt16, _ device: UInt16) -> (String?, String?) {
            guard enabled else { return (nil, nil) }
            let key = UInt32(vendor) << 16 | UInt32(device)
            if let hit = cache[key] { return hit }
            var vendorName = [CChar](repeating: 0, count: 256)
            var deviceName = [CChar](repeating: 0, count: 256)
            clibpci_lookup_names(vendor, device, &vendorName, vendorName.count, &deviceName, deviceName.count)
            func text(_ buffer: [CChar]) -> String? {
                let s = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return s.isEmpty ? nil : s
            }
            let result = (text(vendorName), text(deviceName))
            cache[key] = result
            return result
        }
    }
}
