#if canImport(Glibc)
import Glibc
#endif
import CShims

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
        let cmdline = (Self.readText("\(procRoot)/cmdline") ?? "").split(separator: " ").map(String.init)
        return Report(
            vfioModuleLoaded: Self.exists("\(sysfsRoot)/bus/pci/drivers/vfio-pci"),
            vfioDeviceNodePresent: Self.exists("/dev/vfio/vfio"),
            iommuUnits: Self.listDirectory("\(sysfsRoot)/class/iommu").count,
            iommuGroups: Self.listDirectory("\(sysfsRoot)/kernel/iommu_groups").count,
            iommuCommandLine: cmdline.filter { $0.hasPrefix("intel_iommu=") || $0.hasPrefix("amd_iommu=") || $0.hasPrefix("iommu=") || $0.hasPrefix("iommu.") },
            noIOMMUModeEnabled: (Self.readText("\(sysfsRoot)/module/vfio/parameters/enable_unsafe_noiommu_mode") ?? "N").hasPrefix("Y"),
            hugepagesTotal: Int(Self.readText("\(sysfsRoot)/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages") ?? "") ?? 0,
            hugepagesFree: Int(Self.readText("\(sysfsRoot)/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") ?? "") ?? 0,
            memlockSoft: soft,
            memlockHard: hard
        )
    }

    /// `modprobe vfio-pci`. Loading a module binds nothing: devices move to vfio-pci only through
    /// `bind`.
    public func loadVFIOModule() throws(VFIOError) {
        if Self.exists("\(sysfsRoot)/bus/pci/drivers/vfio-pci") { return }
        let status = Self.run(["/sbin/modprobe", "vfio-pci"])
        guard status == 0, Self.exists("\(sysfsRoot)/bus/pci/drivers/vfio-pci") else {
            throw .system(operation: "modprobe vfio-pci (exit status \(status); is the module installed for this kernel, and are you root?)", errno: EPERM)
        }
    }

    /// Sets the number of 2 MiB hugepages and returns how many the kernel actually reserved (it
    /// may give fewer when memory is fragmented).
    public func reserveHugepages(_ count: Int) throws(VFIOError) -> Int {
        let path = "\(sysfsRoot)/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
        try Self.writeText(path, "\(count)\n")
        return Int(Self.readText(path) ?? "") ?? 0
    }

    // MARK: - small file helpers shared by discovery and binding

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The trimmed contents of a small text file (sysfs attribute), or nil.
    public static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 1 << 20 { break }
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last == "\n" || last == " " || last == "\0" { text.removeLast() }
        return text
    }

    /// Writes a sysfs attribute, mapping EACCES/EPERM to `.permissionDenied`.
    public static func writeText(_ path: String, _ text: String) throws(VFIOError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == EACCES || e == EPERM || e == EROFS { throw .permissionDenied(path: path) }
            throw .system(operation: "open \(path)", errno: e)
        }
        defer { close(fd) }
        var utf8 = Array(text.utf8)
        let n = utf8.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == utf8.count else {
            throw .system(operation: "write '\(text.split(separator: "\n").first ?? "")' to \(path)", errno: n < 0 ? errno : EIO)
        }
    }

    /// Creates or truncates a regular file and writes `text` (state files, not sysfs).
    public static func writeTextCreating(_ path: String, _ text: String) throws(VFIOError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system(operation: "create \(path)", errno: errno) }
        defer { close(fd) }
        var utf8 = Array(text.utf8)
        let n = utf8.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == utf8.count else { throw .system(operation: "write \(path)", errno: n < 0 ? errno : EIO) }
    }

    /// Entry names of a directory, sorted, without "." and "..".
    public static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The last path component a symlink points to (`driver` → "vfio-pci", `iommu_group` → "12").
    public static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.map(String.init)
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
