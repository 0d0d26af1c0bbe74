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
import PCIEmulation

/// One namespace of the emulated controller.
public struct EmulatedNamespace: Sendable, Hashable {
    /// Where the blocks live.
    public enum Backing: Sendable, Hashable {
        /// Anonymous memory in 64 KiB chunks allocated on first write; unwritten and deallocated
        /// chunks read as zeroes, so a huge namespace costs only what is written.
        case memory
        /// An image file whose holes read as zeroes; deallocation punches holes
        /// (`fallocate(FALLOC_FL_PUNCH_HOLE)`). A missing or empty file is created at the
        /// namespace size; an existing one must already have that size (an image is never
        /// resized: `EmulatorError.backingFileSize`). `readOnly` opens it read-only: reads work,
        /// writes complete with Write Fault.
        case sparseFile(path: String, readOnly: Bool = false)
    }

    /// Logical block size: 512 or 4096 (LBADS 9 or 12).
    public var blockSize: Int
    /// NSZE = NCAP, in blocks.
    public var capacityInBlocks: UInt64
    public var backing: Backing
    /// LBAF.MS: metadata bytes per block, 0 (none), 8, 16 or 64. Kept beside the data (in memory,
    /// or in `<path>.metadata` next to a backing file).
    public var metadataSize: Int
    /// FLBAS.MSET: metadata travels after each block in the data buffer (extended LBA), else in
    /// the separate buffer at MPTR.
    public var extendedLBA: Bool
    /// DPS: end-to-end protection type, and whether the tuple is first in the metadata.
    public var protection: ProtectionType
    public var protectionFirst: Bool
    /// ELBAF.PIF: the 16-bit or 64-bit guard (QEMU `nvme-ns pif=0|2`).
    public var guardFormat: GuardFormat
    /// NOIOB: the optimal I/O boundary reported in Identify Namespace, in blocks; 0 for none.
    /// Advisory, as on real devices: a command crossing it still works.
    public var optimalIOBoundary: UInt16 = 0
    /// The preferred write granularity in blocks (reported as NPWG, zero-based, with NSFEAT.OPTPERF);
    /// 0 for none. Advisory.
    public var preferredWriteGranularity: UInt16 = 0

    public init(
        blockSize: Int = 512, capacityInBlocks: UInt64, backing: Backing = .memory, metadataSize: Int = 0,
        extendedLBA: Bool = false, protection: ProtectionType = .disabled, protectionFirst: Bool = false,
        guardFormat: GuardFormat = .crc16
    ) {
        self.blockSize = blockSize
        self.capacityInBlocks = capacityInBlocks
        self.backing = backing
        self.metadataSize = metadataSize
        self.extendedLBA = extendedLBA
        self.protection = protection
        self.protectionFirst = protectionFirst
        self.guardFormat = guardFormat
    }

    /// How protection information is computed, or nil when the namespace has none.
    public var protectionFormat: ProtectionFormat? {
        protection == .disabled
            ? nil
            : ProtectionFormat(type: protection, guardFormat: guardFormat, metadataSize: metadataSize, tupleFirst: protectionFirst)
    }

    /// Sentences for what is inconsistent in the metadata and protection settings.
    func formatErrors(_ number: Int) -> [String] {
        var errors: [String] = []
        if ![0, 8, 16, 64].contains(metadataSize) { errors.append("namespace \(number): metadata size \(metadataSize) is not 0, 8, 16 or 64") }
        if extendedLBA && metadataSize == 0 { errors.append("namespace \(number): extended LBA needs metadata") }
        if protection != .disabled && metadataSize < guardFormat.tupleSize {
            errors.append("namespace \(number): \(protection) protection with the \(guardFormat) needs \(guardFormat.tupleSize) metadata bytes per block")
        }
        return errors
    }
}

/// Everything configurable about the emulated controller. Defaults look like a small QEMU NVMe
/// device: one 64 MiB namespace of 512-byte blocks, MQES 1023, 4 KiB pages, MDTS 128 KiB.
public struct EmulatedNVMeConfiguration: Sendable {
    /// NSIDs are 1, 2, ... in this order.
    public var namespaces: [EmulatedNamespace]
    /// CAP.MQES (NVMe base 1.4, 3.1.1): largest queue, zero-based (so 1023 means 1024 entries).
    public var maxQueueEntries: UInt16
    /// CAP.DSTRD: doorbell stride exponent; doorbells are `4 << DSTRD` bytes apart. 0...8 here
    /// (larger strides only grow the BAR).
    public var doorbellStride: UInt8
    /// CAP.MPSMIN and CAP.MPSMAX: host page sizes accepted in CC.MPS, as 2^(12+n).
    public var memoryPageSizeMinimum: UInt8
    public var memoryPageSizeMaximum: UInt8
    /// CAP.TO in 500 ms units.
    public var timeout: UInt8
    /// How long after CC.EN changes CSTS.RDY follows, to exercise the driver's wait; 0 = at once.
    public var readyDelayNanoseconds: UInt64
    /// Identify Controller MDTS: 2^MDTS minimum pages per command; 0 = no limit.
    public var maxDataTransferSize: UInt8
    /// Identify Controller SGLS: SGL data pointers for I/O commands (`walkSGL`). Empty by default,
    /// a PRP-only controller; `.qemu` is what QEMU 7.2 advertises (SGLs without alignment rules,
    /// bit buckets).
    public var sgls = SGLSupport(rawValue: 0)
    /// I/O queue pairs Set Features Number of Queues can grant.
    public var maxIOQueuePairs: Int
    /// MSI-X table size.
    public var msixVectors: Int
    /// Controller Memory Buffer bytes in BAR2 (QEMU's `cmb_size_mb`), a multiple of 1 MiB; 0:
    /// none. It takes I/O submission queues (CMBSZ.SQS), nothing else.
    public var controllerMemoryBufferBytes = 0
    /// CMBLOC and CMBSZ as reported instead of the true ones, for the driver's validation tests
    /// (a BAR that does not exist, a buffer past the end of its BAR, a reserved size unit).
    public var forgedControllerMemoryBuffer: ForgedControllerMemoryBuffer?
    /// Time between fetching a command and posting its completion.
    public var commandLatencyNanoseconds: UInt64
    /// Identify Controller VWC: a volatile write cache is present (Flush matters, feature 06h works).
    public var volatileWriteCache: Bool
    public var mode: EmulationMode
    public var faultPlan: FaultPlan
    /// SN in Identify Controller; also seeds the namespace identifiers.
    public var serialNumber: String
    public var modelNumber: String

    public init(
        namespaces: [EmulatedNamespace] = [EmulatedNamespace(blockSize: 512, capacityInBlocks: 131072)],
        maxQueueEntries: UInt16 = 1023,
        doorbellStride: UInt8 = 0,
        memoryPageSizeMinimum: UInt8 = 0,
        memoryPageSizeMaximum: UInt8 = 4,
        timeout: UInt8 = 20,
        readyDelayNanoseconds: UInt64 = 0,
        maxDataTransferSize: UInt8 = 5,
        maxIOQueuePairs: Int = 16,
        msixVectors: Int = 17,
        commandLatencyNanoseconds: UInt64 = 0,
        volatileWriteCache: Bool = true,
        mode: EmulationMode = .stepped,
        faultPlan: FaultPlan = FaultPlan(),
        serialNumber: String = "EMU00000001",
        modelNumber: String = "swift-vfio emulated NVMe"
    ) {
        self.namespaces = namespaces
        self.maxQueueEntries = maxQueueEntries
        self.doorbellStride = doorbellStride
        self.memoryPageSizeMinimum = memoryPageSizeMinimum
        self.memoryPageSizeMaximum = memoryPageSizeMaximum
        self.timeout = timeout
        self.readyDelayNanoseconds = readyDelayNanoseconds
        self.maxDataTransferSize = maxDataTransferSize
        self.maxIOQueuePairs = maxIOQueuePairs
        self.msixVectors = msixVectors
        self.commandLatencyNanoseconds = commandLatencyNanoseconds
        self.volatileWriteCache = volatileWriteCache
        self.mode = mode
        self.faultPlan = faultPlan
        self.serialNumber = serialNumber
        self.modelNumber = modelNumber
    }

    /// Problems that would make the controller inconsistent, as readable sentences.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        if controllerMemoryBufferBytes < 0 || controllerMemoryBufferBytes % (1 << 20) != 0 || controllerMemoryBufferBytes > 1 << 30 {
            errors.append("the controller memory buffer must be a multiple of 1 MiB up to 1 GiB, not \(controllerMemoryBufferBytes) bytes")
        }
        if namespaces.isEmpty { errors.append("at least one namespace is needed") }
        if namespaces.count > 1024 { errors.append("at most 1024 namespaces (one active namespace list page)") }
        for (i, ns) in namespaces.enumerated() {
            if ns.blockSize != 512 && ns.blockSize != 4096 { errors.append("namespace \(i + 1): block size \(ns.blockSize) is not 512 or 4096") }
            if ns.capacityInBlocks == 0 { errors.append("namespace \(i + 1): capacity is zero") }
            errors += ns.formatErrors(i + 1)
            if ns.capacityInBlocks > (UInt64(1) << 52) || ns.capacityInBlocks > UInt64(Int64.max) / UInt64(max(1, ns.blockSize)) {
                errors.append("namespace \(i + 1): capacity over 2^52 blocks or 2^63 bytes")
            }
        }
        if maxQueueEntries < 1 { errors.append("CAP.MQES must be at least 1 (2 entries)") }
        if doorbellStride > 8 { errors.append("CAP.DSTRD over 8 is not supported (the BAR would be huge)") }
        if memoryPageSizeMinimum > memoryPageSizeMaximum || memoryPageSizeMaximum > 15 { errors.append("CAP.MPSMIN/MPSMAX out of order or over 15") }
        if maxDataTransferSize > 12 { errors.append("MDTS over 12 is not supported") }
        if !(1...4096).contains(maxIOQueuePairs) { errors.append("max I/O queue pairs must be 1...4096") }
        if !(1...2048).contains(msixVectors) { errors.append("MSI-X vectors must be 1...2048") }
        return errors
    }
}

/// Raw CMBLOC and CMBSZ values a hostile controller reports (`forgedControllerMemoryBuffer`).
public struct ForgedControllerMemoryBuffer: Sendable, Hashable {
    public var location: UInt32
    public var size: UInt32

    public init(location: UInt32, size: UInt32) {
        self.location = location
        self.size = size
    }
}
