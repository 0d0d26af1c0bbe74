#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import VFIO

/// SplitMix64: a seeded generator, so a failing property test replays exactly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A DMAMapper peer for tests: records every map and unmap, can be told to fail the next map.
final class FakeMapper: DMAMapper {
    struct Mapping: Equatable {
        var address: UInt
        var length: Int
        var iova: UInt64
    }
    struct Log {
        var maps: [Mapping] = []
        var unmaps: [Mapping] = []
        var failNextMap = false
    }
    let iovaRanges: [Range<UInt64>]
    let mappingLimit: Int?
    let pinsMemory = false
    let log = Mutex(Log())

    init(ranges: [Range<UInt64>] = [0x10_0000..<0x1_0000_0000], mappingLimit: Int? = nil) {
        iovaRanges = ranges
        self.mappingLimit = mappingLimit
    }

    func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {
        try log.withLock { (l) throws(VFIOError) in
            if l.failNextMap {
                l.failNextMap = false
                throw .system(operation: "fake map", errno: ENOMEM)
            }
            l.maps.append(Mapping(address: UInt(bitPattern: address), length: length, iova: iova.rawValue))
        }
    }

    func unmap(iova: IOVA, length: Int) throws(VFIOError) {
        log.withLock { l in
            let address = l.maps.last { $0.iova == iova.rawValue }?.address ?? 0
            l.unmaps.append(Mapping(address: address, length: length, iova: iova.rawValue))
        }
    }

    var mapCount: Int { log.withLock { $0.maps.count } }
    var unmapCount: Int { log.withLock { $0.unmaps.count } }
    /// Mappings made and not yet unmapped.
    var live: [Mapping] {
        log.withLock { l in
            var live = l.maps
            for u in l.unmaps { if let i = live.firstIndex(where: { $0.iova == u.iova && $0.length == u.length }) { live.remove(at: i) } }
            return live
        }
    }
}

/// A fake sysfs/proc/dev tree in a fresh temporary directory, removed when the test ends.
final class FakeTree {
    let root: String

    init() {
        var template = Array("/tmp/vfio-tests.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        root = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { Self.removeTree(root) }

    var sys: String { root + "/sys" }
    var proc: String { root + "/proc" }
    var dev: String { root + "/dev" }

    func directory(_ path: String) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            _ = mkdir(root + current, 0o755)
        }
    }

    func file(_ path: String, _ contents: String) {
        directory(String(path.split(separator: "/").dropLast().joined(separator: "/")))
        let fd = open(root + "/" + path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        var text = contents
        text.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// A symlink at `path` pointing to `target` (relative targets as sysfs has them).
    func link(_ path: String, to target: String) {
        directory(String(path.split(separator: "/").dropLast().joined(separator: "/")))
        precondition(symlink(target, root + "/" + path) == 0, "symlink \(path) failed")
    }

    /// Removes a tree this test made (never follows symlinks).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in HostSetup.listDirectory(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// The last path component a symlink points to, read independently of the library.
func linkBasename(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    let target = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return target.split(separator: "/").last.map(String.init)
}

func pathExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func environmentValue(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
