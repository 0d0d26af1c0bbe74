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

import Logging
import Synchronization
import VFIO

/// What the controller reports about its Controller Memory Buffer (NVMe base 1.4, 3.1.11-12),
/// after validation: `vfioctl nvme identify` prints it.
public struct ControllerMemoryBufferInfo: Sendable, Equatable {
    /// CMBLOC.BIR: the BAR that holds it.
    public let bar: Int
    /// Where it starts in the BAR, and its size, in bytes.
    public let offset: UInt64
    public let bytes: UInt64
    /// CMBSZ: what may live in it (the driver uses it for submission queues only).
    public let size: ControllerMemoryBufferSize
    /// The address the controller knows it by (CMBMSC.CBA): queue bases name it with this.
    public let controllerAddress: UInt64
}

/// The Controller Memory Buffer as the driver uses it: I/O submission queues written through
/// the BAR's mapping, so that the controller fetches commands from its own memory instead of
/// with a DMA read of host memory per command (the point of SQs in the CMB on real hardware).
///
/// Everything comes from the device and is checked before anything is mapped: CMBLOC.BIR names
/// a BAR that exists and is not BAR0 (whose registers and doorbells a queue must not overlap),
/// the size unit is not reserved, offset and size do not overflow and lie inside the BAR, the
/// BAR has an address. Its controller address range is taken out of the DMA allocator's IOVA
/// space, since the controller would take an IOVA there for its own memory.
///
/// The entries are stored with ordinary stores into the mapping, as Linux's nvme driver
/// `memcpy`s them into its p2pmem CMB: the buffer is memory (prefetchable, any write size, NVMe
/// base 1.4, 8.7), and the write barrier before the SQ tail doorbell (`sfence` on x86-64, for
/// write-combined mappings too) orders them before the controller can fetch them. The host-memory
/// SQ path is unchanged: the ring just points elsewhere.
final class ControllerMemoryBuffer: Sendable {
    let info: ControllerMemoryBufferInfo
    /// The whole BAR; the buffer is `info.offset ..< info.offset + info.bytes` of it.
    let region: MMIORegion
    /// Offsets (from the buffer's start) of the queues placed in it, and their sizes.
    let placed = TSanVisibleMutex<[Int: Int]>([:])

    init(info: ControllerMemoryBufferInfo, region: MMIORegion) {
        self.info = info
        self.region = region
    }

    /// A page-aligned piece of `bytes` for one SQ (first fit), or nil when there is no room.
    func allocate(bytes: Int) -> Int? {
        let size = (bytes + 4095) & ~4095
        return placed.withLock { taken -> Int? in
            var candidate = 0
            for (start, length) in taken.sorted(by: { $0.key < $1.key }) {
                if candidate + size <= start { break }
                candidate = max(candidate, start + length)
            }
            guard UInt64(candidate + size) <= info.bytes else { return nil }
            taken[candidate] = size
            return candidate
        }
    }

    /// Gives a piece back, once no queue on the device can fetch from it.
    func release(_ offset: Int) {
        _ = placed.withLock { $0.removeValue(forKey: offset) }
    }

    /// Where the host writes the piece at `offset`, and the address the controller knows it by.
    func location(of offset: Int) -> (slots: UnsafeMutableRawPointer, controllerAddress: UInt64) {
        (region.base + Int(info.offset) + offset, info.controllerAddress + UInt64(offset))
    }

    /// Reads and checks CMBLOC/CMBSZ (after CMBMSC.CRE, NVMe 1.4), maps the BAR, enables the
    /// controller memory space at the BAR's address (CMBMSC.CMSE), and reserves that range
    /// against IOVAs. Returns the buffer, or why there is none to use (nil, nil: not offered).
    static func discover<Device: PCIFunction>(
        device: Device, registers: MMIORegion, capabilities: Capabilities
    ) -> (buffer: ControllerMemoryBuffer?, unusable: String?) {
        guard capabilities.controllerMemoryBufferSupported else { return (nil, nil) }
        var control = ControllerMemoryBufferControl(rawValue: 0)
        control.registersEnabled = true
        registers.write(ControllerMemoryRegister.control, control)
        // A 1.4 controller shows CMBLOC/CMBSZ once it has seen CRE (an emulated one on its next
        // step); an older one has them all along and no CMBMSC.
        var size = registers.read(ControllerMemoryRegister.size)
        let deadline = Deadline(milliseconds: 100)
        var backoff = Backoff(startMicroseconds: 10, capMicroseconds: 1000)
        while size.rawValue == 0 && !deadline.hasPassed {
            device.service()
            size = registers.read(ControllerMemoryRegister.size)
            if size.rawValue == 0 { backoff.sleep() }
        }
        let location = registers.read(ControllerMemoryRegister.location)
        guard size.rawValue != 0 else { return (nil, "CAP.CMBS is set but CMBSZ reads 0") }
        guard size.rawValue != .max else { return (nil, "CMBSZ reads all ones (the device is gone)") }
        guard let unit = size.unitBytes else { return (nil, "CMBSZ.SZU \(size.sizeUnitCode) is reserved") }
        let (bytes, sizeOverflow) = unit.multipliedReportingOverflow(by: UInt64(size.sizeUnits))
        let (offset, offsetOverflow) = unit.multipliedReportingOverflow(by: UInt64(location.offsetUnits))
        guard !sizeOverflow, !offsetOverflow else { return (nil, "CMBLOC/CMBSZ overflow 64 bits") }
        let bir = location.baseIndicator
        guard (2...5).contains(bir) else {
            return (nil, "CMBLOC.BIR \(bir) is \(bir == 0 ? "BAR0, which holds the registers and doorbells" : "not a BAR that can hold it")")
        }
        let region: MMIORegion
        do {
            region = try device.region(bar: bir)
        } catch {
            return (nil, "CMBLOC.BIR names BAR\(bir), which cannot be mapped (\(error))")
        }
        guard offset <= UInt64(region.length), bytes <= UInt64(region.length) - offset else {
            return (nil, "CMBLOC/CMBSZ put \(bytes) bytes at offset \(offset) of BAR\(bir), which has \(region.length)")
        }
        let barAddress: UInt64
        do {
            barAddress = try Self.busAddress(of: bir, device: device)
        } catch {
            return (nil, "BAR\(bir)'s address cannot be read (\(error))")
        }
        guard barAddress != 0 else { return (nil, "BAR\(bir) has no address assigned") }
        let (base, baseOverflow) = barAddress.addingReportingOverflow(offset)
        guard !baseOverflow, base & 0xFFF == 0, UInt64.max - base >= bytes else {
            return (nil, "BAR\(bir) at 0x\(String(barAddress, radix: 16)) plus offset \(offset) is no usable address")
        }
        control.memorySpaceEnabled = true
        control.baseAddress = base
        registers.write(ControllerMemoryRegister.control, control)
        device.service()
        if registers.read(ControllerMemoryRegister.status).baseAddressInvalid {
            return (nil, "the controller refused 0x\(String(base, radix: 16)) as the buffer's address (CMBSTS.CBAI)")
        }
        guard device.dma.excludeIOVAs(base..<(base + bytes)) else {
            return (nil, "DMA memory is already mapped at the buffer's controller addresses")
        }
        let info = ControllerMemoryBufferInfo(bar: bir, offset: offset, bytes: bytes, size: size, controllerAddress: base)
        return (ControllerMemoryBuffer(info: info, region: region), nil)
    }

    /// The bus address of memory BAR `bar` from config space (64-bit when its type says so).
    static func busAddress<Device: PCIFunction>(of bar: Int, device: Device) throws(VFIOError) -> UInt64 {
        let low = try device.readConfig32(at: 0x10 + 4 * bar)
        var address = UInt64(low & ~0xF)
        if low & 0x6 == 0x4, bar < 5 {
            address |= UInt64(try device.readConfig32(at: 0x14 + 4 * bar)) << 32
        }
        return address
    }
}
