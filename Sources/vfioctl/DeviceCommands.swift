import ArgumentParser
import VFIO

/// Parses BDF arguments, each error naming the bad one.
func parseAddresses(_ texts: [String]) throws(VFIOError) -> [PCIAddress] {
    var result: [PCIAddress] = []
    for text in texts { result.append(try PCIAddress(parsing: text)) }
    return result
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
            let discovery = PCIDiscovery()
            let backends = VFIOBackendSupport()
            var functions = try discovery.functions()
            if nvmeOnly { functions = functions.filter { $0.classCode == 0x010802 } }
            var rows: [[String]] = []
            var objects: [JSON] = []
            for f in functions {
                let verdict = try discovery.verdict(for: f.address)
                let status = verdict.isReady ? "ready" : verdict.obstacles.map(shortReason).joined(separator: ", ")
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
    let noIOMMU = f.iommuGroup.map { !HostSetup.exists("\(backends.vfioDirectory)/\($0)") && HostSetup.exists("\(backends.vfioDirectory)/noiommu-\($0)") } ?? false
    return ((try? backends.choose(.automatic, for: f.address, noIOMMUGroup: noIOMMU)) ?? .container).rawValue
}

/// One line per VFIO backend: usable, or why not.
func printBackendOffers(_ backends: VFIOBackendSupport) {
    for offer in backends.offers() {
        let state = offer.unusableReason.map { "not usable: \($0)" } ?? "usable"
        print("VFIO backend \(offer.kind.rawValue):\(String(repeating: " ", count: max(1, 10 - offer.kind.rawValue.count)))\(state)")
    }
}

/// `vfioctl bind`: hand functions to vfio-pci. Refuses devices the host is using unless forced.
struct Bind: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bind PCI functions to vfio-pci (via driver_override); the original driver is remembered.")

    @Argument(help: "PCI addresses, e.g. 0000:01:00.0")
    var devices: [String]

    @Flag(help: "Bind even if the device backs a mounted filesystem, swap or an up network interface.")
    var force = false

    func run() throws {
        try reportingErrors {
            let results = try DriverBinding().bind(try parseAddresses(devices), force: force)
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
            for (address, now) in try DriverBinding().unbind(try parseAddresses(devices), driver: driver) {
                print("\(address): \(now.map { "bound to \($0)" } ?? "unbound")")
            }
        }
    }
}

/// A few words per obstacle for the table; `--json` and `bind` give the whole sentence.
func shortReason(_ obstacle: VFIOObstacle) -> String {
    switch obstacle {
    case .noIOMMUGroup: return "no IOMMU"
    case .notBoundToVFIO(let driver): return driver.map { "bound to \($0)" } ?? "unbound"
    case .groupShared(let group, _): return "group \(group) shared"
    case .inUse(let use):
        switch use {
        case .mountedFilesystem(_, let mountPoint, _): return "in use (\(mountPoint) mounted)"
        case .activeSwap: return "in use (swap)"
        case .networkInterfaceUp(let interface, _): return "in use (\(interface) up)"
        }
    }
}

func hex4(_ v: UInt16) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 4 - s.count) + s }
func hex6(_ v: UInt32) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: max(0, 6 - s.count)) + s }
