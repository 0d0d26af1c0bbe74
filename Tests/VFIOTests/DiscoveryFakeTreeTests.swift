import Testing
@testable import VFIO

/// Discovery against a fake sysfs/proc tree: every case the host machine does not have.
@Suite struct DiscoveryFakeTreeTests {
    static let nvme = PCIAddress(bus: 1, device: 0, function: 0)       // nvme, group 7, mounted, swap, dm
    static let audio = PCIAddress(bus: 1, device: 0, function: 1)      // same group, snd_hda_intel
    static let nicUp = PCIAddress(bus: 2, device: 0, function: 0)      // e1000e, eth1 up
    static let ready = PCIAddress(bus: 3, device: 0, function: 0)      // vfio-pci, alone in group 9
    static let ahci = PCIAddress(bus: 4, device: 0, function: 0)       // no IOMMU group, holds /
    static let nicDown = PCIAddress(bus: 5, device: 0, function: 0)    // e1000e, eth2 down

    /// Builds the tree: `/sys/devices/pci0000:00/<BDF>` with attributes and links, the
    /// `/sys/bus/pci/devices` and `/sys/class/{block,net}` links into it, and `/proc` tables.
    static func makeTree() -> FakeTree {
        let t = FakeTree()
        func function(_ a: PCIAddress, vendor: String, device: String, cls: String, driver: String?, group: Int?,
                      numa: String = "-1", resource: String = "", override: String = "(null)") {
            let path = "sys/devices/pci0000:00/\(a)"
            t.file("\(path)/vendor", vendor + "\n")
            t.file("\(path)/device", device + "\n")
            t.file("\(path)/class", cls + "\n")
            t.file("\(path)/numa_node", numa + "\n")
            t.file("\(path)/resource", resource)
            t.file("\(path)/driver_override", override + "\n")
            t.link("sys/bus/pci/devices/\(a)", to: "../../../devices/pci0000:00/\(a)")
            if let driver {
                t.directory("sys/bus/pci/drivers/\(driver)")
                t.link("\(path)/driver", to: "../../../bus/pci/drivers/\(driver)")
            }
            if let group {
                t.directory("sys/kernel/iommu_groups/\(group)/devices")
                t.link("\(path)/iommu_group", to: "../../../kernel/iommu_groups/\(group)")
                t.link("sys/kernel/iommu_groups/\(group)/devices/\(a)", to: "../../../../devices/pci0000:00/\(a)")
            }
        }
        func block(_ name: String, at path: String, dev: String) {
            t.file("\(path)/dev", dev + "\n")
            t.directory("\(path)/holders")
            t.link("sys/class/block/\(name)", to: "../../" + path.dropFirst("sys/".count))
        }
        func net(_ name: String, at path: String, operstate: String, flags: String) {
            t.file("\(path)/operstate", operstate + "\n")
            t.file("\(path)/flags", flags + "\n")
            t.link("sys/class/net/\(name)", to: "../../" + path.dropFirst("sys/".count))
        }
        let bar0_16k_64 = "0x00000000fe000000 0x00000000fe003fff 0x0000000000140204\n"
        let empty = "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
        let io32 = "0x000000000000c000 0x000000000000c01f 0x0000000000040101\n"
        let prefetch = "0x0000000800000000 0x00000008000fffff 0x000000000014220c\n"
        function(nvme, vendor: "0x144d", device: "0xa808", cls: "0x010802", driver: "nvme", group: 7, numa: "0",
                 resource: bar0_16k_64 + empty + empty + empty + io32 + empty + empty)
        function(audio, vendor: "0x8086", device: "0x1234", cls: "0x040300", driver: "snd_hda_intel", group: 7)
        function(nicUp, vendor: "0x8086", device: "0x10d3", cls: "0x020000", driver: "e1000e", group: 8,
                 resource: empty + empty + prefetch)
        function(ready, vendor: "0x1b36", device: "0x0010", cls: "0x010802", driver: "vfio-pci", group: 9, override: "vfio-pci")
        function(ahci, vendor: "0x8086", device: "0x2922", cls: "0x010601", driver: "ahci", group: nil)
        function(nicDown, vendor: "0x8086", device: "0x10d3", cls: "0x020000", driver: "e1000e", group: 10)

        let ns = "sys/devices/pci0000:00/\(nvme)/nvme/nvme0/nvme0n1"
        block("nvme0n1", at: ns, dev: "259:0")
        block("nvme0n1p1", at: "\(ns)/nvme0n1p1", dev: "259:1")
        block("nvme0n1p2", at: "\(ns)/nvme0n1p2", dev: "259:2")
        block("nvme0n1p3", at: "\(ns)/nvme0n1p3", dev: "259:3")
        block("dm-0", at: "sys/devices/virtual/block/dm-0", dev: "253:0")
        t.link("\(ns)/nvme0n1p2/holders/dm-0", to: "../../../../../../../virtual/block/dm-0")
        let sda = "sys/devices/pci0000:00/\(ahci)/ata1/host0/target0:0:0/0:0:0:0/block/sda"
        block("sda", at: sda, dev: "8:0")
        block("sda1", at: "\(sda)/sda1", dev: "8:1")
        block("loop0", at: "sys/devices/virtual/block/loop0", dev: "7:0")
        net("eth1", at: "sys/devices/pci0000:00/\(nicUp)/net/eth1", operstate: "up", flags: "0x1003")
        net("eth2", at: "sys/devices/pci0000:00/\(nicDown)/net/eth2", operstate: "down", flags: "0x1002")
        net("lo", at: "sys/devices/virtual/net/lo", operstate: "unknown", flags: "0x9")

        t.file("proc/self/mountinfo", """
            22 1 8:1 / / rw,relatime - ext4 /dev/root rw
            30 22 259:1 / /data rw,relatime shared:1 - xfs /dev/nvme0n1p1 rw
            31 22 253:0 / /home\\040dir rw,relatime - ext4 /dev/mapper/vg-home rw
            32 22 7:0 / /snap rw - squashfs /dev/loop0 ro
            40 22 0:5 / /proc rw - proc proc rw

            """)
        t.file("proc/swaps", """
            Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
            /dev/nvme0n1p3                          partition\t1048572\t\t0\t\t-2

            """)
        return t
    }

    func discovery(_ t: FakeTree) -> PCIDiscovery {
        PCIDiscovery(sysfsRoot: t.sys, procRoot: t.proc, lookUpNames: false)
    }

    @Test func listsEveryFunctionSortedWithItsAttributes() throws {
        let t = Self.makeTree()
        let functions = try discovery(t).functions()
        #expect(functions.map(\.address) == [Self.nvme, Self.audio, Self.nicUp, Self.ready, Self.ahci, Self.nicDown])
        let nvme = functions[0]
        #expect(nvme.vendorID == 0x144d && nvme.deviceID == 0xa808)
        #expect(nvme.classCode == 0x010802 && nvme.className == "NVMe controller")
        #expect(nvme.driver == "nvme" && nvme.iommuGroup == 7 && nvme.numaNode == 0)
        #expect(nvme.driverOverride == nil)
        #expect(nvme.bars == [PCIBAR(index: 0, size: 0x4000, is64Bit: true), PCIBAR(index: 4, size: 32, isIO: true)])
        #expect(nvme.barSizes == [0x4000, 0, 0, 0, 32, 0])
        #expect(functions[2].bars == [PCIBAR(index: 2, size: 0x10_0000, is64Bit: true, isPrefetchable: true)])
        #expect(functions[2].className == "Ethernet controller")
        #expect(functions[3].driverOverride == "vfio-pci" && functions[3].isBoundToVFIO)
        #expect(functions[4].iommuGroup == nil && functions[4].numaNode == nil)
        #expect(functions[4].className == "SATA controller (AHCI)")
    }

    @Test func missingFunctionIsNoSuchDevice() {
        let t = Self.makeTree()
        let missing = PCIAddress(bus: 9, device: 0, function: 0)
        #expect(throws: VFIOError.noSuchDevice(missing)) { try discovery(t).function(at: missing) }
        #expect(throws: VFIOError.noSuchDevice(missing)) { try discovery(t).verdict(for: missing) }
    }

    @Test func mountsSwapAndStackedDevicesCountAsUse() {
        let t = Self.makeTree()
        #expect(discovery(t).usage(of: Self.nvme) == [
            .mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/data", fsType: "xfs"),
            .mountedFilesystem(blockDevice: "dm-0", mountPoint: "/home dir", fsType: "ext4"),
            .activeSwap(blockDevice: "nvme0n1p3"),
        ])
    }

    @Test func rootFilesystemMountedAsDevRootIsFoundByDeviceNumber() {
        let t = Self.makeTree()
        #expect(discovery(t).usage(of: Self.ahci) == [.mountedFilesystem(blockDevice: "sda1", mountPoint: "/", fsType: "ext4")])
    }

    @Test func upInterfaceCountsAsUseAndDownInterfaceDoesNot() {
        let t = Self.makeTree()
        #expect(discovery(t).usage(of: Self.nicUp) == [.networkInterfaceUp(interface: "eth1", operstate: "up")])
        #expect(discovery(t).usage(of: Self.nicDown) == [])
    }

    @Test func mountsTableWithoutMountinfoStillFindsMountsByName() {
        let t = Self.makeTree()
        t.file("proc/mounts", "/dev/nvme0n1p1 /data xfs rw 0 0\n")
        FakeTree.removeTree(t.proc + "/self")
        #expect(discovery(t).usage(of: Self.nvme) == [
            .mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/data", fsType: "xfs"),
            .activeSwap(blockDevice: "nvme0n1p3"),
        ])
    }

    @Test func verdictListsEveryObstacle() throws {
        let t = Self.makeTree()
        let d = discovery(t)
        let nvme = try d.verdict(for: Self.nvme)
        #expect(nvme.obstacles == [
            .notBoundToVFIO(driver: "nvme"),
            .groupShared(group: 7, others: [IOMMUGroupMember(address: Self.audio, driver: "snd_hda_intel")]),
            .inUse(.mountedFilesystem(blockDevice: "nvme0n1p1", mountPoint: "/data", fsType: "xfs")),
            .inUse(.mountedFilesystem(blockDevice: "dm-0", mountPoint: "/home dir", fsType: "ext4")),
            .inUse(.activeSwap(blockDevice: "nvme0n1p3")),
        ])
        #expect(!nvme.isReady && !nvme.canBind)
        #expect(nvme.uses.count == 3)

        let ahci = try d.verdict(for: Self.ahci)
        #expect(ahci.obstacles.first == .noIOMMUGroup)
        #expect(!ahci.canBind)

        let nicDown = try d.verdict(for: Self.nicDown)
        #expect(nicDown.obstacles == [.notBoundToVFIO(driver: "e1000e")])
        #expect(nicDown.canBind && !nicDown.isReady)

        let ready = try d.verdict(for: Self.ready)
        #expect(ready.isReady, "\(ready)")
    }

    @Test func groupMembersAreListedWithTheirDrivers() {
        let t = Self.makeTree()
        #expect(discovery(t).members(ofGroup: 7) == [
            IOMMUGroupMember(address: Self.nvme, driver: "nvme"),
            IOMMUGroupMember(address: Self.audio, driver: "snd_hda_intel"),
        ])
        #expect(discovery(t).members(ofGroup: 99) == [])
    }

    // MARK: - Opening through VFIODevice: the checks before any device node is touched

    func open(_ t: FakeTree, _ address: PCIAddress, allowNoIOMMU: Bool = false) throws(VFIOError) -> VFIODevice {
        try VFIODevice(address: address, options: .init(allowNoIOMMU: allowNoIOMMU, sysfsRoot: t.sys, vfioDirectory: t.dev + "/vfio"))
    }

    @Test func openingAFunctionBoundElsewhereNamesItsDriver() {
        let t = Self.makeTree()
        #expect(throws: VFIOError.notBoundToVFIO(Self.nvme, driver: "nvme")) { try open(t, Self.nvme) }
    }

    @Test func openingAFunctionWithoutIOMMUGroupSaysNoIOMMU() {
        let t = Self.makeTree()
        #expect(throws: VFIOError.noIOMMU(Self.ahci)) { try open(t, Self.ahci) }
        // With no-IOMMU mode allowed, binding is the next step, so that is what it says.
        #expect(throws: VFIOError.notBoundToVFIO(Self.ahci, driver: "ahci")) { try open(t, Self.ahci, allowNoIOMMU: true) }
    }

    @Test func openingWithoutTheVFIOModuleSaysToLoadIt() {
        let t = Self.makeTree()
        #expect(throws: VFIOError.vfioNotLoaded) { try open(t, Self.ready) }
    }

    @Test func openingAMissingFunctionIsNoSuchDevice() {
        let t = Self.makeTree()
        let missing = PCIAddress(bus: 9, device: 0, function: 0)
        #expect(throws: VFIOError.noSuchDevice(missing)) { try open(t, missing) }
    }

    @Test func noIOMMUGroupNodeNeedsTheExplicitOptIn() {
        let t = Self.makeTree()
        t.file("dev/vfio/noiommu-9", "")
        #expect(throws: VFIOError.noIOMMUModeNotAllowed) {
            try VFIOGroup(number: 9, vfioDirectory: t.dev + "/vfio", allowNoIOMMU: false, sysfsRoot: t.sys)
        }
    }

    @Test func missingGroupNodeWithoutContainerNodeSaysToLoadVFIO() {
        let t = Self.makeTree()
        t.directory("dev/vfio")
        #expect(throws: VFIOError.vfioNotLoaded) {
            try VFIOGroup(number: 9, vfioDirectory: t.dev + "/vfio", allowNoIOMMU: false, sysfsRoot: t.sys)
        }
        #expect(throws: VFIOError.vfioNotLoaded) { try VFIOContainer(vfioDirectory: t.dev + "/vfio") }
    }

    @Test func mountTableEscapesAreDecoded() {
        #expect(PCIDiscovery.unescape("/mnt/a\\040b\\011c\\134d") == "/mnt/a b\tc\\d")
        #expect(PCIDiscovery.unescape("/plain") == "/plain")
        #expect(PCIDiscovery.unescape("/trailing\\04") == "/trailing\\04")
    }

    @Test func classNamesCoverTheCommonClasses() {
        #expect(PCIClass.name(of: 0x010802) == "NVMe controller")
        #expect(PCIClass.name(of: 0x020000) == "Ethernet controller")
        #expect(PCIClass.name(of: 0x020001) == "Ethernet controller")
        #expect(PCIClass.name(of: 0x060400) == "PCI bridge")
        #expect(PCIClass.name(of: 0x0c0330) == "USB controller (xHCI)")
        #expect(PCIClass.name(of: 0x018000) == "Mass storage controller")
        #expect(PCIClass.name(of: 0x01ee00) == "Mass storage controller")
        #expect(PCIClass.name(of: 0xfe0000) == nil)
    }
}
