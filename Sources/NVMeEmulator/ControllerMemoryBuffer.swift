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

import NVMeSpec
import VFIO

/// The Controller Memory Buffer (NVMe base 1.4, 3.1.11-12, 3.1.25-26, 8.7): memory in BAR2 that
/// I/O submission queues may live in (CMBSZ.SQS only, as QEMU's `cmb_size_mb` with the NVMe 1.4
/// registers). CMBLOC and CMBSZ read 0 until the host sets CMBMSC.CRE; with CMBMSC.CMSE the
/// buffer answers at the controller address CMBMSC.CBA, and an SQ created there is fetched from
/// BAR2 instead of through the IOMMU. Everything the host writes (CBA, queue bases and sizes) is
/// checked, as QEMU does.
extension ControllerEngine {
    static var memoryBufferLocationOffset: Int { ControllerMemoryRegister.location.offset }
    static var memoryBufferSizeOffset: Int { ControllerMemoryRegister.size.offset }
    static var memoryBufferControlOffset: Int { ControllerMemoryRegister.control.offset }
    static var memoryBufferStatusOffset: Int { ControllerMemoryRegister.status.offset }

    /// Power-on: registers off, CMBLOC/CMBSZ hidden, the buffer's controller space disabled.
    mutating func resetControllerMemoryBuffer() {
        memoryBufferControl = 0
        memoryBufferWindow = nil
        for offset in [Self.memoryBufferLocationOffset, Self.memoryBufferSizeOffset, Self.memoryBufferStatusOffset] {
            bar.store32(0, offset)
        }
        bar.store64(0, Self.memoryBufferControlOffset)
    }

    /// Notices CMBMSC writes and keeps CMBLOC, CMBSZ and CMBSTS read-only. True when it changed something.
    mutating func controllerMemoryRegistersChanged() -> Bool {
        let written = bar.load64(Self.memoryBufferControlOffset)
        let enabled = ControllerMemoryBufferControl(rawValue: memoryBufferControl).registersEnabled
        let location = enabled ? reportedMemoryBuffer.location : 0
        let size = enabled ? reportedMemoryBuffer.size : 0
        if bar.load32(Self.memoryBufferLocationOffset) != location { bar.store32(location, Self.memoryBufferLocationOffset) }
        if bar.load32(Self.memoryBufferSizeOffset) != size { bar.store32(size, Self.memoryBufferSizeOffset) }
        guard written != memoryBufferControl else { return false }
        // Without CAP.CMBS the register is reserved: writes are dropped.
        guard let memory = controllerMemory else {
            bar.store64(0, Self.memoryBufferControlOffset)
            return false
        }
        var control = ControllerMemoryBufferControl(rawValue: written)
        memoryBufferWindow = nil
        var status = ControllerMemoryBufferStatus(rawValue: 0)
        if control.registersEnabled && control.memorySpaceEnabled {
            let base = control.baseAddress
            let (end, overflow) = base.addingReportingOverflow(UInt64(memory.region.length))
            if overflow {
                // CMBSTS.CBAI: the address cannot hold the buffer; the space stays disabled.
                status.baseAddressInvalid = true
                control.memorySpaceEnabled = false
            } else {
                memoryBufferWindow = base..<end
            }
        }
        if !control.registersEnabled { control.memorySpaceEnabled = false }
        memoryBufferControl = control.rawValue
        bar.store64(control.rawValue, Self.memoryBufferControlOffset)
        bar.store32(status.rawValue, Self.memoryBufferStatusOffset)
        let shown = control.registersEnabled
        bar.store32(shown ? reportedMemoryBuffer.location : 0, Self.memoryBufferLocationOffset)
        bar.store32(shown ? reportedMemoryBuffer.size : 0, Self.memoryBufferSizeOffset)
        return true
    }

    /// CMBLOC and CMBSZ: BIR 2 at offset 0, SQS, in 1 MiB units; or the forged values.
    var reportedMemoryBuffer: (location: UInt32, size: UInt32) {
        if let forged = configuration.forgedControllerMemoryBuffer { return (forged.location, forged.size) }
        guard let memory = controllerMemory else { return (0, 0) }
        var location = ControllerMemoryBufferLocation(rawValue: 0)
        location.baseIndicator = 2
        var size = ControllerMemoryBufferSize(rawValue: 0)
        size.submissionQueues = true
        size.sizeUnitCode = 2
        size.sizeUnits = UInt32(memory.region.length >> 20)
        return (location.rawValue, size.rawValue)
    }

    /// Whether `base..<base+bytes` lies in the enabled buffer: an SQ there is fetched from it.
    /// Nil when `base` is outside the buffer; false when it starts inside and does not fit.
    func inControllerMemory(_ base: UInt64, bytes: Int) -> Bool? {
        guard let window = memoryBufferWindow, window.contains(base) else { return nil }
        return UInt64(bytes) <= window.upperBound - base
    }

    /// Loads the SQE at controller address `address`, inside the buffer (checked at creation).
    func fetchFromControllerMemory(_ address: UInt64) -> SubmissionQueueEntry? {
        guard let window = memoryBufferWindow, let memory = controllerMemory, window.contains(address),
              window.upperBound - address >= 64
        else { return nil }
        return UnsafeRawPointer(memory.region.base + Int(address - window.lowerBound)).loadUnaligned(as: SubmissionQueueEntry.self)
    }
}
