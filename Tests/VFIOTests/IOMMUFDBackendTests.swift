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
import Testing
@testable import VFIO

/// The iommufd uapi as Linux 6.12 defines it: request numbers and struct layouts.
@Suite struct IOMMUFDABITests {
    /// `_IO(';', 0x80 + n)` from include/uapi/linux/iommufd.h, `_IO(';', 100 + n)` from vfio.h.
    @Test func ioctlNumbersMatchTheUAPIHeaders() {
        #expect(SHIM_IOMMU_DESTROY == 0x3b80)
        #expect(SHIM_IOMMU_IOAS_ALLOC == 0x3b81)
        #expect(SHIM_IOMMU_IOAS_IOVA_RANGES == 0x3b84)
        #expect(SHIM_IOMMU_IOAS_MAP == 0x3b85)
        #expect(SHIM_IOMMU_IOAS_UNMAP == 0x3b86)
        #expect(SHIM_VFIO_DEVICE_BIND_IOMMUFD == 0x3b76)
        #expect(SHIM_VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3b77)
        #expect(SHIM_VFIO_DEVICE_DETACH_IOMMUFD_PT == 0x3b78)
        #expect(SHIM_IOMMU_IOAS_MAP_FIXED_IOVA == 1 && SHIM_IOMMU_IOAS_MAP_WRITEABLE == 2 && SHIM_IOMMU_IOAS_MAP_READABLE == 4)
    }

    @Test func structLayoutsMatchTheUAPIHeaders() {
        #expect(MemoryLayout<shim_iommu_destroy>.size == 8)
        #expect(MemoryLayout<shim_iommu_ioas_alloc>.size == 12)
        #expect(MemoryLayout<shim_iommu_ioas_alloc>.offset(of: \.out_ioas_id) == 8)
        #expect(MemoryLayout<shim_iommu_iova_range>.size == 16)
        #expect(MemoryLayout<shim_iommu_iova_range>.offset(of: \.last) == 8)
        #expect(MemoryLayout<shim_iommu_ioas_iova_ranges>.size == 32)
        #expect(MemoryLayout<shim_iommu_ioas_iova_ranges>.offset(of: \.num_iovas) == 8)
        #expect(MemoryLayout<shim_iommu_ioas_iova_ranges>.offset(of: \.allowed_iovas) == 16)
        #expect(MemoryLayout<shim_iommu_ioas_iova_ranges>.offset(of: \.out_iova_alignment) == 24)
        #expect(MemoryLayout<shim_iommu_ioas_map>.size == 40)
        #expect(MemoryLayout<shim_iommu_ioas_map>.offset(of: \.ioas_id) == 8)
        #expect(MemoryLayout<shim_iommu_ioas_map>.offset(of: \.user_va) == 16)
        #expect(MemoryLayout<shim_iommu_ioas_map>.offset(of: \.length) == 24)
        #expect(MemoryLayout<shim_iommu_ioas_map>.offset(of: \.iova) == 32)
        #expect(MemoryLayout<shim_iommu_ioas_unmap>.size == 24)
        #expect(MemoryLayout<shim_iommu_ioas_unmap>.offset(of: \.iova) == 8)
        #expect(MemoryLayout<shim_iommu_ioas_unmap>.offset(of: \.length) == 16)
        #expect(MemoryLayout<shim_vfio_device_bind_iommufd>.size == 16)
        #expect(MemoryLayout<shim_vfio_device_bind_iommufd>.offset(of: \.iommufd) == 8)
        #expect(MemoryLayout<shim_vfio_device_bind_iommufd>.offset(of: \.out_devid) == 12)
        #expect(MemoryLayout<shim_vfio_device_attach_iommufd_pt>.size == 12)
        #expect(MemoryLayout<shim_vfio_device_attach_iommufd_pt>.offset(of: \.pt_id) == 8)
        #expect(MemoryLayout<shim_vfio_device_detach_iommufd_pt>.size == 8)
    }
}

/// `IOMMUFDBackend` against `FakeIOMMUFDKernel`: the order of the calls, range queries and their
/// retries, mappings at our IOVAs, devices sharing one IOAS, and what each failure says.
@Suite struct IOMMUFDBackendTests {
    let nvme = PCIAddress(bus: 0, device: 0x10, function: 0)
    let nic = PCIAddress(bus: 0, device: 0x18, function: 0)

    @Test func openingADeviceBindsItAttachesItAndRereadsTheRanges() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        // A fresh IOAS spans everything (the top byte of 2^64-1 is given up).
        #expect(backend.iovaRanges == [0..<UInt64.max])
        let device = try backend.openDevice(nvme, iommuGroup: 7)
        #expect(device.rawValue >= 0)
        let calls = kernel.state.withLock { $0.calls }
        #expect(calls == ["IOAS_ALLOC -> 2", "IOVA_RANGES ioas 2 capacity 8 total 1",
                          "BIND vfio0 -> devid 100", "ATTACH vfio0 ioas 2 -> hwpt 101",
                          "IOVA_RANGES ioas 2 capacity 8 total 2"])
        // The bind names our /dev/iommu descriptor.
        let boundTo = kernel.state.withLock { $0.bound[tree.dev + "/vfio/devices/vfio0"]?.iommufd }
        #expect(boundTo == backend.iommufd.rawValue)
        #expect(backend.iovaRanges == [0..<0xfee0_0000, 0xfef0_0000..<0x1_0000_0000_0000])
        #expect(backend.attachments == [IOMMUFDBackend.Attachment(address: nvme, cdev: "vfio0", deviceID: 100, pageTableID: 101)])
        #expect(backend.kind == .iommufd)
        #expect(backend.summary == "iommufd (IOAS 2, vfio0)")
    }

    @Test func rangeQueryGrowsItsArrayOnEMSGSIZE() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        // Eleven ranges: more than the first query's room for eight.
        let many = (0..<11).map { i -> (UInt64, UInt64) in (UInt64(i + 1) << 32, (UInt64(i + 1) << 32) + 0xffff_ffff) }
        kernel.state.withLock { $0.freshRanges = many }
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        #expect(backend.iovaRanges.count == 11)
        #expect(backend.iovaRanges.first == 0x1_0000_0000..<0x2_0000_0000)
        let calls = kernel.state.withLock { $0.calls.filter { $0.hasPrefix("IOVA_RANGES") } }
        #expect(calls == ["IOVA_RANGES ioas 2 capacity 8 total 11", "IOVA_RANGES ioas 2 capacity 11 total 11"])
    }

    @Test func rangeQueryAsksAgainWhenTheCountChangesBetweenCalls() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        kernel.state.withLock { s in
            s.freshRanges = (0..<8).map { i -> (UInt64, UInt64) in (UInt64(i + 1) << 32, (UInt64(i + 1) << 32) + 0xfff) }
            s.growBetweenCalls = 3
        }
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        // 8 + 1 > 8, then 8 + 2 > 9, then 8 + 3 > 10, then 8 + 3 (growth stopped) fits in 11.
        let capacities = kernel.state.withLock { $0.calls.filter { $0.hasPrefix("IOVA_RANGES") } }
        #expect(capacities.count == 4)
        #expect(backend.iovaRanges.count == 8)
    }

    @Test func rangeQueryThatNeverGrowsIsABrokenAnswerNotAnEndlessLoop() {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        kernel.state.withLock { $0.answerEMSGSIZEWithoutGrowth = true }
        #expect(throws: VFIOError.deviceMisbehaved("IOMMU_IOAS_IOVA_RANGES answered EMSGSIZE for 8 ranges but asks for 8")) {
            _ = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        }
        #expect(kernel.state.withLock { $0.rangeCalls } == 1)
    }

    @Test func buffersAreMappedAtTheIOVAOurAllocatorChose() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        let device = try backend.openDevice(nvme, iommuGroup: 7)
        #expect(device.rawValue >= 0)
        let dma = backend.dmaAllocator(policy: DMAMemoryPolicy(hugepages: .never))
        #expect(backend.dmaAllocator(policy: DMAMemoryPolicy()) === dma)
        do {
            let buffer = try dma.allocate(length: 8192)
            let maps = kernel.state.withLock { $0.maps }
            #expect(maps == [FakeIOMMUFDKernel.Mapping(ioas: 2, iova: buffer.iova.rawValue, length: 8192,
                                                        userVA: UInt64(UInt(bitPattern: buffer.address)), flags: 1 | 2 | 4)])
            #expect(buffer.iova.rawValue == 0x1000)
        }
        let unmaps = kernel.state.withLock { $0.unmaps }
        #expect(unmaps.count == 1 && unmaps[0].iova == 0x1000 && unmaps[0].length == 8192)
        #expect(dma.liveMappings == 0)
    }

    @Test func devicesShareOneIOASAndItsNarrowedRanges() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0"), (nic, "vfio1")])
        let kernel = FakeIOMMUFDKernel()
        // The second device reserves the first 2 MiB as well.
        kernel.state.withLock { s in
            s.rangesAfterAttach = [[(0, 0xfedf_ffff), (0xfef0_0000, 0xffff_ffff_ffff)],
                                   [(0x20_0000, 0xfedf_ffff), (0xfef0_0000, 0xffff_ffff_ffff)]]
        }
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        let first = try backend.openDevice(nvme, iommuGroup: 7)
        let dma = backend.dmaAllocator(policy: DMAMemoryPolicy(hugepages: .never))
        let early = try dma.allocate(length: 4096)
        #expect(early.iova.rawValue == 0x1000)
        let second = try backend.openDevice(nic, iommuGroup: 8)
        #expect(first.rawValue != second.rawValue)
        let attached = kernel.state.withLock { $0.attached }
        #expect(attached == [tree.dev + "/vfio/devices/vfio0": 2, tree.dev + "/vfio/devices/vfio1": 2])
        // Allocations after the second attach stay inside its narrower ranges; the early one lives on.
        let late = try dma.allocate(length: 4096)
        #expect(late.iova.rawValue == 0x20_0000)
        #expect(backend.summary == "iommufd (IOAS 2, vfio0, vfio1)")
    }

    @Test func aSecondBackendIsNotCreatedWhileOneLives() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        let support = VFIOBackendSupport(tree: tree)
        let a = try IOMMUFDBackend.shared(support: support, kernel: kernel)
        let b = try IOMMUFDBackend.shared(support: support, kernel: kernel)
        #expect(a === b)
        #expect(kernel.state.withLock { $0.calls.filter { $0.hasPrefix("IOAS_ALLOC") }.count } == 1)
    }

    @Test func unmapOfFewerBytesThanMappedIsReported() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        let memory = try #require(shim_mmap_anonymous(4096, 0))
        defer { _ = shim_munmap(memory, 4096) }
        try backend.map(address: memory, length: 4096, iova: IOVA(0x10000))
        kernel.state.withLock { $0.shortUnmap = 0 }
        #expect(throws: VFIOError.outOfRange(what: "bytes unmapped at IOVA \(IOVA(0x10000))", value: 0, limit: 4096)) {
            try backend.unmap(iova: IOVA(0x10000), length: 4096)
        }
    }

    @Test func mapRefusesAnIOVAOffTheIOASAlignment() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        kernel.state.withLock { $0.alignment = 65536 }
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        let memory = try #require(shim_mmap_anonymous(4096, 0))
        defer { _ = shim_munmap(memory, 4096) }
        #expect(throws: VFIOError.self) { try backend.map(address: memory, length: 4096, iova: IOVA(0x1000)) }
        #expect(kernel.state.withLock { $0.maps.isEmpty })
    }

    // MARK: - Errors

    @Test func uapiErrnosSayWhatTheKernelMeant() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let memory = try #require(shim_mmap_anonymous(4096, 0))
        defer { _ = shim_munmap(memory, 4096) }
        for (errno, words) in [(E2BIG, "older than this layout"), (EOPNOTSUPP, "not a flag or value"), (EINVAL, "Invalid argument")] {
            let kernel = FakeIOMMUFDKernel()
            let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
            kernel.state.withLock { $0.failNext[SHIM_IOMMU_IOAS_MAP] = errno }
            do {
                try backend.map(address: memory, length: 4096, iova: IOVA(0x10000))
                Issue.record("map did not fail with errno \(errno)")
            } catch {
                #expect(error.description.contains(words), "\(error)")
                #expect(error.description.contains("IOMMU_IOAS_MAP of 4096 bytes at IOVA"))
            }
        }
    }

    @Test func aKernelWithoutTheIoctlIsNamedAsTooOld() {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        kernel.state.withLock { $0.failNext[SHIM_IOMMU_IOAS_ALLOC] = ENOTTY }
        do {
            _ = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
            Issue.record("IOAS_ALLOC did not fail")
        } catch {
            #expect(error.description.contains("iommufd needs Linux 6.2"), "\(error)")
        }
    }

    @Test func aDeviceOpenElsewhereFailsToBindWithTheReason() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        kernel.state.withLock { $0.failNext[SHIM_VFIO_DEVICE_BIND_IOMMUFD] = EBUSY }
        #expect(throws: VFIOError.system(operation: "VFIO_DEVICE_BIND_IOMMUFD of \(nvme) (\(tree.dev)/vfio/devices/vfio0) (the device is open elsewhere: through its group, or bound to another iommufd)", errno: EBUSY)) {
            _ = try backend.openDevice(nvme, iommuGroup: 7)
        }
        #expect(backend.attachments.isEmpty)
    }

    @Test func anAttachThatCollidesWithAMappingSaysSo() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let kernel = FakeIOMMUFDKernel()
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: kernel)
        kernel.state.withLock { $0.failNext[SHIM_VFIO_DEVICE_ATTACH_IOMMUFD_PT] = EADDRINUSE }
        #expect(throws: VFIOError.system(operation: "VFIO_DEVICE_ATTACH_IOMMUFD_PT of \(nvme) (\(tree.dev)/vfio/devices/vfio0) to IOAS 2 (an existing mapping covers an address this device reserves, e.g. its MSI window)", errno: EADDRINUSE)) {
            _ = try backend.openDevice(nvme, iommuGroup: 7)
        }
    }

    @Test func missingOrForbiddenDevIOMMUNamesTheFix() {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let support = VFIOBackendSupport(tree: tree)
        let denied = FakeIOMMUFDKernel()
        denied.state.withLock { $0.openErrors[support.iommuPath] = EACCES }
        #expect(throws: VFIOError.permissionDenied(path: support.iommuPath)) {
            _ = try IOMMUFDBackend(support: support, kernel: denied)
        }
        unlink(support.iommuPath)
        #expect(throws: VFIOError.backendUnavailable(kind: "iommufd", reason: "\(support.iommuPath) is missing: the kernel is built without CONFIG_IOMMUFD (Debian's kernels are; scripts/lib/guest-kernel.sh builds one with it)")) {
            _ = try IOMMUFDBackend(support: support, kernel: FakeIOMMUFDKernel())
        }
    }

    @Test func aFunctionWithoutACDevIsRefusedWithTheReason() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let backend = try IOMMUFDBackend(support: VFIOBackendSupport(tree: tree), kernel: FakeIOMMUFDKernel())
        do {
            _ = try backend.openDevice(nic, iommuGroup: 8)
            Issue.record("opened a function without a cdev")
        } catch {
            #expect(error.description.contains("\(nic) has no vfio-dev/vfioN in sysfs"), "\(error)")
        }
    }
}

/// Which backend `VFIODevice` picks, and what `vfioctl list` and `setup --check` report.
@Suite struct VFIOBackendSelectionTests {
    let nvme = PCIAddress(bus: 0, device: 0x10, function: 0)

    @Test func automaticPicksIOMMUFDWhenTheKernelOffersTheCDev() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let support = VFIOBackendSupport(tree: tree)
        #expect(try support.choose(.automatic, for: nvme, noIOMMUGroup: false) == .iommufd)
        #expect(try support.choose(.container, for: nvme, noIOMMUGroup: false) == .container)
        #expect(support.offers().allSatisfy { $0.isUsable })
    }

    @Test func automaticFallsBackToTheContainerWithoutDevIOMMU() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let support = VFIOBackendSupport(tree: tree)
        unlink(support.iommuPath)
        #expect(try support.choose(.automatic, for: nvme, noIOMMUGroup: false) == .container)
        #expect(throws: VFIOError.self) { try support.choose(.iommufd, for: nvme, noIOMMUGroup: false) }
        let offers = support.offers()
        #expect(offers[0] == VFIOBackendSupport.Offer(kind: .container, unusableReason: nil))
        #expect(offers[1].unusableReason?.contains("CONFIG_IOMMUFD") == true)
    }

    @Test func aKernelWithIOMMUFDButNoDeviceCDevIsNamed() throws {
        let tree = FakeTree()
        tree.file("dev/iommu", "")
        tree.file("dev/vfio/vfio", "")
        tree.file("proc/devices", "Character devices:\n236 vfio\n")
        tree.directory("sys/bus/pci/devices/\(nvme)")
        let support = VFIOBackendSupport(tree: tree)
        #expect(support.offers()[1].unusableReason?.contains("CONFIG_VFIO_DEVICE_CDEV") == true)
        #expect(try support.choose(.automatic, for: nvme, noIOMMUGroup: false) == .container)
    }

    @Test func theCDevIsKnownBeforeAnyFunctionIsBound() {
        let tree = FakeTree()
        tree.file("dev/iommu", "")
        tree.file("proc/devices", "Character devices:\n236 vfio\n237 vfio-dev\n")
        #expect(VFIOBackendSupport(tree: tree).offers()[1].isUsable)
    }

    @Test func noIOMMUGroupsGoThroughTheContainer() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        let support = VFIOBackendSupport(tree: tree)
        #expect(try support.choose(.automatic, for: nvme, noIOMMUGroup: true) == .container)
        #expect(throws: VFIOError.backendUnavailable(kind: "iommufd", reason: "the VFIO device cdev does not support no-IOMMU mode (Linux 6.12); use the container backend")) {
            try support.choose(.iommufd, for: nvme, noIOMMUGroup: true)
        }
    }

    @Test func aCDevNodeMissingFromDevIsNamed() throws {
        let tree = iommufdTree(functions: [(nvme, "vfio0")])
        unlink(tree.dev + "/vfio/devices/vfio0")
        let support = VFIOBackendSupport(tree: tree)
        #expect(support.iommufdProblem(for: nvme, noIOMMUGroup: false) == "\(tree.dev)/vfio/devices/vfio0 is missing: the kernel has no VFIO device cdev, or devtmpfs is not mounted on /dev")
    }
}

@Suite struct IOVARestrictionTests {
    @Test func restrictingKeepsOnlyFreeSpaceInsideTheNewRanges() throws {
        var allocator = IOVAAllocator(ranges: [0..<0x1_0000_0000])
        let a = try allocator.allocate(length: 0x1000)
        allocator.restrict(to: [0x10_0000..<0xfee0_0000, 0xfef0_0000..<0x2_0000_0000])
        #expect(allocator.free == [0x10_0000..<0xfee0_0000, 0xfef0_0000..<0x1_0000_0000])
        // The live allocation below the new start is released cleanly, and not handed out again.
        allocator.release(a, length: 0x1000)
        #expect(allocator.liveCount == 0)
        #expect(allocator.free.first == 0x10_0000..<0xfee0_0000)
        #expect(try allocator.allocate(length: 0x1000).rawValue == 0x10_0000)
    }

    @Test func adjacentAllowedRangesMergeIntoOneFreeRange() {
        var allocator = IOVAAllocator(ranges: [0x1000..<0x10000])
        allocator.restrict(to: [0x2000..<0x5000, 0x5000..<0x8000])
        #expect(allocator.free == [0x2000..<0x8000])
    }
}
