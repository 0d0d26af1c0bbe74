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

/// A real PCI function bound to vfio-pci, opened through VFIO: config space through the device
/// fd, BARs mapped with `mmap`, DMA through its container's IOMMU, interrupts as eventfds.
///
/// Opening checks, in the order that gives the most useful message: the function exists; it is
/// bound to vfio-pci (a function without an IOMMU group gets `.noIOMMU` instead, since binding
/// could not help); the VFIO module is loaded; the group node opens (permission, busy, viable).
///
/// Release order (`deinit`): interrupts disabled and their eventfds closed, BARs unmapped, the
/// device fd closed; then the container goes when its last user (device or DMA buffer) does,
/// detaching its groups before closing itself.
public final class VFIODevice: PCIFunction {
    public struct Options: Sendable {
        /// Accept vfio's no-IOMMU mode (`/dev/vfio/noiommu-N`): no DMA isolation at all.
        public var allowNoIOMMU: Bool
        public var sysfsRoot: String
        public var vfioDirectory: String
        /// DMA memory policy; default: hugepages when possible, on the device's NUMA node.
        public var memoryPolicy: DMAMemoryPolicy?
        /// The IOMMU backend; default: the one `vfioBackend` picks (the process's iommufd IOAS,
        /// or the container this function's group is attached to), or a new one.
        public var backend: (any VFIOBackend)?
        /// Which backend to pick when `backend` is nil: iommufd with the device cdev when the
        /// kernel offers them (`automatic`), or one forced.
        public var vfioBackend: VFIOBackendPreference
        /// `/dev/iommu`, for the iommufd backend.
        public var iommuPath: String
        /// Where the device, its backend and its DMA allocator log; quiet by default.
        public var logger: Logger

        public init(allowNoIOMMU: Bool = false, sysfsRoot: String = "/sys", vfioDirectory: String = "/dev/vfio",
                    memoryPolicy: DMAMemoryPolicy? = nil, backend: (any VFIOBackend)? = nil,
                    vfioBackend: VFIOBackendPreference = .automatic, iommuPath: String = "/dev/iommu",
                    logger: Logger = .quiet(label: "swift-vfio.vfio")) {
            self.allowNoIOMMU = allowNoIOMMU
            self.sysfsRoot = sysfsRoot
            self.vfioDirectory = vfioDirectory
            self.memoryPolicy = memoryPolicy
            self.backend = backend
            self.vfioBackend = vfioBackend
            self.iommuPath = iommuPath
            self.logger = logger
        }
    }

    public let address: PCIAddress
    public let iommuGroup: Int
    public let backend: any VFIOBackend
    public let dma: DMAAllocator
    public let numaNode: Int?
    /// `VFIO_DEVICE_FLAGS_RESET`: `reset()` is available.
    public let supportsReset: Bool
    /// Every region, by index (BAR0-5, ROM, config, VGA for vfio-pci).
    public let regions: [VFIORegionInfo]
    /// Every interrupt index (INTx, MSI, MSI-X, error, request for vfio-pci).
    public let irqs: [VFIOIRQInfo]

    let deviceFD: Int32
    private let pageSize: UInt64
    /// Mappings and interrupt state (the interrupt half is in `Interrupts/VFIODeviceInterrupts.swift`).
    let state: Mutex<State>
    /// `Options.logger`.
    public let logger: Logger

    struct Mapping {
        var base: UnsafeMutableRawPointer
        var length: Int
        var region: MMIORegion
    }

    struct State {
        var mappings: [Int: Mapping] = [:]
        var interruptKind: InterruptKind?
        /// The enabled vectors' eventfds, closed when `disableInterrupts` or `deinit` drops them
        /// after taking them off the index.
        var eventFDs: [VectorEventFD] = []
        var masked: [Bool] = []
        /// The device request interrupt's eventfd, armed at open (`armRemovalRequest`).
        var requestEventFD: VectorEventFD?
    }

    public var name: String { address.description }

    public init(address: PCIAddress, options: Options = Options()) throws(VFIOError) {
        self.address = address
        self.logger = options.logger
        let node = PCISysfsNode(address: address, sysfsRoot: options.sysfsRoot)
        guard node.exists else { throw .noSuchDevice(address) }
        let driver = node.driver
        let group = node.iommuGroup
        if driver != "vfio-pci" {
            // Without an IOMMU group vfio-pci refuses to bind, so "bind it" would be the wrong fix.
            if group == nil && !options.allowNoIOMMU { throw .noIOMMU(address) }
            throw .notBoundToVFIO(address, driver: driver)
        }
        guard let group else { throw .noIOMMU(address) }
        self.iommuGroup = group

        let backend: any VFIOBackend
        if let given = options.backend {
            backend = given
        } else {
            let support = VFIOBackendSupport(sysfsRoot: options.sysfsRoot, vfioDirectory: options.vfioDirectory, iommuPath: options.iommuPath)
            backend = try support.backend(for: address, group: group, options: options)
        }
        self.backend = backend
        let device = try backend.openDevice(address, iommuGroup: group)
        let fd = device.rawValue

        var info = vfio_device_info()
        info.argsz = UInt32(MemoryLayout<vfio_device_info>.size)
        try SystemCall.run("VFIO_DEVICE_GET_INFO for \(address)", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_DEVICE_GET_INFO, &info)) })
        guard info.flags & UInt32(VFIO_DEVICE_FLAGS_PCI) != 0 else {
            throw .deviceMisbehaved("\(address) is not a vfio-pci device (flags 0x\(String(info.flags, radix: 16)))")
        }
        // Untrusted counts: vfio-pci reports 9 regions and 5 IRQ indices; more than 64 is nonsense.
        guard info.num_regions > VFIORegionInfo.configIndex, info.num_regions <= 64, info.num_irqs <= 64 else {
            throw .deviceMisbehaved("\(address) reports \(info.num_regions) regions and \(info.num_irqs) IRQ indices")
        }
        self.supportsReset = info.flags & UInt32(VFIO_DEVICE_FLAGS_RESET) != 0
        self.regions = try Self.regionInfos(fd: fd, count: Int(info.num_regions), address: address)
        self.irqs = Self.irqInfos(fd: fd, count: Int(info.num_irqs))
        guard regions[VFIORegionInfo.configIndex].size >= 64 else {
            throw .deviceMisbehaved("\(address) has a config region of \(regions[VFIORegionInfo.configIndex].size) bytes")
        }

        self.numaNode = node.numaNode
        self.dma = backend.dmaAllocator(policy: options.memoryPolicy ?? DMAMemoryPolicy(hugepages: .preferred, numaNode: numaNode))
        self.pageSize = UInt64(max(4096, sysconf(Int32(_SC_PAGESIZE))))
        self.state = Mutex(State())
        self.deviceFD = device.relinquishOwnership()
        armRemovalRequest()
        logger.debug("opened \(address) through \(backend.summary): group \(group), \(regions.count) regions, MSI-X \(irqs.count > 2 ? irqs[2].count : 0) vectors, reset \(supportsReset)")
    }

    deinit {
        let fd = deviceFD
        let address = address
        let logger = logger
        state.withLock { s in
            if let kind = s.interruptKind {
                let request = Self.irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER),
                                                 index: kind.rawValue, start: 0, count: 0)
                do { try Self.setIRQs(fd: fd, request, "disabling \(kind) of \(address)") } catch {
                    logger.warning("\(error)")
                }
            }
            Self.disarmRemovalRequest(&s, fd: fd, logger: logger)
            for mapping in s.mappings.values { _ = shim_munmap(mapping.base, mapping.length) }
            s = State()
        }
        _ = Glibc.close(fd)
    }

    private static func regionInfos(fd: Int32, count: Int, address: PCIAddress) throws(VFIOError) -> [VFIORegionInfo] {
        var result: [VFIORegionInfo] = []
        for index in 0..<count {
            let header = vfio_region_info(argsz: 0, flags: 0, index: UInt32(index), cap_offset: 0, size: 0, offset: 0)
            do throws(VFIOError) {
                let buffer = try InfoBuffer.query(header) { (p) throws(VFIOError) in
                    try SystemCall.run("VFIO_DEVICE_GET_REGION_INFO \(index)", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_DEVICE_GET_REGION_INFO, p)) })
                }
                var info = try VFIORegionInfo.decode(buffer.bytes)
                guard info.index == index else {
                    throw .deviceMisbehaved("region info for index \(index) came back as index \(info.index)")
                }
                info.index = index
                result.append(info)
            } catch {
                if case .deviceMisbehaved = error { throw error }
                // vfio-pci answers EINVAL for regions a function lacks (VGA on a non-VGA device).
                result.append(VFIORegionInfo(index: index, size: 0, offset: 0, isReadable: false, isWritable: false, isMappable: false))
            }
        }
        return result
    }

    private static func irqInfos(fd: Int32, count: Int) -> [VFIOIRQInfo] {
        (0..<count).map { index in
            var info = vfio_irq_info(argsz: UInt32(MemoryLayout<vfio_irq_info>.size), flags: 0, index: UInt32(index), count: 0)
            let outcome = SystemCall.attempt("VFIO_DEVICE_GET_IRQ_INFO \(index)", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_DEVICE_GET_IRQ_INFO, &info)) })
            if outcome.failed { info.count = 0; info.flags = 0 }
            // Untrusted: MSI-X allows at most 2048 vectors (PCI Local Bus 3.0, 6.8.2.3).
            return VFIOIRQInfo(index: index, count: min(Int(info.count), 2048),
                               supportsEventFD: info.flags & UInt32(VFIO_IRQ_INFO_EVENTFD) != 0,
                               isMaskable: info.flags & UInt32(VFIO_IRQ_INFO_MASKABLE) != 0,
                               isAutomasked: info.flags & UInt32(VFIO_IRQ_INFO_AUTOMASKED) != 0,
                               isNoResize: info.flags & UInt32(VFIO_IRQ_INFO_NORESIZE) != 0)
        }
    }

    // MARK: - Config space

    private var configRegion: VFIORegionInfo { regions[VFIORegionInfo.configIndex] }

    /// The file offset of `width` bytes at `offset` of config space, after checking them.
    private func configOffset(_ offset: Int, _ width: Int) throws(VFIOError) -> off_t {
        let size = configRegion.size
        guard offset >= 0, offset % width == 0, UInt64(offset + width) <= size else {
            throw .outOfRange(what: "config space offset", value: UInt64(max(offset, 0)), limit: size - UInt64(width))
        }
        return off_t(configRegion.offset + UInt64(offset))
    }

    /// Reads `buffer.count` bytes of config space at `offset` (pread on the config region).
    public func readConfig(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(VFIOError) {
        guard buffer.count > 0 else { return }
        let position = try configOffset(offset, 1)
        guard UInt64(offset + buffer.count) <= configRegion.size else {
            throw .outOfRange(what: "config space end", value: UInt64(offset + buffer.count), limit: configRegion.size)
        }
        let fd = deviceFD
        let n = try SystemCall.run("pread of \(buffer.count) bytes of \(address) config space at \(offset)", {
            Glibc.pread(fd, buffer.baseAddress, buffer.count, position)
        })
        guard n == buffer.count else {
            throw .system(operation: "pread of \(address) config space at \(offset) (\(n) of \(buffer.count) bytes)", errno: EIO)
        }
    }

    /// Writes `bytes` to config space at `offset` (pwrite; vfio-pci virtualises parts of it).
    public func writeConfig(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(VFIOError) {
        guard bytes.count > 0 else { return }
        let position = try configOffset(offset, 1)
        guard UInt64(offset + bytes.count) <= configRegion.size else {
            throw .outOfRange(what: "config space end", value: UInt64(offset + bytes.count), limit: configRegion.size)
        }
        let fd = deviceFD
        let n = try SystemCall.run("pwrite of \(bytes.count) bytes of \(address) config space at \(offset)", {
            Glibc.pwrite(fd, bytes.baseAddress, bytes.count, position)
        })
        guard n == bytes.count else {
            throw .system(operation: "pwrite of \(address) config space at \(offset) (\(n) of \(bytes.count) bytes)", errno: EIO)
        }
    }

    private func readConfig<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) throws(VFIOError) -> T {
        _ = try configOffset(offset, MemoryLayout<T>.size)
        var value = T.zero
        try withUnsafeMutableBytes(of: &value) { (raw) throws(VFIOError) in try readConfig(into: raw, at: offset) }
        return T(littleEndian: value)
    }

    private func writeConfig<T: FixedWidthInteger>(_ value: T, at offset: Int) throws(VFIOError) {
        _ = try configOffset(offset, MemoryLayout<T>.size)
        let little = value.littleEndian
        try withUnsafeBytes(of: little) { (raw) throws(VFIOError) in try writeConfig(raw, at: offset) }
    }

    public func readConfig8(at offset: Int) throws(VFIOError) -> UInt8 { try readConfig(UInt8.self, at: offset) }
    public func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 { try readConfig(UInt16.self, at: offset) }
    public func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 { try readConfig(UInt32.self, at: offset) }
    public func writeConfig8(_ value: UInt8, at offset: Int) throws(VFIOError) { try writeConfig(value, at: offset) }
    public func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError) { try writeConfig(value, at: offset) }
    public func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError) { try writeConfig(value, at: offset) }

    /// PCI_COMMAND (offset 4) MEMORY (bit 1) and MASTER (bit 2): decode the BARs and let the
    /// function initiate DMA (PCI Local Bus 3.0, 6.2.2).
    public func enableBusMaster() throws(VFIOError) {
        let command = try readConfig16(at: 0x04)
        let wanted = command | 0x0006
        if wanted != command { try writeConfig16(wanted, at: 0x04) }
    }

    // MARK: - BARs

    public func regionInfo(_ index: Int) -> VFIORegionInfo? {
        regions.indices.contains(index) ? regions[index] : nil
    }

    /// Maps BAR `bar` on first use (see `BARMappingPlan`); the mapping lives as long as the device.
    public func region(bar: Int) throws(VFIOError) -> MMIORegion {
        guard (0..<6).contains(bar) else { throw .outOfRange(what: "BAR index", value: UInt64(max(bar, 0)), limit: 5) }
        let info = regions[bar]
        let fd = deviceFD
        let pageSize = pageSize
        let address = address
        return try state.withLock { (s) throws(VFIOError) -> MMIORegion in
            if let mapping = s.mappings[bar] { return mapping.region }
            let plan = try BARMappingPlan.make(info, pageSize: pageSize)
            let writable: Int32 = info.isWritable ? 1 : 0
            let base: UnsafeMutableRawPointer
            if !plan.isSparse {
                guard let p = shim_mmap_region(fd, off_t(info.offset), Int(plan.windowLength), writable) else {
                    throw .system(operation: "mmap of BAR\(bar) of \(address) (\(plan.windowLength) bytes)", errno: shim_errno())
                }
                base = p
            } else {
                guard let window = shim_mmap_reserve(Int(plan.windowLength)) else {
                    throw .system(operation: "reserving \(plan.windowLength) bytes of address space for BAR\(bar)", errno: shim_errno())
                }
                for area in plan.areas {
                    let placed = shim_mmap_region_fixed(window + Int(area.lowerBound), fd, off_t(info.offset + area.lowerBound),
                                                        Int(area.upperBound - area.lowerBound), writable)
                    if placed == nil {
                        let e = shim_errno()
                        _ = shim_munmap(window, Int(plan.windowLength))
                        throw .system(operation: "mmap of BAR\(bar) area \(area) of \(address)", errno: e)
                    }
                }
                base = window
            }
            let region = MMIORegion(base: base, length: Int(plan.accessibleLength))
            s.mappings[bar] = Mapping(base: base, length: Int(plan.windowLength), region: region)
            return region
        }
    }

    // MARK: - Reset and progress

    /// `VFIO_DEVICE_RESET`: function-level (or PM, or bus) reset, as the kernel can do it. vfio-pci
    /// saves and restores config space around it; the device's registers return to defaults.
    public func reset() throws(VFIOError) {
        guard supportsReset else {
            throw .system(operation: "VFIO_DEVICE_RESET of \(address) (the device offers no FLR, PM or bus reset)", errno: ENOTTY)
        }
        let fd = deviceFD
        try SystemCall.run("VFIO_DEVICE_RESET of \(address)", { Int(shim_ioctl_none(fd, SHIM_VFIO_DEVICE_RESET)) })
    }

    /// A real device runs by itself.
    @inlinable
    public func service() {}
}
