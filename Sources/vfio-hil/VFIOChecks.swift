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

#if canImport(Glibc)
import Glibc
#endif
import DriverScenarios
import VFIO
import VFIOHost

/// Checks of the VFIO layer alone against a real function bound to vfio-pci (QEMU's NVMe
/// controller in the HIL VM). They touch BAR0 only to read identity registers and, for the reset
/// check, to enable and observe the controller; NVMe commands are the NVMe layer's checks.
let vfioChecks: [HILCheck] = [
    HILCheck("vfio-discovery-verdict", "discovery sees the function bound to vfio-pci, in a viable group, unused by the host") { context in
        let discovery = PCIDiscovery()
        let info = try discovery.function(at: context.address)
        context.log("\(info); group \(info.iommuGroup.map(String.init) ?? "none"), NUMA \(info.numaNode.map(String.init) ?? "unknown"), BARs \(info.barSizes)")
        try expect(info.driver == "vfio-pci", "driver is \(info.driver ?? "none"), not vfio-pci")
        try expect(info.iommuGroup != nil, "no IOMMU group in sysfs")
        let verdict = try discovery.verdict(for: context.address)
        try expect(verdict.isReady, "verdict: \(verdict)")
        return .pass
    },

    HILCheck("vfio-open", "the device opens through the backend the run asks for (HIL_VFIO_BACKEND) and says which: a type1v2 container with IOVA ranges, an iommufd IOAS with IOVA ranges and the function's cdev attached, or (HIL_NOIOMMU=1) a no-IOMMU container with physical addresses") { context in
        let device = try context.openDevice()
        context.log("backend: \(device.backend.summary)")
        resultInfo("\(context.address) opened through \(device.backend.summary)")
        if let wanted = context.requiredBackend {
            try expect(device.backend.kind == wanted, "opened through \(device.backend.kind), HIL_VFIO_BACKEND asks for \(wanted)")
        }
        if context.expectsNoIOMMU {
            try expect(device.backend.isNoIOMMU && device.dma.mapper.usesPhysicalAddresses,
                       "a boot without an IOMMU opened \(device.backend.summary), expected a no-IOMMU container")
            return .pass
        }
        try expect(!device.backend.isNoIOMMU, "opened in no-IOMMU mode")
        switch device.backend {
        case let container as VFIOContainer:
            guard let iommu = container.iommuInfo else { throw ScenarioFailure("the container has no IOMMU info") }
            context.log("group \(device.iommuGroup); IOMMU model \(iommu.model), page sizes \(hex(iommu.pageSizes)), IOVA ranges \(iommu.iovaRanges.map { "\(hex($0.lowerBound))-\(hex($0.upperBound))" }) (reported: \(iommu.rangesReported)), dma_avail \(iommu.dmaAvailable.map(String.init) ?? "not reported")")
            try expect(!iommu.iovaRanges.isEmpty, "no IOVA ranges")
            try expect(iommu.pageSizes & 0x1000 != 0, "4 KiB IOMMU pages unsupported (page sizes \(hex(iommu.pageSizes)))")
        case let iommufd as IOMMUFDBackend:
            let ranges = iommufd.iovaRanges
            context.log("IOAS \(iommufd.ioasID), IOVA ranges \(ranges.map { "\(hex($0.lowerBound))-\(hex($0.upperBound))" }), alignment \(hex(iommufd.iovaAlignment)), attachments \(iommufd.attachments.map { "\($0.address) \($0.cdev) dev \($0.deviceID) hwpt \($0.pageTableID)" })")
            try expect(!ranges.isEmpty, "the IOAS has no IOVA ranges")
            try expect(iommufd.iovaAlignment <= 4096, "the IOAS needs \(iommufd.iovaAlignment)-byte alignment, more than a 4 KiB page")
            try expect(iommufd.attachments.contains { $0.address == context.address }, "\(context.address) is not among the IOAS's attachments")
            // The x86 MSI window (0xfee00000) is reserved once a device is attached behind VT-d.
            try expect(!ranges.contains { $0.contains(0xfee0_0000) }, "the IOVA ranges still include the MSI window 0xfee00000 after the attach")
        default:
            throw ScenarioFailure("unknown backend \(device.backend.summary)")
        }
        return .pass
    },

    HILCheck("vfio-region-info", "BAR0 is mmappable memory of at least 16 KiB; config region present; MMIORegion covers registers and admin doorbells") { context in
        let device = try context.openDevice()
        for region in device.regions where region.size > 0 {
            context.log("region \(region.index): size \(hex(region.size)) offset \(hex(region.offset)) r\(region.isReadable ? 1 : 0)w\(region.isWritable ? 1 : 0)m\(region.isMappable ? 1 : 0) sparse \(region.sparseAreas.map { "\($0)" } ?? "none") msix-mappable \(region.msixMappable) caps \(region.capabilities.map(\.id))")
        }
        let bar0 = device.regions[0]
        try expect(bar0.isMappable, "BAR0 is not mmappable")
        try expect(bar0.size >= 16 << 10, "BAR0 is \(bar0.size) bytes, expected at least 16 KiB")
        let config = device.regions[VFIORegionInfo.configIndex]
        try expect(config.isReadable && config.isWritable && config.size >= 256, "config region: \(config)")
        let region = try device.region(bar: 0)
        // NVMe base 2.0, 3.1.2: admin SQ 0 tail doorbell at 0x1000, CQ 0 head at 0x1000 + (4 << CAP.DSTRD).
        let stride = 4 << Int(region.load32(at: 4) & 0xf)  // CAP.DSTRD, bits 35:32
        try expect(region.length >= 0x1000 + stride + 4, "mapped BAR0 run is \(region.length) bytes, too short for the admin doorbells (stride \(stride))")
        return .pass
    },

    HILCheck("vfio-bar0-cap-vs", "BAR0 mmap reads CAP and VS; VS major >= 1; 64-bit load equals two 32-bit loads") { context in
        let device = try context.openDevice()
        let bar0 = try device.region(bar: 0)
        // NVMe base 2.0, 3.1.3.1 CAP at 0x00 (64 bits), 3.1.3.2 VS at 0x08.
        let capabilities = Register<UInt64>(offset: 0x00)
        let version = Register<UInt32>(offset: 0x08)
        let cap = bar0.read(capabilities)
        let low = UInt64(bar0.load32(at: 0)), high = UInt64(bar0.load32(at: 4))
        let vs = bar0.read(version)
        context.log("CAP \(hex(cap)) VS \(hex(vs)) (\(vs >> 16).\((vs >> 8) & 0xff).\(vs & 0xff))")
        try expect(cap != UInt64.max && vs != UInt32.max, "BAR0 reads all ones: the device is not decoding (CAP \(hex(cap)), VS \(hex(vs)))")
        try expect(cap == low | high << 32, "64-bit CAP \(hex(cap)) differs from two 32-bit loads \(hex(low | high << 32))")
        try expect(vs >> 16 >= 1, "VS major is \(vs >> 16)")
        // CAP.MQES (bits 15:0) is zero-based and at least 1.
        try expect(cap & 0xffff >= 1, "CAP.MQES is 0")
        return .pass
    },

    HILCheck("vfio-config-identity", "config space vendor, device and class match sysfs; bus master can be enabled") { context in
        let device = try context.openDevice()
        let info = try PCIDiscovery(lookUpNames: false).function(at: context.address)
        let vendor = try device.readConfig16(at: 0x00), deviceID = try device.readConfig16(at: 0x02)
        let classCode = try device.readConfig32(at: 0x08) >> 8
        context.log("config: \(hex(vendor)):\(hex(deviceID)) class \(hex(classCode)); sysfs: \(hex(info.vendorID)):\(hex(info.deviceID)) class \(hex(info.classCode))")
        try expect(vendor == info.vendorID, "config vendor \(hex(vendor)), sysfs \(hex(info.vendorID))")
        try expect(deviceID == info.deviceID, "config device \(hex(deviceID)), sysfs \(hex(info.deviceID))")
        try expect(classCode == info.classCode, "config class \(hex(classCode)), sysfs \(hex(info.classCode))")
        try device.enableBusMaster()
        let command = try device.readConfig16(at: 0x04)
        try expect(command & 0x6 == 0x6, "PCI_COMMAND is \(hex(command)) after enabling memory and bus master")
        return .pass
    },

    HILCheck("vfio-dma-map", "DMA buffers map at IOVAs inside the kernel's ranges and unmap on release (no-IOMMU: pinned, physically contiguous, at their physical addresses)") { context in
        let device = try context.openDevice()
        if device.dma.mapper.usesPhysicalAddresses {
            let small = try device.dma.allocate(length: 64 << 10)
            let large = try device.dma.allocate(length: 2 << 20, alignment: 2 << 20)
            small.whole.bytes.initializeMemory(as: UInt8.self, repeating: 0xa5)
            large.whole.bytes.initializeMemory(as: UInt8.self, repeating: 0x5a)
            try expect(small.iova.rawValue != 0 && large.iova.rawValue != 0, "a physical address of 0: \(small.iova), \(large.iova)")
            try expect(small.iova.rawValue % 4096 == 0 && large.iova.rawValue % (2 << 20) == 0, "physical addresses not aligned: \(small.iova), \(large.iova)")
            let a = small.iova.rawValue..<(small.iova.rawValue + UInt64(small.length))
            let b = large.iova.rawValue..<(large.iova.rawValue + UInt64(large.length))
            try expect(!a.overlaps(b), "the buffers share physical memory: \(a) and \(b)")
            context.log("pinned 64 KiB at physical \(small.iova) and 2 MiB at physical \(large.iova)")
            return .pass
        }
        let ranges = device.dma.mapper.iovaRanges
        do {
            let small = try device.dma.allocate(length: 64 << 10)
            let large = try device.dma.allocate(length: 2 << 20, alignment: 2 << 20)
            for buffer in [small.whole, large.whole] {
                let end = buffer.iova.rawValue + UInt64(buffer.length)
                try expect(ranges.contains { $0.lowerBound <= buffer.iova.rawValue && end <= $0.upperBound },
                           "IOVA \(buffer.iova) + \(buffer.length) outside \(ranges)")
                buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xa5)
            }
            try expect(small.iova.rawValue % 4096 == 0 && large.iova.rawValue % (2 << 20) == 0, "IOVAs not aligned: \(small.iova), \(large.iova)")
            try expect(device.dma.liveMappings == 2, "\(device.dma.liveMappings) live mappings, expected 2")
            context.log("mapped 64 KiB at \(small.iova) and 2 MiB at \(large.iova)")
        }
        try expect(device.dma.liveMappings == 0 && device.dma.mappedBytes == 0,
                   "\(device.dma.liveMappings) mappings (\(device.dma.mappedBytes) bytes) left after release")
        // The kernel agrees: the same IOVA maps again once unmapped.
        let again = try device.dma.allocate(length: 64 << 10)
        context.log("remapped at \(again.iova)")
        return .pass
    },

    HILCheck("vfio-msix-vectors", "the function offers MSI-X vectors with eventfd support") { context in
        let device = try context.openDevice()
        let count = device.interruptCount(.msix)
        context.log("INTx \(device.interruptCount(.intx)), MSI \(device.interruptCount(.msi)), MSI-X \(count)")
        try expect(count > 0, "no MSI-X vectors")
        return .pass
    },

    HILCheck("vfio-msix-loopback", "loopback (VFIO_IRQ_SET_DATA_BOOL|ACTION_TRIGGER): each triggered MSI-X vector signals its own eventfd, and only it") { context in
        let device = try context.openDevice()
        let count = min(device.interruptCount(.msix), 4)
        guard count > 0 else { return .skip("no MSI-X vectors") }
        try device.enableInterrupts(.msix, count: count)
        let waiter = try InterruptWaiter()
        for vector in 0..<count {
            guard let fd = device.interruptEventFD(vector: vector) else { throw ScenarioFailure("no eventfd for vector \(vector)") }
            try waiter.add(descriptor: fd, tag: UInt64(vector))
        }
        var tags = [UInt64](repeating: 0, count: 8)
        let quiet = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 0) }
        try expect(quiet == 0, "\(quiet) vectors signalled before any trigger")
        for vector in [0, count - 1] {
            try device.triggerInterruptLoopback(vector: vector)
            let n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 2000) }
            try expect(n == 1 && tags[0] == UInt64(vector), "after triggering vector \(vector), fired: \(tags.prefix(n))")
            var value: UInt64 = 0
            let bytes = Glibc.read(device.interruptEventFD(vector: vector)!, &value, 8)
            try expect(bytes == 8 && value == 1, "eventfd of vector \(vector) read \(bytes) bytes, counter \(value)")
        }
        let fds = (0..<count).compactMap { device.interruptEventFD(vector: $0) }
        try device.disableInterrupts()
        try expect(device.interruptEventFD(vector: 0) == nil, "eventfds still present after disable")
        // The device owned them: taken off the index, they are closed (no descriptor leaks).
        let open = fds.filter { fcntl($0, F_GETFD) >= 0 }
        try expect(open.isEmpty, "eventfds \(open) still open after disable")
        return .pass
    },

    HILCheck("vfio-reset", "VFIO_DEVICE_RESET takes an enabled (ready) controller back to disabled") { context in
        let device = try context.openDevice()
        guard device.supportsReset else { return .skip("the function reports no reset") }
        let bar0 = try device.region(bar: 0)
        try device.enableBusMaster()
        // NVMe base 2.0, 3.1.3: AQA 0x24, ASQ 0x28, ACQ 0x30, CC 0x14, CSTS 0x1c.
        let aqa = Register<UInt32>(offset: 0x24), asq = Register<UInt64>(offset: 0x28), acq = Register<UInt64>(offset: 0x30)
        let cc = Register<UInt32>(offset: 0x14), csts = Register<UInt32>(offset: 0x1c)
        let queues = try device.dma.allocate(length: 8192)
        bar0.write(aqa, 0x000f_000f)  // 16-entry admin queues (zero-based sizes)
        bar0.write(asq, queues.iova.rawValue)
        bar0.write(acq, queues.iova.rawValue + 4096)
        bar0.write(cc, 1 | 6 << 16 | 4 << 20)  // EN, IOSQES 64 B, IOCQES 16 B
        // CAP.TO (bits 31:24) in 500 ms units bounds the wait for CSTS.RDY.
        let timeout = max(1, Int((bar0.load32(at: 0) >> 24) & 0xff)) * 500
        guard waitFor(milliseconds: timeout, { bar0.read(csts) & 1 == 1 }) else {
            throw ScenarioFailure("controller did not become ready before the reset (CSTS \(hex(bar0.read(csts))))")
        }
        try device.reset()
        let ready = bar0.read(csts) & 1, enabled = bar0.read(cc) & 1
        context.log("after reset: CC \(hex(bar0.read(cc))), CSTS \(hex(bar0.read(csts))), VS \(hex(bar0.load32(at: 8)))")
        try expect(enabled == 0 && ready == 0, "after reset CC.EN \(enabled), CSTS.RDY \(ready)")
        try expect(bar0.load32(at: 8) >> 16 >= 1, "VS unreadable after reset")
        return .pass
    },

    HILCheck("vfio-group-busy", "while a device holds the function, a second container cannot take its group and says why (through the cdev too: the kernel blocks the group path while a cdev is open)") { context in
        let device = try context.openDevice()
        do {
            let other = try VFIOContainer(allowNoIOMMU: context.expectsNoIOMMU)
            try other.attach(group: device.iommuGroup)
            throw ScenarioFailure("a second container attached group \(device.iommuGroup) while \(device.backend.kind) held the device")
        } catch let error as VFIOError {
            try expect(error == .groupBusy(group: device.iommuGroup), "expected groupBusy, got: \(error)")
            context.log("second container while \(device.backend.kind) holds the device: \(error)")
        }
        return .pass
    },

    HILCheck("vfio-reopen", "release leaves the device re-openable: open twice in a row, and again while a DMA buffer of the last opening lives") { context in
        for round in 1...2 {
            let device = try context.openDevice()
            try expect(try device.readConfig16(at: 0) != 0xffff, "round \(round): config space reads all ones")
        }
        let first = try context.openDevice()
        let survivor = try first.dma.allocate(length: 4096)
        let firstBackend = first.backend as AnyObject
        _ = consume first
        let second = try context.openDevice()
        // No-IOMMU buffers are never mapped, so there is no mapping to count.
        let expected = second.dma.mapper.usesPhysicalAddresses ? 0 : 1
        try expect(second.dma.liveMappings == expected, "reopened device sees \(second.dma.liveMappings) mappings, expected \(expected) (the surviving buffer's)")
        try expect(second.backend as AnyObject === firstBackend, "the reopened device got a new \(second.backend.kind) backend while a buffer of the first still lived")
        context.log("surviving buffer at \(survivor.iova) shared \(second.backend.summary)")
        return .pass
    },
]

/// Polls `condition` every millisecond for up to `milliseconds`.
func waitFor(milliseconds: Int, _ condition: () -> Bool) -> Bool {
    for _ in 0...milliseconds {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}
