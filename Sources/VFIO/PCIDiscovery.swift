import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Finds PCI functions and tells whether VFIO can take them. Read-only: it never writes sysfs.
///
/// Identity (ids, class, BAR sizes) comes from libpci when reading the live `/sys`, and from the
/// sysfs attributes otherwise; names come from pci.ids through libpci. The kernel's view of each
/// function comes from sysfs (`/sys/bus/pci/devices/<BDF>/`): `driver` and `iommu_group` symlinks,
/// `numa_node`, `driver_override`. The roots are parameters so tests can build a fake tree.
public struct PCIDiscovery: Sendable {
    public let sysfsRoot: String
    public let procRoot: String
    /// Look up vendor and device names in pci.ids (libpci). Costs a parse of pci.ids per scan.
    public var lookUpNames: Bool
    /// Identity from libpci's scan (true) or from the sysfs attribute files (false). libpci reads
    /// the live `/sys` only, so the default is true exactly for that root.
    public var usesLibpci: Bool

    public init(sysfsRoot: String = "/sys", procRoot: String = "/proc", lookUpNames: Bool = true, usesLibpci: Bool? = nil) {
        self.sysfsRoot = sysfsRoot
        self.procRoot = procRoot
        self.lookUpNames = lookUpNames
        self.usesLibpci = usesLibpci ?? (sysfsRoot == "/sys")
    }

    var devicesDirectory: String { "\(sysfsRoot)/bus/pci/devices" }

    func devicePath(_ address: PCIAddress) -> String { "\(devicesDirectory)/\(address)" }

    // MARK: - Listing

    /// Every PCI function, sorted by address.
    public func functions() throws(VFIOError) -> [PCIFunctionInfo] {
        guard HostSetup.exists(devicesDirectory) else {
            throw .system(operation: "reading \(devicesDirectory) (is sysfs mounted?)", errno: ENOENT)
        }
        let addresses = HostSetup.listDirectory(devicesDirectory).compactMap { try? PCIAddress(parsing: $0) }
        let fromLibpci = usesLibpci ? Self.libpciScan() : [:]
        var names = NameCache(enabled: lookUpNames)
        return addresses.sorted().compactMap { info(for: $0, libpci: fromLibpci[$0], names: &names) }
    }

    /// One function; `.noSuchDevice` when sysfs has no such address.
    public func function(at address: PCIAddress) throws(VFIOError) -> PCIFunctionInfo {
        let fromLibpci = usesLibpci ? Self.libpciScan()[address] : nil
        var names = NameCache(enabled: lookUpNames)
        guard let info = info(for: address, libpci: fromLibpci, names: &names) else { throw .noSuchDevice(address) }
        return info
    }

    public func exists(_ address: PCIAddress) -> Bool { HostSetup.exists(devicePath(address)) }

    /// The bound driver's name, nil when unbound.
    public func driver(of address: PCIAddress) -> String? {
        HostSetup.linkTarget("\(devicePath(address))/driver")
    }

    /// The IOMMU group number, nil without an IOMMU.
    public func iommuGroup(of address: PCIAddress) -> Int? {
        HostSetup.linkTarget("\(devicePath(address))/iommu_group").flatMap { Int($0) }
    }

    /// Every function of an IOMMU group (including the one asked about), with its driver.
    public func members(ofGroup group: Int) -> [IOMMUGroupMember] {
        let directory = "\(sysfsRoot)/kernel/iommu_groups/\(group)/devices"
        return HostSetup.listDirectory(directory).compactMap { name in
            guard let address = try? PCIAddress(parsing: name) else { return nil }
            return IOMMUGroupMember(address: address, driver: HostSetup.linkTarget("\(directory)/\(name)/driver"))
        }
    }

    private func info(for address: PCIAddress, libpci: shim_pci_function?, names: inout NameCache) -> PCIFunctionInfo? {
        let path = devicePath(address)
        guard HostSetup.exists(path) else { return nil }
        let vendorID: UInt16
        let deviceID: UInt16
        let classCode: UInt32
        let bars: [PCIBAR]
        if let libpci {
            vendorID = libpci.vendor_id
            deviceID = libpci.device_id
            classCode = libpci.class_code
            bars = Self.bars(libpci)
        } else {
            guard let vendor = Self.hexAttribute("\(path)/vendor"), let device = Self.hexAttribute("\(path)/device"),
                  let cls = Self.hexAttribute("\(path)/class")
            else { return nil }
            vendorID = UInt16(truncatingIfNeeded: vendor)
            deviceID = UInt16(truncatingIfNeeded: device)
            classCode = UInt32(truncatingIfNeeded: cls) & 0xff_ff_ff
            bars = Self.bars(resourceFile: HostSetup.readText("\(path)/resource") ?? "")
        }
        let (vendorName, deviceName) = names.lookUp(vendorID, deviceID)
        let numa = HostSetup.readText("\(path)/numa_node").flatMap { Int($0) }
        let override = HostSetup.readText("\(path)/driver_override").flatMap { $0 == "(null)" || $0.isEmpty ? nil : $0 }
        return PCIFunctionInfo(
            address: address, vendorID: vendorID, deviceID: deviceID,
            vendorName: vendorName, deviceName: deviceName, classCode: classCode,
            driver: driver(of: address), driverOverride: override, iommuGroup: iommuGroup(of: address),
            numaNode: numa.flatMap { $0 >= 0 ? $0 : nil }, bars: bars)
    }

    // MARK: - The verdict

    /// Whether VFIO can take the function now, and every reason it cannot.
    public func verdict(for address: PCIAddress) throws(VFIOError) -> VFIOVerdict {
        guard exists(address) else { throw .noSuchDevice(address) }
        var obstacles: [VFIOObstacle] = []
        let group = iommuGroup(of: address)
        if group == nil { obstacles.append(.noIOMMUGroup) }
        let driver = driver(of: address)
        if driver != "vfio-pci" { obstacles.append(.notBoundToVFIO(driver: driver)) }
        if let group {
            let others = members(ofGroup: group).filter { $0.address != address && !$0.allowsVFIO }
            if !others.isEmpty { obstacles.append(.groupShared(group: group, others: others)) }
        }
        obstacles += usage(of: address).map { .inUse($0) }
        return VFIOVerdict(address: address, obstacles: obstacles)
    }

    // MARK: - In use by the host

    /// What on this host depends on the function through its current driver: mounted
    /// filesystems and active swap on its block devices (partitions and stacked dm/md devices
    /// included), and network interfaces that are up. Empty for an unbound function.
    ///
    /// Block devices and interfaces are found through `/sys/class/block` and `/sys/class/net`,
    /// whose entries link into the device tree under the PCI function (`.../0000:00:02.0/virtio1/
    /// block/vda`, `.../nvme/nvme0/nvme0n1`, `.../host0/target0:0:0/.../block/sda`), so every
    /// driver's layout is covered without knowing it.
    public func usage(of address: PCIAddress) -> [DeviceUse] {
        guard let root = Self.realPath(devicePath(address)) else { return [] }
        let prefix = root + "/"
        var uses: [DeviceUse] = []

        let blocks = blockDevices(under: prefix)
        if !blocks.isEmpty {
            let numbers = Dictionary(blocks.compactMap { name in
                HostSetup.readText("\(sysfsRoot)/class/block/\(name)/dev").map { ($0, name) }
            }, uniquingKeysWith: { a, _ in a })
            let names = Set(blocks)
            for mount in mounts() {
                let byNumber = mount.majorMinor.flatMap { numbers[$0] }
                let byName = Self.deviceName(mount.source).flatMap { names.contains($0) ? $0 : nil }
                if let device = byNumber ?? byName {
                    uses.append(.mountedFilesystem(blockDevice: device, mountPoint: mount.mountPoint, fsType: mount.fsType))
                }
            }
            for swap in swaps() {
                if let name = Self.deviceName(swap), names.contains(name) { uses.append(.activeSwap(blockDevice: name)) }
            }
        }

        let netDirectory = "\(sysfsRoot)/class/net"
        for interface in HostSetup.listDirectory(netDirectory) {
            guard let target = Self.realPath("\(netDirectory)/\(interface)"), target.hasPrefix(prefix) else { continue }
            let operstate = HostSetup.readText("\(netDirectory)/\(interface)/operstate") ?? "unknown"
            // IFF_UP (administratively up) counts even without carrier: the interface is configured.
            let flags = HostSetup.readText("\(netDirectory)/\(interface)/flags").flatMap { Self.parseHex($0) } ?? 0
            if operstate == "up" || flags & 0x1 != 0 {
                uses.append(.networkInterfaceUp(interface: interface, operstate: operstate))
            }
        }
        return uses
    }

    /// Block devices whose sysfs node lies under `prefix`, their partitions, and, transitively,
    /// the devices stacked on them (`holders/`: dm-crypt, LVM, md).
    private func blockDevices(under prefix: String) -> [String] {
        let classDirectory = "\(sysfsRoot)/class/block"
        var found: [String] = []
        for name in HostSetup.listDirectory(classDirectory) {
            if let target = Self.realPath("\(classDirectory)/\(name)"), target.hasPrefix(prefix) { found.append(name) }
        }
        var index = 0
        while index < found.count, found.count < 4096 {
            for holder in HostSetup.listDirectory("\(classDirectory)/\(found[index])/holders") where !found.contains(holder) {
                found.append(holder)
            }
            index += 1
        }
        return found
    }

    struct Mount {
        var majorMinor: String?
        var source: String
        var mountPoint: String
        var fsType: String
    }

    /// `/proc/self/mountinfo` (it carries the device number, which also resolves `/dev/root`),
    /// or `/proc/mounts` when mountinfo is missing.
    func mounts() -> [Mount] {
        if let text = HostSetup.readText("\(procRoot)/self/mountinfo") {
            return text.split(separator: "\n").compactMap { line in
                // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
                let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash >= 6, dash + 2 < fields.count
                else { return nil }
                return Mount(majorMinor: fields[2], source: Self.unescape(fields[dash + 2]),
                             mountPoint: Self.unescape(fields[4]), fsType: fields[dash + 1])
            }
        }
        let text = HostSetup.readText("\(procRoot)/mounts") ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 3 else { return nil }
            return Mount(majorMinor: nil, source: Self.unescape(fields[0]), mountPoint: Self.unescape(fields[1]), fsType: fields[2])
        }
    }

    /// Sources of active swap areas (`/proc/swaps`, after its header line).
    func swaps() -> [String] {
        let text = HostSetup.readText("\(procRoot)/swaps") ?? ""
        return text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map { Self.unescape(String($0)) }
        }
    }

    /// The kernel block device name behind a `/dev` path: `/dev/vda1` → vda1, `/dev/mapper/x` →
    /// dm-0 (through its symlink). nil for anything not under /dev (tmpfs, 9p, overlay).
    static func deviceName(_ source: String) -> String? {
        guard source.hasPrefix("/dev/") else { return nil }
        let resolved = realPath(source) ?? source
        return resolved.split(separator: "/").last.map(String.init)
    }

    /// Mount tables escape space, tab, newline and backslash as `\ooo`.
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Attribute parsing

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func parseHex(_ text: String) -> UInt64? {
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        return UInt64(digits, radix: 16)
    }

    static func hexAttribute(_ path: String) -> UInt64? { HostSetup.readText(path).flatMap(parseHex) }

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
    static func bars(_ function: shim_pci_function) -> [PCIBAR] {
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
    static func libpciScan() -> [PCIAddress: shim_pci_function] {
        var capacity = 256
        while true {
            var buffer = [shim_pci_function](repeating: shim_pci_function(), count: capacity)
            let total = Int(shim_pci_scan(&buffer, Int32(capacity)))
            if total < 0 { return [:] }
            if total > capacity {
                capacity = total
                continue
            }
            var result: [PCIAddress: shim_pci_function] = [:]
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
            shim_pci_lookup_names(vendor, device, &vendorName, vendorName.count, &deviceName, deviceName.count)
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
