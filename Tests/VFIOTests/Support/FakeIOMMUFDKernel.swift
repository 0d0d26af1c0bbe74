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

import CShims
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import VFIO

/// A model of the kernel's iommufd and VFIO cdev ioctls for `IOMMUFDBackend` tests.
///
/// It reads and writes every argument at the byte offsets of Linux 6.12's uapi headers
/// (`include/uapi/linux/iommufd.h`, `vfio.h`), never through the shim's struct types, so a layout
/// mistake in CShims shows up as a wrong answer here. Descriptors are real: `open` opens the file
/// of a `FakeTree`, so the backend closing them is harmless.
final class FakeIOMMUFDKernel: IOMMUFDKernel {
    struct Mapping: Equatable {
        var ioas: UInt32
        var iova: UInt64
        var length: UInt64
        var userVA: UInt64
        var flags: UInt32
    }

    struct State {
        /// Opened descriptors and the path each stands for.
        var paths: [Int32: String] = [:]
        /// Ranges of a fresh IOAS (inclusive ends, as the uapi has them).
        var freshRanges: [(UInt64, UInt64)] = [(0, UInt64.max)]
        /// Ranges after the n-th attach (the last entry repeats).
        var rangesAfterAttach: [[(UInt64, UInt64)]] = [[(0, 0xfedf_ffff), (0xfef0_0000, 0xffff_ffff_ffff)]]
        var alignment: UInt64 = 4096
        var attaches = 0
        /// Extra ranges that appear between one IOVA_RANGES call and the next (a device attaching
        /// meanwhile), for this many calls.
        var growBetweenCalls = 0
        /// EMSGSIZE answers that ask for no more room than was given (a broken kernel).
        var answerEMSGSIZEWithoutGrowth = false
        var nextIOAS: UInt32 = 2
        var nextObject: UInt32 = 100
        var maps: [Mapping] = []
        var unmaps: [Mapping] = []
        /// Devices bound: cdev path → (iommufd, devid); attached: cdev path → ioas.
        var bound: [String: (iommufd: Int32, devid: UInt32)] = [:]
        var attached: [String: UInt32] = [:]
        /// The next call of a request fails with this errno.
        var failNext: [UInt: Int32] = [:]
        /// The short count the next unmap reports, if set.
        var shortUnmap: UInt64?
        var rangeCalls = 0
        var calls: [String] = []
        /// Paths that open with this errno.
        var openErrors: [String: Int32] = [:]
    }

    let state = Mutex(State())

    func open(_ path: String, flags: Int32) -> SystemCall.Opened {
        if let e = state.withLock({ $0.openErrors[path] }) { return .failed(errno: e) }
        let opened = SystemCall.open(path, flags: O_RDONLY)
        switch consume opened {
        case .opened(let fd):
            state.withLock { $0.paths[fd.rawValue] = path }
            return .opened(fd)
        case .failed(let e):
            return .failed(errno: e)
        }
    }

    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        state.withLock { s in
            if let e = s.failNext.removeValue(forKey: request) { return Self.fail(e) }
            let path = s.paths[fd] ?? "?"
            switch request {
            case SHIM_IOMMU_IOAS_ALLOC: return Self.ioasAlloc(&s, argument)
            case SHIM_IOMMU_IOAS_IOVA_RANGES: return Self.iovaRanges(&s, argument)
            case SHIM_IOMMU_IOAS_MAP: return Self.map(&s, argument)
            case SHIM_IOMMU_IOAS_UNMAP: return Self.unmap(&s, argument)
            case SHIM_VFIO_DEVICE_BIND_IOMMUFD: return Self.bind(&s, path, argument)
            case SHIM_VFIO_DEVICE_ATTACH_IOMMUFD_PT: return Self.attach(&s, path, argument)
            default: return Self.fail(ENOTTY)
            }
        }
    }

    static func fail(_ e: Int32) -> SystemCall.Outcome { SystemCall.Outcome(value: -1, errno: e) }
    static let ok = SystemCall.Outcome(value: 0, errno: 0)

    private static func u32(_ p: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 { p.load(fromByteOffset: offset, as: UInt32.self) }
    private static func u64(_ p: UnsafeMutableRawPointer, _ offset: Int) -> UInt64 { p.load(fromByteOffset: offset, as: UInt64.self) }

    // struct iommu_ioas_alloc { u32 size; u32 flags; u32 out_ioas_id; }
    private static func ioasAlloc(_ s: inout State, _ p: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        guard u32(p, 0) == 12 else { return fail(EINVAL) }
        guard u32(p, 4) == 0 else { return fail(EOPNOTSUPP) }
        p.storeBytes(of: s.nextIOAS, toByteOffset: 8, as: UInt32.self)
        s.calls.append("IOAS_ALLOC -> \(s.nextIOAS)")
        s.nextIOAS += 1
        return ok
    }

    // struct iommu_ioas_iova_ranges { u32 size; u32 ioas_id; u32 num_iovas; u32 __reserved;
    //                                 aligned_u64 allowed_iovas; aligned_u64 out_iova_alignment; }
    private static func iovaRanges(_ s: inout State, _ p: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        guard u32(p, 0) == 32 else { return fail(EINVAL) }
        guard u32(p, 12) == 0 else { return fail(EOPNOTSUPP) }
        s.rangeCalls += 1
        var ranges = s.attaches == 0 ? s.freshRanges : s.rangesAfterAttach[min(s.attaches, s.rangesAfterAttach.count) - 1]
        if s.growBetweenCalls > 0 {
            // Each call sees one more (tiny, high) range than the last.
            for i in 0..<UInt64(s.rangeCalls) { ranges.append((0x1_0000_0000_0000 + i * 0x10000, 0x1_0000_0000_0000 + i * 0x10000 + 0xfff)) }
            s.growBetweenCalls -= 1
        }
        let capacity = Int(u32(p, 8))
        let array = UnsafeMutableRawPointer(bitPattern: UInt(u64(p, 16)))
        for (i, r) in ranges.enumerated() where i < capacity {
            guard let array else { return fail(EFAULT) }
            array.storeBytes(of: r.0, toByteOffset: i * 16, as: UInt64.self)
            array.storeBytes(of: r.1, toByteOffset: i * 16 + 8, as: UInt64.self)
        }
        let total = s.answerEMSGSIZEWithoutGrowth ? capacity : ranges.count
        p.storeBytes(of: UInt32(total), toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: s.alignment, toByteOffset: 24, as: UInt64.self)
        s.calls.append("IOVA_RANGES ioas \(u32(p, 4)) capacity \(capacity) total \(total)")
        return s.answerEMSGSIZEWithoutGrowth || ranges.count > capacity ? fail(EMSGSIZE) : ok
    }

    // struct iommu_ioas_map { u32 size; u32 flags; u32 ioas_id; u32 __reserved;
    //                         aligned_u64 user_va; aligned_u64 length; aligned_u64 iova; }
    private static func map(_ s: inout State, _ p: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        guard u32(p, 0) == 40 else { return fail(EINVAL) }
        guard u32(p, 12) == 0 else { return fail(EOPNOTSUPP) }
        let m = Mapping(ioas: u32(p, 8), iova: u64(p, 32), length: u64(p, 24), userVA: u64(p, 16), flags: u32(p, 4))
        if s.maps.contains(where: { $0.ioas == m.ioas && $0.iova < m.iova + m.length && m.iova < $0.iova + $0.length }) {
            return fail(EEXIST)
        }
        s.maps.append(m)
        s.calls.append("MAP ioas \(m.ioas) iova 0x\(String(m.iova, radix: 16)) length \(m.length) flags \(m.flags)")
        return ok
    }

    // struct iommu_ioas_unmap { u32 size; u32 ioas_id; aligned_u64 iova; aligned_u64 length; }
    private static func unmap(_ s: inout State, _ p: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        guard u32(p, 0) == 24 else { return fail(EINVAL) }
        let ioas = u32(p, 4), iova = u64(p, 8), length = u64(p, 16)
        guard let index = s.maps.firstIndex(where: { $0.ioas == ioas && $0.iova == iova && $0.length == length }) else { return fail(ENOENT) }
        let m = s.maps.remove(at: index)
        s.unmaps.append(m)
        p.storeBytes(of: s.shortUnmap ?? length, toByteOffset: 16, as: UInt64.self)
        s.shortUnmap = nil
        s.calls.append("UNMAP ioas \(ioas) iova 0x\(String(iova, radix: 16)) length \(length)")
        return ok
    }

    // struct vfio_device_bind_iommufd { u32 argsz; u32 flags; s32 iommufd; u32 out_devid; }
    private static func bind(_ s: inout State, _ path: String, _ p: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        guard u32(p, 0) == 16 else { return fail(EINVAL) }
        guard u32(p, 4) == 0 else { return fail(EINVAL) }
        guard s.bound[path] == nil else { return fail(EBUSY) }
        let iommufd = p.load(fromByteOffset: 8, as: Int32.self)
        guard s.paths[iommufd] != nil else { return fail(EBADF) }
        let devid = s.nextObject
        s.nextObject += 1
        s.bound[path] = (iommufd, devid)
        p.storeBytes(of: devid, toByteOffset: 12, as: UInt32.self)
        s.calls.append("BIND \(path.split(separator: "/").last ?? "") -> devid \(devid)")
        return ok
    }

    // struct vfio_device_attach_iommufd_pt { u32 argsz; u32 flags; u32 pt_id; }
    private static func attach(_ s: inout State, _ path: String, _ p: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        guard u32(p, 0) == 12 else { return fail(EINVAL) }
        guard s.bound[path] != nil else { return fail(EINVAL) }
        let ioas = u32(p, 8)
        guard ioas >= 2, ioas < s.nextIOAS else { return fail(ENOENT) }
        s.attached[path] = ioas
        s.attaches += 1
        let hwpt = s.nextObject
        s.nextObject += 1
        p.storeBytes(of: hwpt, toByteOffset: 8, as: UInt32.self)
        s.calls.append("ATTACH \(path.split(separator: "/").last ?? "") ioas \(ioas) -> hwpt \(hwpt)")
        return ok
    }
}

/// A fake tree with what the iommufd backend looks at: `/dev/iommu`, the cdevs under
/// `/dev/vfio/devices`, each function's `vfio-dev/vfioN` in sysfs, and `/proc/devices`.
func iommufdTree(functions: [(PCIAddress, String)], group: Int = 7) -> FakeTree {
    let tree = FakeTree()
    tree.file("dev/iommu", "")
    tree.file("dev/vfio/vfio", "")
    tree.file("proc/devices", "Character devices:\n 10 misc\n236 vfio\n237 vfio-dev\n")
    for (address, cdev) in functions {
        tree.file("dev/vfio/devices/\(cdev)", "")
        tree.directory("sys/bus/pci/devices/\(address)/vfio-dev/\(cdev)")
        tree.file("sys/bus/pci/devices/\(address)/vfio-dev/\(cdev)/dev", "237:0\n")
        tree.file("dev/vfio/\(group)", "")
    }
    return tree
}

extension VFIOBackendSupport {
    init(tree: FakeTree) {
        self.init(sysfsRoot: tree.sys, procRoot: tree.proc, vfioDirectory: tree.dev + "/vfio", iommuPath: tree.dev + "/iommu")
    }
}
