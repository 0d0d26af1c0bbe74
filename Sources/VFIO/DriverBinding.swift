/// Moves PCI functions to vfio-pci and back, through `driver_override` and `drivers_probe`.
///
/// Every check happens before anything is written, so a refused request changes nothing: the
/// device exists, vfio-pci is loaded, the function has an IOMMU group, every other function of the
/// group is bound to vfio-pci, unbound or in the same request, and (unless forced) nothing on the
/// host uses it. The original driver is remembered under `stateDirectory` so that `unbind` can
/// restore it. Both directions are idempotent.
public struct DriverBinding: Sendable {
    public let discovery: PCIDiscovery
    /// Where the original driver of each bound function is recorded (one file per BDF).
    public let stateDirectory: String

    public init(discovery: PCIDiscovery = PCIDiscovery(lookUpNames: false), stateDirectory: String = "/run/vfioctl") {
        self.discovery = discovery
        self.stateDirectory = stateDirectory
    }

    public enum BindOutcome: Sendable, Equatable {
        case bound(previousDriver: String?)
        case alreadyBound
    }

    var sysfs: String { discovery.sysfsRoot }

    /// Binds every function to vfio-pci, or none if any check fails.
    public func bind(_ addresses: [PCIAddress], force: Bool = false) throws(VFIOError) -> [(PCIAddress, BindOutcome)] {
        let requested = Set(addresses)
        for address in addresses where !discovery.exists(address) { throw .noSuchDevice(address) }
        // "In use" first: for the disk that holds `/`, that is the message that matters.
        for address in addresses where !force && discovery.driver(of: address) != "vfio-pci" {
            let uses = discovery.usage(of: address)
            if !uses.isEmpty { throw .deviceInUse(address, uses: uses.map(\.description)) }
        }
        guard HostSetup.exists("\(sysfs)/bus/pci/drivers/vfio-pci") else { throw .vfioNotLoaded }
        for address in addresses {
            if discovery.driver(of: address) == "vfio-pci" { continue }
            guard let group = discovery.iommuGroup(of: address) else { throw .noIOMMU(address) }
            let blocking = discovery.members(ofGroup: group).filter { !requested.contains($0.address) && !$0.allowsVFIO }
            if !blocking.isEmpty {
                throw .groupNotViable(group: group, others: blocking.map { "\($0.address) (\($0.driver ?? "no driver"))" })
            }
        }
        var results: [(PCIAddress, BindOutcome)] = []
        for address in addresses {
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

    /// Releases functions from vfio-pci and hands each to `driver`, or to the driver it had before
    /// `bind`, or lets the kernel choose. Returns the driver each one ends up with.
    public func unbind(_ addresses: [PCIAddress], driver: String? = nil) throws(VFIOError) -> [(PCIAddress, String?)] {
        for address in addresses where !discovery.exists(address) { throw .noSuchDevice(address) }
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
    private func move(_ address: PCIAddress, to target: String, from current: String?) throws(VFIOError) {
        if target != "vfio-pci" && !HostSetup.exists("\(sysfs)/bus/pci/drivers/\(target)") {
            _ = HostSetup.run(["/sbin/modprobe", target])
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
        HostSetup.readText("\(devicePath(address))/driver_override").flatMap { $0 == "(null)" || $0.isEmpty ? nil : $0 }
    }

    /// Writing a newline clears driver_override (the kernel treats an empty string as "none").
    private func writeOverride(_ address: PCIAddress, _ driver: String?) throws(VFIOError) {
        try HostSetup.writeText("\(devicePath(address))/driver_override", (driver ?? "") + "\n")
    }

    private func statePath(_ address: PCIAddress) -> String { "\(stateDirectory)/\(address).driver" }

    private func remember(_ driver: String, for address: PCIAddress) {
        _ = HostSetup.run(["/bin/mkdir", "-p", stateDirectory])
        try? HostSetup.writeTextCreating(statePath(address), driver + "\n")
    }

    private func recalled(_ address: PCIAddress) -> String? {
        HostSetup.readText(statePath(address)).flatMap { $0.isEmpty ? nil : $0 }
    }

    private func forget(_ address: PCIAddress) { _ = HostSetup.run(["/bin/rm", "-f", statePath(address)]) }
}
