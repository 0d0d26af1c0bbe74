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

extension ControllerEngine {
    /// NVM command set I/O commands (NVMe base 1.4, 6; NVM command set section of the base spec):
    /// Read, Write, Compare, Flush, Write Zeroes, Dataset Management.
    mutating func executeIO(_ sqe: SubmissionQueueEntry, queue sqid: UInt16) -> CommandOutcome {
        // PSDT 01b only where Identify Controller SGLS advertises SGLs (`walkDataPointer`).
        let psdt = sqe.dataPointerType
        guard sqe.fusedOperation == 0, psdt == DataPointerType.prp.rawValue
            || (psdt == DataPointerType.sgl.rawValue && configuration.sgls.supported) else {
            return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        guard let opcode = sqe.ioOpcode else { return CommandOutcome(status: .invalidCommandOpcode.withDoNotRetry()) }
        switch opcode {
        case .read: return readWrite(sqe, write: false)
        case .write: return readWrite(sqe, write: true)
        case .compare: return compare(sqe)
        case .flush: return flush(sqe)
        case .writeZeroes: return writeZeroes(sqe)
        case .datasetManagement: return datasetManagement(sqe)
        default: return CommandOutcome(status: .invalidCommandOpcode.withDoNotRetry())
        }
    }

    /// NSID 0, broadcast and unknown ids: Invalid Namespace or Format; a detached one: Invalid Field.
    func namespaceOrError(_ sqe: SubmissionQueueEntry) -> Int? { activeNamespaceIndex(sqe.namespaceID) }

    /// SLBA + NLB within NSZE (LBA Out of Range), without overflow for any 64-bit SLBA.
    func lbaRangeValid(_ index: Int, lba: UInt64, blocks: Int) -> Bool {
        let size = namespaceBlocks(index)
        return lba < size && UInt64(blocks) <= size - lba
    }

    func failed(_ status: NVMeStatus, _ sqe: SubmissionQueueEntry, lba: UInt64 = 0) -> CommandOutcome {
        var outcome = CommandOutcome(status: status)
        outcome.namespaceID = sqe.namespaceID
        outcome.lba = lba
        return outcome
    }

    /// Checks shared by Read, Write and Compare: namespace, MDTS (Invalid Field in Command, as
    /// QEMU's nvme_check_mdts answers), then LBA range.
    func checkDataCommand(_ sqe: SubmissionQueueEntry) -> (index: Int, bytes: Int, offset: UInt64)? {
        guard let index = namespaceOrError(sqe) else { return nil }
        let blockSize = configuration.namespaces[index].blockSize
        let bytes = sqe.blockCount * blockSize
        if let limit = maxTransferBytes, bytes > limit { return nil }
        guard lbaRangeValid(index, lba: sqe.startingLBA, blocks: sqe.blockCount) else { return nil }
        return (index, bytes, sqe.startingLBA * UInt64(blockSize))
    }

    func dataCommandError(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        guard let index = namespaceOrError(sqe) else { return failed(inactiveNamespaceStatus(sqe.namespaceID), sqe) }
        let bytes = sqe.blockCount * configuration.namespaces[index].blockSize
        if let limit = maxTransferBytes, bytes > limit { return failed(.invalidFieldInCommand.withDoNotRetry(), sqe) }
        return failed(.lbaOutOfRange.withDoNotRetry(), sqe, lba: sqe.startingLBA)
    }

    mutating func readWrite(_ sqe: SubmissionQueueEntry, write: Bool) -> CommandOutcome {
        if let index = hasMetadata(sqe) { return transferWithMetadata(sqe, index: index, write ? .write : .read) }
        guard let (index, bytes, offset) = checkDataCommand(sqe) else { return dataCommandError(sqe) }
        let store = namespaces[index]
        let status = withData(sqe, length: bytes, direction: write ? .fromHost : .toHost) { engine in
            var position = offset
            for buffer in engine.hostBuffers {
                let ok = write ? store.write(at: position, from: UnsafeRawBufferPointer(buffer)) : store.read(at: position, into: buffer)
                guard ok else { return write ? .writeFault : .unrecoveredReadError }
                position += UInt64(buffer.count)
            }
            return .success
        }
        if !status.isSuccess { return failed(status, sqe, lba: sqe.startingLBA) }
        if write && sqe.forceUnitAccess && !store.flush() { return failed(.writeFault, sqe, lba: sqe.startingLBA) }
        return CommandOutcome(status: .success, bytes: bytes)
    }

    /// Compare (6.x): Compare Failure (SCT 2, SC 85h) if any byte differs.
    mutating func compare(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        if let index = hasMetadata(sqe) { return transferWithMetadata(sqe, index: index, .compare) }
        guard let (index, bytes, offset) = checkDataCommand(sqe) else { return dataCommandError(sqe) }
        let store = namespaces[index]
        let status = withData(sqe, length: bytes, direction: .fromHost) { engine in
            var position = offset
            for buffer in engine.hostBuffers {
                guard let equal = store.compare(at: position, with: UnsafeRawBufferPointer(buffer)) else { return .unrecoveredReadError }
                guard equal else { return .compareFailure.withDoNotRetry() }
                position += UInt64(buffer.count)
            }
            return .success
        }
        if !status.isSuccess { return failed(status, sqe, lba: sqe.startingLBA) }
        return CommandOutcome(status: .success, bytes: bytes)
    }

    /// Flush: NSID FFFFFFFFh flushes every namespace (VWC bits 2:1 = 11b).
    mutating func flush(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        if sqe.namespaceID == 0xFFFF_FFFF && configuration.volatileWriteCache {
            for store in namespaces where !store.flush() { return failed(.writeFault, sqe) }
            return .success
        }
        guard let index = namespaceOrError(sqe) else { return failed(inactiveNamespaceStatus(sqe.namespaceID), sqe) }
        return namespaces[index].flush() ? .success : failed(.writeFault, sqe)
    }

    /// Write Zeroes: no data transfer, so MDTS does not apply; the blocks read as zeroes after,
    /// with or without DEAC (the storage frees them either way).
    mutating func writeZeroes(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        guard let index = namespaceOrError(sqe) else { return failed(inactiveNamespaceStatus(sqe.namespaceID), sqe) }
        guard lbaRangeValid(index, lba: sqe.startingLBA, blocks: sqe.blockCount) else {
            return failed(.lbaOutOfRange.withDoNotRetry(), sqe, lba: sqe.startingLBA)
        }
        let blockSize = UInt64(configuration.namespaces[index].blockSize)
        guard namespaces[index].zero(at: sqe.startingLBA * blockSize, length: UInt64(sqe.blockCount) * blockSize),
            eraseMetadata(index, lba: sqe.startingLBA, blocks: UInt64(sqe.blockCount))
        else {
            return failed(.writeFault, sqe, lba: sqe.startingLBA)
        }
        return .success
    }

    /// Dataset Management: NR + 1 ranges of 16 bytes at the PRPs; with AD set each range is
    /// deallocated and reads as zeroes after (DLFEAT 001b). Every range is checked before any is
    /// applied, so an out-of-range entry changes nothing.
    mutating func datasetManagement(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        guard let index = namespaceOrError(sqe) else { return failed(inactiveNamespaceStatus(sqe.namespaceID), sqe) }
        let count = sqe.datasetManagementRangeCount
        var raw = [UInt8](repeating: 0, count: count * DatasetManagementRange.encodedSize)
        let status = raw.withUnsafeMutableBytes { copyFromHost(sqe, into: $0) }
        guard status.isSuccess else { return failed(status, sqe) }
        guard sqe.datasetManagementDeallocate else { return CommandOutcome(status: .success, bytes: raw.count) }
        let ranges: [DatasetManagementRange]
        do {
            ranges = try raw.withUnsafeBytes { try DatasetManagementRange.decodeList(bytes: $0, count: count) }
        } catch {
            return failed(.invalidFieldInCommand.withDoNotRetry(), sqe)
        }
        for range in ranges where range.lengthInBlocks > 0 {
            guard lbaRangeValid(index, lba: range.startingLBA, blocks: Int(range.lengthInBlocks)) else {
                return failed(.lbaOutOfRange.withDoNotRetry(), sqe, lba: range.startingLBA)
            }
        }
        let blockSize = UInt64(configuration.namespaces[index].blockSize)
        for range in ranges where range.lengthInBlocks > 0 {
            guard namespaces[index].zero(at: range.startingLBA * blockSize, length: UInt64(range.lengthInBlocks) * blockSize),
                eraseMetadata(index, lba: range.startingLBA, blocks: UInt64(range.lengthInBlocks))
            else {
                return failed(.writeFault, sqe, lba: range.startingLBA)
            }
        }
        return CommandOutcome(status: .success, bytes: raw.count)
    }
}
