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

import VFIO

#if _endian(big)
#error("SubmissionQueueEntry/CompletionQueueEntry are stored in memory as the little-endian wire layout")
#endif

/// Queue priority of an I/O submission queue, Create I/O SQ CDW11.QPRIO (NVMe base 1.4, 5.4).
/// Only meaningful with weighted round robin arbitration.
public enum QueuePriority: UInt8, Sendable {
    case urgent = 0
    case high = 1
    case medium = 2
    case low = 3
}

/// Get Features CDW10.SEL (NVMe base 1.4, 5.13).
public enum FeatureSelect: UInt8, Sendable {
    case current = 0
    case `default` = 1
    case saved = 2
    case supportedCapabilities = 3
}

/// A 64-byte submission queue entry (NVMe base 1.4, 4.2 "Submission Queue Entry - Command Format").
///
/// Stored properties follow the spec's byte order exactly, so on a little-endian host the value's
/// memory is the wire format and the driver can store it straight into the queue slot; the tests
/// pin size 64 and each field offset (compare `BUILD_BUG_ON(sizeof(struct nvme_command) != 64)`
/// in Linux). The static constructors fill the command dwords; the driver sets `commandID`, `prp1`
/// and `prp2` afterwards. The decoding accessors are for the emulator, which reads SQEs the host
/// wrote: they never trap, whatever the dwords hold.
@frozen
public struct SubmissionQueueEntry: Hashable, Sendable {
    /// CDW0.OPC: opcode.
    public var opcode: UInt8
    /// CDW0 bits 15:08: FUSE in bits 1:0, PSDT in bits 7:6 (0 = PRPs).
    public var flags: UInt8
    /// CDW0.CID: command identifier, unique among outstanding commands of this SQ.
    public var commandID: UInt16
    /// NSID: namespace identifier.
    public var namespaceID: UInt32
    public var cdw2: UInt32
    public var cdw3: UInt32
    /// MPTR: metadata pointer.
    public var metadataPointer: UInt64
    /// DPTR PRP entry 1.
    public var prp1: UInt64
    /// DPTR PRP entry 2, or a PRP list pointer.
    public var prp2: UInt64
    public var cdw10: UInt32
    public var cdw11: UInt32
    public var cdw12: UInt32
    public var cdw13: UInt32
    public var cdw14: UInt32
    public var cdw15: UInt32

    @inlinable
    public init(
        opcode: UInt8, flags: UInt8 = 0, commandID: UInt16 = 0, namespaceID: UInt32 = 0,
        cdw2: UInt32 = 0, cdw3: UInt32 = 0, metadataPointer: UInt64 = 0, prp1: UInt64 = 0,
        prp2: UInt64 = 0, cdw10: UInt32 = 0, cdw11: UInt32 = 0, cdw12: UInt32 = 0,
        cdw13: UInt32 = 0, cdw14: UInt32 = 0, cdw15: UInt32 = 0
    ) {
        self.opcode = opcode
        self.flags = flags
        self.commandID = commandID
        self.namespaceID = namespaceID
        self.cdw2 = cdw2
        self.cdw3 = cdw3
        self.metadataPointer = metadataPointer
        self.prp1 = prp1
        self.prp2 = prp2
        self.cdw10 = cdw10
        self.cdw11 = cdw11
        self.cdw12 = cdw12
        self.cdw13 = cdw13
        self.cdw14 = cdw14
        self.cdw15 = cdw15
    }

    /// CDW0.FUSE: 0 normal, 1 first of a fused pair, 2 second of a fused pair.
    @inlinable public var fusedOperation: UInt8 {
        get { flags.bits(0..<2) }
        set { flags.setBits(0..<2, to: newValue) }
    }
    /// CDW0.PSDT: 0 PRPs, 1-2 SGLs.
    @inlinable public var dataPointerType: UInt8 {
        get { flags.bits(6..<8) }
        set { flags.setBits(6..<8, to: newValue) }
    }
    /// Transfer direction implied by the opcode.
    @inlinable public var dataTransferDirection: DataTransferDirection { DataTransferDirection(opcode: opcode) }
    /// The opcode as an admin command, or nil if unknown (only meaningful on the admin queue).
    @inlinable public var adminOpcode: AdminOpcode? { AdminOpcode(rawValue: opcode) }
    /// The opcode as an NVM I/O command, or nil if unknown (only meaningful on I/O queues).
    @inlinable public var ioOpcode: IOOpcode? { IOOpcode(rawValue: opcode) }

    @inlinable
    static func oneBased(_ count: Int, max: Int, _ what: @autoclosure () -> String) -> UInt32 {
        precondition(count >= 1 && count <= max, what())
        return UInt32(count - 1)
    }
}

// MARK: - Admin commands (NVMe base 1.4, 5)

extension SubmissionQueueEntry {
    /// Identify (5.15): CDW10.CNS bits 7:0, CDW10.CNTID bits 31:16. Returns 4096 bytes at PRP1/PRP2.
    @inlinable
    public static func identify(cns: IdentifyCNS, namespaceID: UInt32 = 0, controllerID: UInt16 = 0) -> SubmissionQueueEntry {
        SubmissionQueueEntry(
            opcode: AdminOpcode.identify.rawValue, namespaceID: namespaceID,
            cdw10: UInt32(cns.rawValue) | UInt32(controllerID) << 16)
    }

    /// Create I/O Completion Queue (5.3): CDW10.QID 15:00, CDW10.QSIZE 31:16 (zero-based),
    /// CDW11.PC bit 0, CDW11.IEN bit 1, CDW11.IV 31:16. `size` is in entries, 2...65536.
    @inlinable
    public static func createIOCompletionQueue(
        id: UInt16, size: Int, baseIOVA: UInt64, physicallyContiguous: Bool = true,
        interruptsEnabled: Bool, vector: UInt16 = 0
    ) -> SubmissionQueueEntry {
        precondition(size >= 2, "a queue needs at least 2 entries")
        let qsize = oneBased(size, max: 65536, "queue size must be 2...65536 entries")
        return SubmissionQueueEntry(
            opcode: AdminOpcode.createIOCompletionQueue.rawValue, prp1: baseIOVA,
            cdw10: UInt32(id) | qsize << 16,
            cdw11: (physicallyContiguous ? 1 : 0) | (interruptsEnabled ? 2 : 0) | UInt32(vector) << 16)
    }

    /// Create I/O Submission Queue (5.4): CDW10.QID/QSIZE as for a CQ, CDW11.PC bit 0,
    /// CDW11.QPRIO bits 2:1, CDW11.CQID 31:16.
    @inlinable
    public static func createIOSubmissionQueue(
        id: UInt16, size: Int, baseIOVA: UInt64, completionQueue: UInt16,
        priority: QueuePriority = .medium, physicallyContiguous: Bool = true
    ) -> SubmissionQueueEntry {
        precondition(size >= 2, "a queue needs at least 2 entries")
        let qsize = oneBased(size, max: 65536, "queue size must be 2...65536 entries")
        return SubmissionQueueEntry(
            opcode: AdminOpcode.createIOSubmissionQueue.rawValue, prp1: baseIOVA,
            cdw10: UInt32(id) | qsize << 16,
            cdw11: (physicallyContiguous ? 1 : 0) | UInt32(priority.rawValue) << 1 | UInt32(completionQueue) << 16)
    }

    /// Delete I/O Submission Queue (5.6): CDW10.QID.
    @inlinable
    public static func deleteIOSubmissionQueue(id: UInt16) -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: AdminOpcode.deleteIOSubmissionQueue.rawValue, cdw10: UInt32(id))
    }

    /// Delete I/O Completion Queue (5.5): CDW10.QID. Its SQs must be deleted first.
    @inlinable
    public static func deleteIOCompletionQueue(id: UInt16) -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: AdminOpcode.deleteIOCompletionQueue.rawValue, cdw10: UInt32(id))
    }

    /// Get Features (5.13): CDW10.FID 7:0, CDW10.SEL 10:8. The value comes back in CQE DW0.
    @inlinable
    public static func getFeatures(
        _ fid: FeatureIdentifier, select: FeatureSelect = .current, cdw11: UInt32 = 0
    ) -> SubmissionQueueEntry {
        SubmissionQueueEntry(
            opcode: AdminOpcode.getFeatures.rawValue,
            cdw10: UInt32(fid.rawValue) | UInt32(select.rawValue) << 8, cdw11: cdw11)
    }

    /// Set Features (5.21): CDW10.FID 7:0, CDW10.SV bit 31 (save across resets).
    @inlinable
    public static func setFeatures(_ fid: FeatureIdentifier, cdw11: UInt32, save: Bool = false) -> SubmissionQueueEntry {
        SubmissionQueueEntry(
            opcode: AdminOpcode.setFeatures.rawValue,
            cdw10: UInt32(fid.rawValue) | (save ? 1 << 31 : 0), cdw11: cdw11)
    }

    /// Get Log Page (5.14): CDW10.LID 7:0, CDW10.NUMDL 31:16, CDW11.NUMDU 15:00
    /// (NUMD is a zero-based dword count split across the two), CDW12/13 LPOL/LPOU byte offset
    /// (dword-aligned). `namespaceID` 0xFFFFFFFF asks for the controller-wide page.
    @inlinable
    public static func getLogPage(
        _ lid: LogPageIdentifier, dwords: Int, offset: UInt64 = 0, namespaceID: UInt32 = 0xFFFF_FFFF
    ) -> SubmissionQueueEntry {
        precondition(offset & 3 == 0, "LPO must be dword aligned")
        let numd = oneBased(dwords, max: 1 << 32, "log page length must be 1...2^32 dwords")
        return SubmissionQueueEntry(
            opcode: AdminOpcode.getLogPage.rawValue, namespaceID: namespaceID,
            cdw10: UInt32(lid.rawValue) | (numd & 0xFFFF) << 16, cdw11: numd >> 16,
            cdw12: UInt32(truncatingIfNeeded: offset), cdw13: UInt32(truncatingIfNeeded: offset >> 32))
    }

    /// Abort (5.1): CDW10.SQID 15:00, CDW10.CID 31:16.
    @inlinable
    public static func abort(submissionQueue: UInt16, commandID: UInt16) -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: AdminOpcode.abort.rawValue, cdw10: UInt32(submissionQueue) | UInt32(commandID) << 16)
    }

    /// Asynchronous Event Request (5.2): no parameters; completes when an event occurs.
    @inlinable
    public static func asynchronousEventRequest() -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: AdminOpcode.asynchronousEventRequest.rawValue)
    }
}

// MARK: - NVM I/O commands (NVMe base 1.4, 6)

extension SubmissionQueueEntry {
    @inlinable
    static func blockCommand(_ op: IOOpcode, _ nsid: UInt32, _ lba: UInt64, _ blocks: Int, _ cdw12Flags: UInt32) -> SubmissionQueueEntry {
        let nlb = oneBased(blocks, max: 65536, "block count must be 1...65536")
        return SubmissionQueueEntry(
            opcode: op.rawValue, namespaceID: nsid,
            cdw10: UInt32(truncatingIfNeeded: lba), cdw11: UInt32(truncatingIfNeeded: lba >> 32),
            cdw12: nlb | cdw12Flags)
    }

    /// Read (NVMe base 1.4, 6): CDW10/11 SLBA, CDW12.NLB 15:00 zero-based, CDW12.FUA bit 30.
    @inlinable
    public static func read(namespaceID: UInt32, lba: UInt64, blocks: Int, fua: Bool = false) -> SubmissionQueueEntry {
        blockCommand(.read, namespaceID, lba, blocks, fua ? 1 << 30 : 0)
    }

    /// Write (NVMe base 1.4, 6): same dword layout as Read.
    @inlinable
    public static func write(namespaceID: UInt32, lba: UInt64, blocks: Int, fua: Bool = false) -> SubmissionQueueEntry {
        blockCommand(.write, namespaceID, lba, blocks, fua ? 1 << 30 : 0)
    }

    /// Flush (NVMe base 1.4, 6): commits the volatile write cache of the namespace.
    @inlinable
    public static func flush(namespaceID: UInt32) -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: IOOpcode.flush.rawValue, namespaceID: namespaceID)
    }

    /// Write Zeroes (NVMe base 1.4, 6): like Write without data; CDW12.DEAC bit 25 allows deallocation.
    @inlinable
    public static func writeZeroes(namespaceID: UInt32, lba: UInt64, blocks: Int, deallocate: Bool = false) -> SubmissionQueueEntry {
        blockCommand(.writeZeroes, namespaceID, lba, blocks, deallocate ? 1 << 25 : 0)
    }

    /// Compare (NVMe base 1.4, 6): same dword layout as Read; data at the PRPs is compared with the media.
    @inlinable
    public static func compare(namespaceID: UInt32, lba: UInt64, blocks: Int) -> SubmissionQueueEntry {
        blockCommand(.compare, namespaceID, lba, blocks, 0)
    }

    /// Dataset Management (NVMe base 1.4, 6): CDW10.NR 7:0 zero-based range count (1...256 ranges of
    /// `DatasetManagementRange` at PRP1), CDW11.AD bit 2 (deallocate, i.e. TRIM).
    @inlinable
    public static func datasetManagement(namespaceID: UInt32, ranges: Int, deallocate: Bool = true) -> SubmissionQueueEntry {
        SubmissionQueueEntry(
            opcode: IOOpcode.datasetManagement.rawValue, namespaceID: namespaceID,
            cdw10: oneBased(ranges, max: 256, "range count must be 1...256"), cdw11: deallocate ? 1 << 2 : 0)
    }
}

// MARK: - Decoding accessors (for the emulator)

extension SubmissionQueueEntry {
    /// SLBA, CDW11:CDW10 (read, write, compare, write zeroes).
    @inlinable public var startingLBA: UInt64 { UInt64(cdw11) << 32 | UInt64(cdw10) }
    /// CDW12.NLB + 1: blocks to transfer, 1...65536.
    @inlinable public var blockCount: Int { Int(cdw12 & 0xFFFF) + 1 }
    /// CDW12.FUA (bit 30): force unit access.
    @inlinable public var forceUnitAccess: Bool { cdw12.bit(30) }
    /// CDW12.LR (bit 31): limited retry.
    @inlinable public var limitedRetry: Bool { cdw12.bit(31) }
    /// CDW12.DEAC (bit 25) of Write Zeroes.
    @inlinable public var writeZeroesDeallocate: Bool { cdw12.bit(25) }

    /// CDW10.QID of create/delete queue commands.
    @inlinable public var queueID: UInt16 { UInt16(truncatingIfNeeded: cdw10) }
    /// CDW10.QSIZE + 1 of create queue commands: entries, 1...65536 (1 is invalid per spec; check it).
    @inlinable public var queueSize: Int { Int(cdw10 >> 16) + 1 }
    /// CDW11.PC of create queue commands.
    @inlinable public var physicallyContiguous: Bool { cdw11.bit(0) }
    /// CDW11.IEN of Create I/O CQ.
    @inlinable public var interruptsEnabled: Bool { cdw11.bit(1) }
    /// CDW11.IV of Create I/O CQ.
    @inlinable public var interruptVector: UInt16 { UInt16(truncatingIfNeeded: cdw11 >> 16) }
    /// CDW11.CQID of Create I/O SQ.
    @inlinable public var completionQueueID: UInt16 { UInt16(truncatingIfNeeded: cdw11 >> 16) }
    /// CDW11.QPRIO of Create I/O SQ.
    @inlinable public var queuePriority: QueuePriority { QueuePriority(rawValue: UInt8(truncatingIfNeeded: cdw11.bits(1..<3)))! }

    /// CDW10.CNS of Identify, raw (unknown values must complete with Invalid Field in Command).
    @inlinable public var identifyCNS: UInt8 { UInt8(truncatingIfNeeded: cdw10) }
    /// CDW10.CNTID of Identify.
    @inlinable public var identifyControllerID: UInt16 { UInt16(truncatingIfNeeded: cdw10 >> 16) }

    /// CDW10.FID of Get/Set Features, raw.
    @inlinable public var featureIdentifier: UInt8 { UInt8(truncatingIfNeeded: cdw10) }
    /// CDW10.SEL of Get Features.
    @inlinable public var featureSelect: UInt8 { UInt8(truncatingIfNeeded: cdw10.bits(8..<11)) }
    /// CDW10.SV of Set Features.
    @inlinable public var saveFeature: Bool { cdw10.bit(31) }

    /// CDW10.LID of Get Log Page, raw.
    @inlinable public var logPageIdentifier: UInt8 { UInt8(truncatingIfNeeded: cdw10) }
    /// (NUMDU:NUMDL) + 1: dwords requested, 1...2^32.
    @inlinable public var logPageDwordCount: Int { Int(cdw11 & 0xFFFF) << 16 + Int(cdw10 >> 16) + 1 }
    /// LPOU:LPOL: byte offset into the log page.
    @inlinable public var logPageOffset: UInt64 { UInt64(cdw13) << 32 | UInt64(cdw12) }

    /// CDW10.SQID of Abort.
    @inlinable public var abortSubmissionQueueID: UInt16 { UInt16(truncatingIfNeeded: cdw10) }
    /// CDW10.CID of Abort.
    @inlinable public var abortCommandID: UInt16 { UInt16(truncatingIfNeeded: cdw10 >> 16) }

    /// CDW10.NR + 1 of Dataset Management: ranges at PRP1, 1...256.
    @inlinable public var datasetManagementRangeCount: Int { Int(cdw10 & 0xFF) + 1 }
    /// CDW11.AD of Dataset Management.
    @inlinable public var datasetManagementDeallocate: Bool { cdw11.bit(2) }
}

// MARK: - Byte encoding

extension SubmissionQueueEntry: NVMeDataStructure {
    public static let encodedSize = 64

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "SubmissionQueueEntry")
        try r.require(64)
        self.init(
            opcode: try r.load(at: 0), flags: try r.load(at: 1), commandID: try r.load(at: 2),
            namespaceID: try r.load(at: 4), cdw2: try r.load(at: 8), cdw3: try r.load(at: 12),
            metadataPointer: try r.load(at: 16), prp1: try r.load(at: 24), prp2: try r.load(at: 32),
            cdw10: try r.load(at: 40), cdw11: try r.load(at: 44), cdw12: try r.load(at: 48),
            cdw13: try r.load(at: 52), cdw14: try r.load(at: 56), cdw15: try r.load(at: 60))
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "SubmissionQueueEntry")
        try w.prepare(64)
        try w.store(opcode, at: 0)
        try w.store(flags, at: 1)
        try w.store(commandID, at: 2)
        try w.store(namespaceID, at: 4)
        try w.store(cdw2, at: 8)
        try w.store(cdw3, at: 12)
        try w.store(metadataPointer, at: 16)
        try w.store(prp1, at: 24)
        try w.store(prp2, at: 32)
        try w.store(cdw10, at: 40)
        try w.store(cdw11, at: 44)
        try w.store(cdw12, at: 48)
        try w.store(cdw13, at: 52)
        try w.store(cdw14, at: 56)
        try w.store(cdw15, at: 60)
    }
}
