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

/// A VFIO container (`/dev/vfio/vfio`): one IOMMU context (IOVA space) that groups are attached
/// to, and the `DMAMapper` that maps memory into it with `VFIO_IOMMU_MAP_DMA`.
///
/// The IOMMU model is set once the first group is attached: type1v2 (`VFIO_TYPE1v2_IOMMU`), or
/// no-IOMMU (`VFIO_NOIOMMU_IOMMU`) only when the container was created with `allowNoIOMMU` and the
/// group is a no-IOMMU one. Then `VFIO_IOMMU_GET_INFO` gives the valid IOVA ranges and the number
/// of mappings still allowed (`dma_avail`), which the IOVA allocator honours.
///
/// Lifetime: devices and DMA allocators hold their container; its `deinit` detaches and closes
/// the groups, then closes the container (which drops every remaining mapping).
public final class VFIOContainer: VFIOBackend {
    /// The IOMMU as the kernel reports it after the first group is attached.
    public struct IOMMUInfo: Sendable, Equatable {
        /// `VFIO_TYPE1v2_IOMMU` or `VFIO_NOIOMMU_IOMMU`.
        public var model: Int32
        /// Bitmap of supported IOMMU page sizes (`iova_pgsizes`); bit 12 is 4 KiB.
        public var pageSizes: UInt64
        /// `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`, or a conservative default when absent.
        public var iovaRanges: [Range<UInt64>]
        /// `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`, when reported.
        public var dmaAvailable: Int?
        /// Whether the ranges came from the kernel (false: the default below was used).
        public var rangesReported: Bool
    }

    /// Used when the kernel does not report ranges (before Linux 5.4): 1 MiB up to the x86 MSI
    /// window at 0xfee00000, which every IOMMU translates.
    public static let defaultIOVARanges: [Range<UInt64>] = [0x10_0000..<0xfee0_0000]

    public let allowNoIOMMU: Bool
    public let vfioDirectory: String
    public let sysfsRoot: String
    let descriptor: FileDescriptor
    private let state: Mutex<State>
    private let allocatorSlot = DMAAllocatorSlot()
    /// Where the container and its DMA allocator log; quiet by default.
    public let logger: Logger

    private struct State {
        var groups: [Int: VFIOGroup] = [:]
        var iommu: IOMMUInfo?
    }

    /// Opens `/dev/vfio/vfio` and checks the API version. Attach groups with `attach(group:)`, or
    /// let `VFIODevice` do it.
    public init(
        allowNoIOMMU: Bool = false, vfioDirectory: String = "/dev/vfio", sysfsRoot: String = "/sys",
        logger: Logger = .quiet(label: "swift-vfio.vfio")
    ) throws(VFIOError) {
        self.allowNoIOMMU = allowNoIOMMU
        self.logger = logger
        self.vfioDirectory = vfioDirectory
        self.sysfsRoot = sysfsRoot
        let path = "\(vfioDirectory)/vfio"
        switch SystemCall.open(path, flags: O_RDWR) {
        case .opened(let fd):
            descriptor = fd
        case .failed(let e):
            switch e {
            case ENOENT, ENODEV, ENXIO: throw .vfioNotLoaded
            case EACCES, EPERM: throw .permissionDenied(path: path)
            default: throw .system(operation: "open \(path)", errno: e)
            }
        }
        state = Mutex(State())
        let fd = descriptor.rawValue
        let version = try SystemCall.run("VFIO_GET_API_VERSION", { Int(shim_ioctl_none(fd, SHIM_VFIO_GET_API_VERSION)) })
        guard version == Int(VFIO_API_VERSION) else {
            throw .system(operation: "VFIO_GET_API_VERSION (kernel speaks \(version), this library \(VFIO_API_VERSION))", errno: EPROTO)
        }
    }

    deinit {
        // Groups first (each detaches itself), then the container fd, closed after this body.
        state.withLock { $0.groups.removeAll() }
    }

    /// Whether the container supports an IOMMU model (`VFIO_CHECK_EXTENSION`).
    public func supports(extension model: Int32) -> Bool {
        let fd = descriptor.rawValue
        let outcome = SystemCall.attempt("VFIO_CHECK_EXTENSION", { Int(shim_ioctl_int(fd, SHIM_VFIO_CHECK_EXTENSION, UInt(model))) })
        return !outcome.failed && outcome.value > 0
    }

    /// The IOMMU info, once a group is attached.
    public var iommuInfo: IOMMUInfo? { state.withLock { $0.iommu } }

    /// Numbers of the attached groups.
    public var groupNumbers: [Int] { state.withLock { $0.groups.keys.sorted() } }

    public var isNoIOMMU: Bool { state.withLock { $0.iommu?.model == Int32(VFIO_NOIOMMU_IOMMU) } }

    /// Opens and attaches IOMMU group `number` (or returns it if already attached). The first
    /// group sets the IOMMU model. `VFIODevice` finds this container through the group from then on.
    @discardableResult
    public func attach(group number: Int) throws(VFIOError) -> VFIOGroup {
        let (group, isNew) = try attachGroup(number)
        if isNew { Self.byGroup.withLock { Self.register(self, group: number, in: &$0) } }
        return group
    }

    private func attachGroup(_ number: Int) throws(VFIOError) -> (VFIOGroup, Bool) {
        let containerFD = descriptor.rawValue
        return try state.withLock { (s) throws(VFIOError) -> (VFIOGroup, Bool) in
            if let group = s.groups[number] { return (group, false) }
            let group = try VFIOGroup(number: number, vfioDirectory: vfioDirectory, allowNoIOMMU: allowNoIOMMU, sysfsRoot: sysfsRoot)
            if let iommu = s.iommu, (iommu.model == Int32(VFIO_NOIOMMU_IOMMU)) != group.isNoIOMMU {
                throw .system(operation: "attaching \(group.path) to a container whose IOMMU model differs (no-IOMMU and translated groups cannot share one)", errno: EINVAL)
            }
            try group.setContainer(containerFD)
            if s.iommu == nil {
                s.iommu = try setIOMMU(noIOMMU: group.isNoIOMMU)
            }
            s.groups[number] = group
            return (group, true)
        }
    }

    /// `VFIO_SET_IOMMU`, then `VFIO_IOMMU_GET_INFO`.
    private func setIOMMU(noIOMMU: Bool) throws(VFIOError) -> IOMMUInfo {
        let fd = descriptor.rawValue
        if noIOMMU {
            let model = Int32(VFIO_NOIOMMU_IOMMU)
            guard supports(extension: model) else {
                throw .system(operation: "VFIO_CHECK_EXTENSION(VFIO_NOIOMMU_IOMMU) (load vfio with enable_unsafe_noiommu_mode=1)", errno: ENOTSUP)
            }
            try SystemCall.run("VFIO_SET_IOMMU(VFIO_NOIOMMU_IOMMU)", { Int(shim_ioctl_int(fd, SHIM_VFIO_SET_IOMMU, UInt(model))) })
            logger.critical("VFIO NO-IOMMU MODE: the device can DMA to any physical memory, nothing isolates it; the kernel is tainted. Use only for testing on a machine without an IOMMU.")
            return IOMMUInfo(model: model, pageSizes: 0, iovaRanges: [], dmaAvailable: nil, rangesReported: false)
        }
        let model = Int32(VFIO_TYPE1v2_IOMMU)
        guard supports(extension: model) else {
            throw .system(operation: "VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU) (is vfio_iommu_type1 loaded?)", errno: ENOTSUP)
        }
        try SystemCall.run("VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)", { Int(shim_ioctl_int(fd, SHIM_VFIO_SET_IOMMU, UInt(model))) })

        let header = vfio_iommu_type1_info(argsz: 0, flags: 0, iova_pgsizes: 0, cap_offset: 0)
        let buffer = try InfoBuffer.query(header) { (p) throws(VFIOError) in
            try SystemCall.run("VFIO_IOMMU_GET_INFO", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_IOMMU_GET_INFO, p)) })
        }
        let raw = buffer.bytes.loadUnaligned(as: vfio_iommu_type1_info.self)
        var info = IOMMUInfo(model: model, pageSizes: raw.flags & UInt32(VFIO_IOMMU_INFO_PGSIZES) != 0 ? raw.iova_pgsizes : 0x1000,
                             iovaRanges: Self.defaultIOVARanges, dmaAvailable: nil, rangesReported: false)
        if raw.flags & UInt32(VFIO_IOMMU_INFO_CAPS) != 0, raw.cap_offset != 0 {
            for capability in try VFIOCapabilityChain.walk(buffer.bytes, first: Int(raw.cap_offset)) {
                switch Int32(capability.id) {
                case VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE:
                    info.iovaRanges = try VFIOCapabilityChain.iovaRanges(buffer.bytes, at: capability)
                    info.rangesReported = true
                case VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL:
                    info.dmaAvailable = try VFIOCapabilityChain.dmaAvailable(buffer.bytes, at: capability)
                default:
                    break
                }
            }
        }
        if !info.rangesReported {
            logger.info("the kernel reports no valid IOVA ranges; using \(Self.defaultIOVARanges)")
        }
        return info
    }

    // MARK: - VFIOBackend

    public var kind: VFIOBackendKind { .container }

    public var summary: String {
        let (model, groups) = state.withLock { s in (s.iommu?.model, s.groups.keys.sorted()) }
        let name = model == Int32(VFIO_NOIOMMU_IOMMU) ? "no-IOMMU" : model == Int32(VFIO_TYPE1v2_IOMMU) ? "type1v2" : "no IOMMU model yet"
        return "container (\(name), group\(groups.count == 1 ? "" : "s") \(groups.map(String.init).joined(separator: ", ")))"
    }

    public func openDevice(_ address: PCIAddress, iommuGroup: Int) throws(VFIOError) -> FileDescriptor {
        try attach(group: iommuGroup).openDevice(address)
    }

    public func dmaAllocator(policy: DMAMemoryPolicy) -> DMAAllocator {
        allocatorSlot.allocator { DMAAllocator(mapper: self, policy: policy, logger: logger) }
    }

    // MARK: - DMAMapper

    public var iovaRanges: [Range<UInt64>] { state.withLock { $0.iommu?.iovaRanges ?? [] } }

    public var mappingLimit: Int? { state.withLock { $0.iommu?.dmaAvailable } }

    public var pinsMemory: Bool { true }

    public var usesPhysicalAddresses: Bool { isNoIOMMU }

    /// `VFIO_IOMMU_MAP_DMA`, readable and writable by the device. Pins the pages.
    public func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {
        if isNoIOMMU {
            throw .system(operation: "VFIO_IOMMU_MAP_DMA in no-IOMMU mode (nothing translates DMA: buffers carry physical addresses and are never mapped)", errno: ENOTSUP)
        }
        var request = vfio_iommu_type1_dma_map(
            argsz: UInt32(MemoryLayout<vfio_iommu_type1_dma_map>.size),
            flags: UInt32(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
            vaddr: UInt64(UInt(bitPattern: address)), iova: iova.rawValue, size: UInt64(length))
        let fd = descriptor.rawValue
        let outcome = SystemCall.attempt("VFIO_IOMMU_MAP_DMA", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_IOMMU_MAP_DMA, &request)) })
        guard outcome.failed else { return }
        switch outcome.errno {
        case ENOMEM:
            // vfio_iommu_type1 fails with ENOMEM when pinning would pass RLIMIT_MEMLOCK.
            var soft: UInt64 = 0, hard: UInt64 = 0
            if shim_memlock_limit(&soft, &hard) == 0, soft != UInt64.max {
                throw .memlockTooLow(current: soft, needed: soft + UInt64(length))
            }
            throw .system(operation: "VFIO_IOMMU_MAP_DMA of \(length) bytes at IOVA \(iova)", errno: ENOMEM)
        case ENOSPC:
            // dma_entry_limit reached.
            throw .iovaExhausted(requested: length)
        default:
            throw .system(operation: "VFIO_IOMMU_MAP_DMA of \(length) bytes at IOVA \(iova)", errno: outcome.errno)
        }
    }

    /// `VFIO_IOMMU_UNMAP_DMA` of a range mapped by `map`. Unpins the pages.
    public func unmap(iova: IOVA, length: Int) throws(VFIOError) {
        if isNoIOMMU { return }
        var request = vfio_iommu_type1_dma_unmap()
        request.argsz = UInt32(MemoryLayout<vfio_iommu_type1_dma_unmap>.size)
        request.iova = iova.rawValue
        request.size = UInt64(length)
        let fd = descriptor.rawValue
        try SystemCall.run("VFIO_IOMMU_UNMAP_DMA of \(length) bytes at IOVA \(iova)", {
            Int(shim_ioctl_ptr(fd, SHIM_VFIO_IOMMU_UNMAP_DMA, &request))
        })
        guard request.size == UInt64(length) else {
            throw .outOfRange(what: "bytes unmapped at IOVA \(iova)", value: request.size, limit: UInt64(length))
        }
    }

    // MARK: - Containers shared by group

    private struct WeakContainer { weak var container: VFIOContainer? }
    private static let byGroup = Mutex<[Int: WeakContainer]>([:])

    /// The live container that group `number` is attached to, or a new one with it attached.
    /// A group can be open only once, so a device reopened while DMA buffers of its previous
    /// opening still live (they keep that container and its group) must share that container.
    static func container(
        forGroup number: Int, allowNoIOMMU: Bool, vfioDirectory: String, sysfsRoot: String, logger: Logger
    ) throws(VFIOError) -> VFIOContainer {
        try byGroup.withLock { (registry) throws(VFIOError) -> VFIOContainer in
            if let live = registry[number]?.container, live.vfioDirectory == vfioDirectory { return live }
            let container = try VFIOContainer(allowNoIOMMU: allowNoIOMMU, vfioDirectory: vfioDirectory, sysfsRoot: sysfsRoot, logger: logger)
            _ = try container.attachGroup(number)
            register(container, group: number, in: &registry)
            return container
        }
    }

    private static func register(_ container: VFIOContainer, group: Int, in registry: inout [Int: WeakContainer]) {
        registry = registry.filter { $0.value.container != nil }
        registry[group] = WeakContainer(container: container)
    }
}
