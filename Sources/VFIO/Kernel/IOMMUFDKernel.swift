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

/// The system calls `IOMMUFDBackend` makes: open and ioctl. The live kernel is `LinuxKernel`;
/// tests pass a fake that answers the iommufd and cdev ioctls from a model (range retries, errno
/// paths) while the descriptors it hands out are real ones, so closing them is always safe.
protocol IOMMUFDKernel: Sendable {
    /// open(2) close-on-exec; the caller interprets the errno.
    func open(_ path: String, flags: Int32) -> SystemCall.Opened
    /// ioctl(2) with a pointer argument; EINTR is retried.
    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> SystemCall.Outcome
}

/// The running kernel.
struct LinuxKernel: IOMMUFDKernel {
    func open(_ path: String, flags: Int32) -> SystemCall.Opened { SystemCall.open(path, flags: flags) }

    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> SystemCall.Outcome {
        SystemCall.attempt("ioctl 0x\(String(request, radix: 16))", { Int(shim_ioctl_ptr(fd, request, argument)) })
    }
}

/// The iommufd and cdev ioctls, each with its uapi struct filled in and its answer checked.
///
/// Every struct leads with its own size, so the kernel can grow them; the errnos the uapi gives a
/// common meaning (`include/uapi/linux/iommufd.h`, "General ioctl format") become messages that
/// say what went wrong: ENOTTY, the ioctl does not exist (kernel too old or not iommufd); E2BIG,
/// the kernel is older than the struct and found non-zero bytes it does not know; EOPNOTSUPP, it
/// knows the struct but not a flag or value in it. We send the 6.2 layouts with no newer field
/// set, so on a working kernel none of the three happens.
struct IOMMUFDCalls: Sendable {
    let kernel: any IOMMUFDKernel

    /// Runs one request on `argument` (a uapi struct of `size` bytes); returns the outcome so that
    /// callers can handle their own errnos (EMSGSIZE, ENOMEM) and throws for the common ones.
    func call<Argument>(_ fd: Int32, _ request: UInt, _ name: String, _ argument: inout Argument) -> SystemCall.Outcome {
        withUnsafeMutableBytes(of: &argument) { raw in kernel.ioctl(fd, request, raw.baseAddress!) }
    }

    /// Runs one request and throws for a failure, with `explained[errno]` added to the message
    /// when the caller knows what that errno means for this request.
    func run<Argument>(_ fd: Int32, _ request: UInt, _ name: String, _ argument: inout Argument, size: UInt32,
                       explained: [Int32: String] = [:]) throws(VFIOError) {
        let outcome = call(fd, request, name, &argument)
        guard outcome.failed else { return }
        if let meaning = explained[outcome.errno] { throw .system(operation: "\(name) (\(meaning))", errno: outcome.errno) }
        throw Self.failure(name, size: Int(size), errno: outcome.errno)
    }

    /// The error for a failed request, naming the uapi meaning of the errno.
    static func failure(_ name: String, size: Int, errno: Int32) -> VFIOError {
        switch errno {
        case ENOTTY:
            return .system(operation: "\(name) (the kernel does not know this ioctl: iommufd needs Linux 6.2, the VFIO device cdev 6.6)", errno: errno)
        case E2BIG:
            return .system(operation: "\(name) (the kernel rejects unknown non-zero bytes in the \(size)-byte struct: it is older than this layout)", errno: errno)
        case EOPNOTSUPP:
            return .system(operation: "\(name) (the kernel knows the struct but not a flag or value in it)", errno: errno)
        default:
            return .system(operation: name, errno: errno)
        }
    }

    /// `IOMMU_IOAS_ALLOC`: a new, empty I/O address space.
    func allocateIOAS(_ iommufd: Int32) throws(VFIOError) -> UInt32 {
        var request = shim_iommu_ioas_alloc(size: UInt32(MemoryLayout<shim_iommu_ioas_alloc>.size), flags: 0, out_ioas_id: 0)
        try run(iommufd, SHIM_IOMMU_IOAS_ALLOC, "IOMMU_IOAS_ALLOC", &request, size: request.size)
        return request.out_ioas_id
    }

    /// Most IOVA ranges one answer may carry: a real IOMMU reports a handful (x86: below and
    /// above the MSI window); more is a broken answer, and the retry loop must end.
    static let maximumRanges = 4096

    /// `IOMMU_IOAS_IOVA_RANGES`: the IOVAs the IOAS accepts now, and the alignment a mapping's
    /// start and end need. The kernel answers EMSGSIZE with the count it needs when the array
    /// is too small; the count can change between calls (a device attached meanwhile), so this
    /// asks again with the new size, a bounded number of times.
    func iovaRanges(_ iommufd: Int32, ioas: UInt32) throws(VFIOError) -> (ranges: [Range<UInt64>], alignment: UInt64) {
        var capacity = 8
        for _ in 0..<8 {
            var ranges = [shim_iommu_iova_range](repeating: shim_iommu_iova_range(start: 0, last: 0), count: capacity)
            var request = shim_iommu_ioas_iova_ranges(size: UInt32(MemoryLayout<shim_iommu_ioas_iova_ranges>.size), ioas_id: ioas,
                                                      num_iovas: UInt32(capacity), __reserved: 0, allowed_iovas: 0, out_iova_alignment: 0)
            let outcome = ranges.withUnsafeMutableBufferPointer { buffer -> SystemCall.Outcome in
                request.allowed_iovas = UInt64(UInt(bitPattern: buffer.baseAddress))
                return call(iommufd, SHIM_IOMMU_IOAS_IOVA_RANGES, "IOMMU_IOAS_IOVA_RANGES", &request)
            }
            let count = Int(request.num_iovas)
            if outcome.failed {
                guard outcome.errno == EMSGSIZE else {
                    throw Self.failure("IOMMU_IOAS_IOVA_RANGES of IOAS \(ioas)", size: Int(request.size), errno: outcome.errno)
                }
                // Untrusted count: it must grow and stay bounded, or the loop could run forever.
                guard count > capacity, count <= Self.maximumRanges else {
                    throw .deviceMisbehaved("IOMMU_IOAS_IOVA_RANGES answered EMSGSIZE for \(capacity) ranges but asks for \(count)")
                }
                capacity = count
                continue
            }
            guard count <= capacity else {
                throw .deviceMisbehaved("IOMMU_IOAS_IOVA_RANGES reports \(count) ranges in an array of \(capacity)")
            }
            // The alignment is at most PAGE_SIZE (uapi); 0 would be meaningless, 1 means any.
            let alignment = request.out_iova_alignment
            guard alignment >= 1, alignment <= 1 << 16, alignment & (alignment - 1) == 0 else {
                throw .deviceMisbehaved("IOMMU_IOAS_IOVA_RANGES reports an IOVA alignment of \(alignment)")
            }
            var result: [Range<UInt64>] = []
            for (index, range) in ranges.prefix(count).enumerated() {
                guard range.last >= range.start else {
                    throw .deviceMisbehaved("IOVA range \(index) ends (\(range.last)) before it starts (\(range.start))")
                }
                // `last` is inclusive; the top byte of a range ending at 2^64-1 is given up.
                result.append(range.start..<(range.last == UInt64.max ? range.last : range.last + 1))
            }
            return (result, alignment)
        }
        throw .deviceMisbehaved("IOMMU_IOAS_IOVA_RANGES kept answering EMSGSIZE after 8 attempts")
    }

    /// `IOMMU_IOAS_MAP` at a fixed IOVA (the IOVA policy stays ours), readable and writable.
    func map(_ iommufd: Int32, ioas: UInt32, address: UnsafeMutableRawPointer, length: Int, iova: IOVA) -> SystemCall.Outcome {
        var request = shim_iommu_ioas_map(
            size: UInt32(MemoryLayout<shim_iommu_ioas_map>.size),
            flags: UInt32(SHIM_IOMMU_IOAS_MAP_FIXED_IOVA | SHIM_IOMMU_IOAS_MAP_READABLE | SHIM_IOMMU_IOAS_MAP_WRITEABLE),
            ioas_id: ioas, __reserved: 0, user_va: UInt64(UInt(bitPattern: address)), length: UInt64(length), iova: iova.rawValue)
        return call(iommufd, SHIM_IOMMU_IOAS_MAP, "IOMMU_IOAS_MAP", &request)
    }

    /// `IOMMU_IOAS_UNMAP` of exactly one earlier mapping; returns the bytes the kernel unmapped.
    func unmap(_ iommufd: Int32, ioas: UInt32, iova: IOVA, length: Int) throws(VFIOError) -> UInt64 {
        var request = shim_iommu_ioas_unmap(size: UInt32(MemoryLayout<shim_iommu_ioas_unmap>.size), ioas_id: ioas,
                                            iova: iova.rawValue, length: UInt64(length))
        try run(iommufd, SHIM_IOMMU_IOAS_UNMAP, "IOMMU_IOAS_UNMAP of \(length) bytes at IOVA \(iova)", &request, size: request.size)
        return request.length
    }

    /// `VFIO_DEVICE_BIND_IOMMUFD` on a cdev fd: the device joins the iommufd (it is blocked from
    /// DMA until attached). Returns the device id of the bond.
    func bind(_ device: Int32, iommufd: Int32, name: String) throws(VFIOError) -> UInt32 {
        var request = shim_vfio_device_bind_iommufd(argsz: UInt32(MemoryLayout<shim_vfio_device_bind_iommufd>.size), flags: 0,
                                                    iommufd: iommufd, out_devid: 0)
        try run(device, SHIM_VFIO_DEVICE_BIND_IOMMUFD, "VFIO_DEVICE_BIND_IOMMUFD of \(name)", &request, size: request.argsz,
                explained: [EBUSY: "the device is open elsewhere: through its group, or bound to another iommufd"])
        return request.out_devid
    }

    /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT` to an IOAS: the kernel picks or creates the hardware page
    /// table (returned) and the device's DMA goes through the IOAS from then on.
    func attach(_ device: Int32, ioas: UInt32, name: String) throws(VFIOError) -> UInt32 {
        var request = shim_vfio_device_attach_iommufd_pt(argsz: UInt32(MemoryLayout<shim_vfio_device_attach_iommufd_pt>.size), flags: 0, pt_id: ioas)
        try run(device, SHIM_VFIO_DEVICE_ATTACH_IOMMUFD_PT, "VFIO_DEVICE_ATTACH_IOMMUFD_PT of \(name) to IOAS \(ioas)", &request, size: request.argsz,
                explained: [EADDRINUSE: "an existing mapping covers an address this device reserves, e.g. its MSI window"])
        return request.pt_id
    }
}
