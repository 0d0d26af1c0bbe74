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
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The iommufd backend: one `/dev/iommu` file and one I/O address space (IOAS) that every device
/// of this backend shares, each device opened as its cdev `/dev/vfio/devices/vfioN`, bound to the
/// iommufd (`VFIO_DEVICE_BIND_IOMMUFD`) and attached to the IOAS (`VFIO_DEVICE_ATTACH_IOMMUFD_PT`).
/// No group and no container: the device fd is the same VFIO device fd for regions, interrupts and
/// reset. Linux 6.2 (iommufd) and 6.6 (device cdev); the layout of every struct is in CShims.
///
/// DMA maps with `IOMMU_IOAS_MAP` at a fixed IOVA from our `IOVAAllocator`, so the IOVA policy is
/// the same as with the container. The IOAS's valid ranges narrow as devices attach (each brings
/// its reserved regions, such as the x86 MSI window); they are read again after every attach, and
/// a live allocator is narrowed with them.
///
/// Lifetime: devices and DMA allocators hold the backend; its `deinit` closes `/dev/iommu`, which
/// destroys the IOAS and every remaining mapping. A device's cdev fd, closed by the device,
/// unbinds it.
public final class IOMMUFDBackend: VFIOBackend {
    public let support: VFIOBackendSupport
    /// The IOAS every device of this backend is attached to.
    public let ioasID: UInt32
    let calls: IOMMUFDCalls
    let iommufd: FileDescriptor
    private let state: Mutex<State>
    private let allocatorSlot = DMAAllocatorSlot()
    /// Where the backend and its DMA allocator log; quiet by default.
    public let logger: Logger

    /// A device bound and attached through this backend.
    public struct Attachment: Sendable, Equatable {
        public var address: PCIAddress
        /// `vfioN` under `/dev/vfio/devices`.
        public var cdev: String
        /// `out_devid` of the bind.
        public var deviceID: UInt32
        /// The hardware page table the kernel attached the device with.
        public var pageTableID: UInt32
    }

    private struct State {
        var ranges: [Range<UInt64>]
        var alignment: UInt64
        var attachments: [Attachment] = []
    }

    /// Opens `/dev/iommu` and allocates the IOAS.
    public convenience init(
        support: VFIOBackendSupport = VFIOBackendSupport(), logger: Logger = .quiet(label: "swift-vfio.vfio")
    ) throws(VFIOError) {
        try self.init(support: support, kernel: LinuxKernel(), logger: logger)
    }

    init(support: VFIOBackendSupport, kernel: any IOMMUFDKernel, logger: Logger = .quiet(label: "swift-vfio.vfio")) throws(VFIOError) {
        self.support = support
        self.logger = logger
        self.calls = IOMMUFDCalls(kernel: kernel)
        let path = support.iommuPath
        switch kernel.open(path, flags: O_RDWR) {
        case .opened(let fd):
            iommufd = fd
        case .failed(let e):
            switch e {
            case ENOENT, ENODEV, ENXIO:
                throw .backendUnavailable(kind: VFIOBackendKind.iommufd.rawValue, reason: support.iommufdProblem() ?? "\(path) is missing")
            case EACCES, EPERM: throw .permissionDenied(path: path)
            default: throw .system(operation: "open \(path)", errno: e)
            }
        }
        let fd = iommufd.rawValue
        ioasID = try calls.allocateIOAS(fd)
        // A fresh IOAS spans everything; attached devices narrow it.
        let (ranges, alignment) = try calls.iovaRanges(fd, ioas: ioasID)
        state = Mutex(State(ranges: ranges, alignment: alignment))
    }

    /// The devices bound and attached so far (closed ones included: the kernel detached them).
    public var attachments: [Attachment] { state.withLock { $0.attachments } }

    /// Minimum alignment of a mapping's IOVA and length (`out_iova_alignment`).
    public var iovaAlignment: UInt64 { state.withLock { $0.alignment } }

    // MARK: - VFIOBackend

    public var kind: VFIOBackendKind { .iommufd }

    public var summary: String {
        let cdevs = state.withLock { $0.attachments.map(\.cdev) }
        return "iommufd (IOAS \(ioasID)\(cdevs.isEmpty ? "" : ", " + cdevs.joined(separator: ", ")))"
    }

    public var isNoIOMMU: Bool { false }

    public func openDevice(_ address: PCIAddress, iommuGroup: Int) throws(VFIOError) -> FileDescriptor {
        let kind = VFIOBackendKind.iommufd.rawValue
        guard let cdev = support.deviceCDevName(of: address) else {
            throw .backendUnavailable(kind: kind, reason: support.iommufdProblem(for: address, noIOMMUGroup: false)
                ?? "\(address) has no vfio-dev/vfioN in sysfs")
        }
        let path = "\(support.devicesDirectory)/\(cdev)"
        let device: FileDescriptor
        switch calls.kernel.open(path, flags: O_RDWR) {
        case .opened(let fd):
            device = fd
        case .failed(let e):
            switch e {
            case EACCES, EPERM: throw .permissionDenied(path: path)
            case ENOENT, ENXIO, ENODEV: throw .backendUnavailable(kind: kind, reason: "\(path) is missing: the kernel has no VFIO device cdev, or devtmpfs is not mounted on /dev")
            default: throw .system(operation: "open \(path)", errno: e)
            }
        }
        let name = "\(address) (\(path))"
        // Closing `device` on a throw below undoes the bind as well (the kernel unbinds on close).
        let deviceID = try calls.bind(device.rawValue, iommufd: iommufd.rawValue, name: name)
        let pageTable = try calls.attach(device.rawValue, ioas: ioasID, name: name)
        let (ranges, alignment) = try calls.iovaRanges(iommufd.rawValue, ioas: ioasID)
        state.withLock { s in
            s.ranges = ranges
            s.alignment = alignment
            s.attachments.append(Attachment(address: address, cdev: cdev, deviceID: deviceID, pageTableID: pageTable))
        }
        allocatorSlot.current?.restrictIOVAs(to: ranges)
        logger.debug("\(address): \(cdev) bound (device id \(deviceID)) and attached to IOAS \(ioasID) (page table \(pageTable)); IOVA ranges \(ranges)")
        return device
    }

    public func dmaAllocator(policy: DMAMemoryPolicy) -> DMAAllocator {
        allocatorSlot.allocator { DMAAllocator(mapper: self, policy: policy, logger: logger) }
    }

    // MARK: - DMAMapper

    public var iovaRanges: [Range<UInt64>] { state.withLock { $0.ranges } }

    /// iommufd has no counterpart of type1's `dma_entry_limit`.
    public var mappingLimit: Int? { nil }

    public var pinsMemory: Bool { true }

    /// `IOMMU_IOAS_MAP` with `FIXED_IOVA`, readable and writable. Pins the pages (accounted to
    /// the user's RLIMIT_MEMLOCK, iommufd's default).
    public func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {
        let alignment = iovaAlignment
        guard iova.rawValue % alignment == 0, UInt64(length) % alignment == 0 else {
            throw .system(operation: "IOMMU_IOAS_MAP of \(length) bytes at IOVA \(iova) (the IOAS needs \(alignment)-byte alignment)", errno: EINVAL)
        }
        let outcome = calls.map(iommufd.rawValue, ioas: ioasID, address: address, length: length, iova: iova)
        guard outcome.failed else { return }
        let size = MemoryLayout<shim_iommu_ioas_map>.size
        if outcome.errno == ENOMEM {
            var soft: UInt64 = 0, hard: UInt64 = 0
            guard shim_memlock_limit(&soft, &hard) == 0, soft != UInt64.max else {
                throw IOMMUFDCalls.failure("IOMMU_IOAS_MAP of \(length) bytes at IOVA \(iova)", size: size, errno: ENOMEM)
            }
            throw .memlockTooLow(current: soft, needed: soft + UInt64(length))
        }
        throw IOMMUFDCalls.failure("IOMMU_IOAS_MAP of \(length) bytes at IOVA \(iova)", size: size, errno: outcome.errno)
    }

    /// `IOMMU_IOAS_UNMAP` of a range mapped by `map`. Unpins the pages.
    public func unmap(iova: IOVA, length: Int) throws(VFIOError) {
        let unmapped = try calls.unmap(iommufd.rawValue, ioas: ioasID, iova: iova, length: length)
        guard unmapped == UInt64(length) else {
            throw .outOfRange(what: "bytes unmapped at IOVA \(iova)", value: unmapped, limit: UInt64(length))
        }
    }

    // MARK: - One backend per process

    private struct WeakBackend { weak var backend: IOMMUFDBackend? }
    private static let live = Mutex<[String: WeakBackend]>([:])

    /// The live backend for these paths, or a new one: every device of the process shares one
    /// IOAS, so one IOVA allocator serves them all and a buffer can be given to any of them.
    static func shared(
        support: VFIOBackendSupport, kernel: any IOMMUFDKernel = LinuxKernel(), logger: Logger = .quiet(label: "swift-vfio.vfio")
    ) throws(VFIOError) -> IOMMUFDBackend {
        let key = "\(support.iommuPath)|\(support.vfioDirectory)|\(support.sysfsRoot)"
        return try live.withLock { (registry) throws(VFIOError) -> IOMMUFDBackend in
            if let backend = registry[key]?.backend { return backend }
            let backend = try IOMMUFDBackend(support: support, kernel: kernel, logger: logger)
            registry = registry.filter { $0.value.backend != nil }
            registry[key] = WeakBackend(backend: backend)
            return backend
        }
    }
}
