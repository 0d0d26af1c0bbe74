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

/// Read, Write and Compare on a namespace formatted with metadata, and end-to-end protection
/// (NVMe base 1.4, 8.2 "Metadata Region" and 8.3 "End-to-end Data Protection"), the way QEMU's
/// hw/nvme/dif.c does them, so the driver meets the same controller here and in the VM.
///
/// - Extended LBA (FLBAS.MSET): each block's metadata follows its data in the PRP buffer.
///   Separate: the metadata of all blocks is one contiguous buffer at MPTR (dword aligned).
/// - PRACT on a protected namespace: a write gets its tuples generated here, a read has them
///   checked; when the metadata is only the tuple, none crosses the bus either way.
/// - PRCHK: the tuples are checked (writes without PRACT, and every read), and the first
///   mismatch completes the command with the end-to-end status of what differed; a failed write
///   changes nothing on the media.
///
/// Metadata is stored inverted, so never-written and deallocated blocks read back as all ones:
/// the escape value that turns checking off for a block (QEMU writes FFh into such metadata).
/// Everything in the command is host input: the lengths come from NLB (1...65536) and the
/// namespace's own sizes, MPTR is range-checked by the IOMMU, and no field can make this trap.
extension ControllerEngine {
    enum MetadataOperation { case read, write, compare }

    /// Whether NSID names a namespace with metadata (the plain path serves the rest unchanged).
    func hasMetadata(_ sqe: SubmissionQueueEntry) -> Int? {
        guard let index = namespaceOrError(sqe), configuration.namespaces[index].metadataSize > 0 else { return nil }
        return index
    }

    mutating func transferWithMetadata(_ sqe: SubmissionQueueEntry, index: Int, _ operation: MetadataOperation) -> CommandOutcome {
        let namespace = configuration.namespaces[index]
        let blockSize = namespace.blockSize
        let metadataSize = namespace.metadataSize
        let blocks = sqe.blockCount
        let lba = sqe.startingLBA
        let action = sqe.protectionAction
        let format = namespace.protectionFormat
        let act = format != nil && action.contains(.act) && operation != .compare
        // 8.3.1.1: with PRACT and metadata that is exactly the tuple, no metadata is transferred.
        let hostMetadata = !(act && metadataSize == format?.guardFormat.tupleSize)
        let wireBlock = namespace.extendedLBA && hostMetadata ? blockSize + metadataSize : blockSize
        let wireBytes = blocks * wireBlock
        if let limit = maxTransferBytes, wireBytes > limit { return failed(.invalidFieldInCommand.withDoNotRetry(), sqe) }
        guard lbaRangeValid(index, lba: lba, blocks: blocks) else { return failed(.lbaOutOfRange.withDoNotRetry(), sqe, lba: lba) }
        let tags = sqe.protectionTags
        if let format, format.type == .type1, action.contains(.checkReferenceTag),
            lba & format.guardFormat.referenceTagMask != tags.referenceTag
        {
            // 8.3.1.4 (QEMU nvme_check_prinfo): type 1's reference tag is the LBA.
            return failed(.invalidProtectionInformation.withDoNotRetry(), sqe, lba: lba)
        }
        if let format, format.type == .type3, action.contains(.checkReferenceTag) {
            // NVM command set 1.0, 5.2: type 3 has no reference tag to check; QEMU aborts such a
            // command with Invalid Protection Information, without DNR (nvme_check_prinfo).
            return failed(.invalidProtectionInformation, sqe, lba: lba)
        }
        guard let metadataStore = metadataStores[index] else { return failed(.internalError, sqe, lba: lba) }
        var data = [UInt8](repeating: 0, count: blocks * blockSize)
        var metadata = [UInt8](repeating: 0, count: blocks * metadataSize)
        let dataOffset = lba * UInt64(blockSize)
        let metadataOffset = lba * UInt64(metadataSize)

        if operation == .read {
            let loaded = data.withUnsafeMutableBytes { namespaces[index].read(at: dataOffset, into: $0) }
                && metadata.withUnsafeMutableBytes { metadataStore.read(at: metadataOffset, into: $0) }
            guard loaded else { return failed(.unrecoveredReadError, sqe, lba: lba) }
            for i in metadata.indices { metadata[i] = ~metadata[i] }
            if let format, let failure = Self.checkBlocks(format, data, metadata, blockSize, action, tags) {
                return failed(failure.status, sqe, lba: lba)
            }
            let status = scatter(sqe, data, metadata, blockSize: blockSize, metadataSize: metadataSize,
                                 extended: namespace.extendedLBA, hostMetadata: hostMetadata)
            guard status.isSuccess else { return failed(status, sqe, lba: lba) }
            return CommandOutcome(status: .success, bytes: wireBytes)
        }

        let status = gather(sqe, &data, &metadata, blockSize: blockSize, metadataSize: metadataSize,
                            extended: namespace.extendedLBA, hostMetadata: hostMetadata)
        guard status.isSuccess else { return failed(status, sqe, lba: lba) }
        if operation == .compare {
            var stored = [UInt8](repeating: 0, count: data.count)
            var storedMetadata = [UInt8](repeating: 0, count: metadata.count)
            let loaded = stored.withUnsafeMutableBytes { namespaces[index].read(at: dataOffset, into: $0) }
                && storedMetadata.withUnsafeMutableBytes { metadataStore.read(at: metadataOffset, into: $0) }
            guard loaded else { return failed(.unrecoveredReadError, sqe, lba: lba) }
            let sameMetadata = !hostMetadata || zip(storedMetadata, metadata).allSatisfy { ~$0 == $1 }
            guard stored == data && sameMetadata else { return failed(.compareFailure.withDoNotRetry(), sqe, lba: lba) }
            return CommandOutcome(status: .success, bytes: wireBytes)
        }
        if let format {
            if act {
                Self.generateBlocks(format, data, &metadata, blockSize, tags)
            } else if let failure = Self.checkBlocks(format, data, metadata, blockSize, action, tags) {
                return failed(failure.status, sqe, lba: lba)
            }
        }
        for i in metadata.indices { metadata[i] = ~metadata[i] }
        let stored = data.withUnsafeBytes { namespaces[index].write(at: dataOffset, from: $0) }
            && metadata.withUnsafeBytes { metadataStore.write(at: metadataOffset, from: $0) }
        guard stored else { return failed(.writeFault, sqe, lba: lba) }
        if sqe.forceUnitAccess && !(namespaces[index].flush() && metadataStore.flush()) { return failed(.writeFault, sqe, lba: lba) }
        return CommandOutcome(status: .success, bytes: wireBytes)
    }

    /// Makes the metadata of `blocks` blocks read as all ones (Write Zeroes, deallocation).
    func eraseMetadata(_ index: Int, lba: UInt64, blocks: UInt64) -> Bool {
        guard let store = metadataStores[index] else { return true }
        let size = UInt64(configuration.namespaces[index].metadataSize)
        return store.zero(at: lba * size, length: blocks * size)
    }

    static func checkBlocks(
        _ format: ProtectionFormat, _ data: [UInt8], _ metadata: [UInt8], _ blockSize: Int,
        _ action: ProtectionInformationAction, _ tags: ProtectionTags
    ) -> ProtectionCheckFailure? {
        let checks = action.intersection(.checkAll)
        guard !checks.isEmpty else { return nil }
        let size = format.metadataSize
        return data.withUnsafeBytes { d in
            metadata.withUnsafeBytes { m in
                for block in 0..<data.count / blockSize {
                    if let failure = format.check(
                        data: UnsafeRawBufferPointer(rebasing: d[block * blockSize..<(block + 1) * blockSize]),
                        metadata: UnsafeRawBufferPointer(rebasing: m[block * size..<(block + 1) * size]), checks: checks,
                        tags: tags, referenceTag: format.referenceTag(initial: tags.referenceTag, block: block))
                    {
                        return failure
                    }
                }
                return nil
            }
        }
    }

    static func generateBlocks(
        _ format: ProtectionFormat, _ data: [UInt8], _ metadata: inout [UInt8], _ blockSize: Int, _ tags: ProtectionTags
    ) {
        let size = format.metadataSize
        data.withUnsafeBytes { d in
            metadata.withUnsafeMutableBytes { m in
                for block in 0..<data.count / blockSize {
                    format.generate(
                        data: UnsafeRawBufferPointer(rebasing: d[block * blockSize..<(block + 1) * blockSize]),
                        metadata: UnsafeMutableRawBufferPointer(rebasing: m[block * size..<(block + 1) * size]),
                        applicationTag: tags.applicationTag, referenceTag: format.referenceTag(initial: tags.referenceTag, block: block))
                }
            }
        }
    }

    /// Host to controller: the PRP buffer (data, or data and metadata interleaved) and MPTR.
    mutating func gather(
        _ sqe: SubmissionQueueEntry, _ data: inout [UInt8], _ metadata: inout [UInt8], blockSize: Int, metadataSize: Int,
        extended: Bool, hostMetadata: Bool
    ) -> NVMeStatus {
        guard hostMetadata else { return data.withUnsafeMutableBytes { copyFromHost(sqe, into: $0) } }
        if extended {
            let stride = blockSize + metadataSize
            var wire = [UInt8](repeating: 0, count: data.count / blockSize * stride)
            let status = wire.withUnsafeMutableBytes { copyFromHost(sqe, into: $0) }
            guard status.isSuccess else { return status }
            for block in 0..<data.count / blockSize {
                data.replaceSubrange(block * blockSize..<(block + 1) * blockSize, with: wire[block * stride..<block * stride + blockSize])
                metadata.replaceSubrange(
                    block * metadataSize..<(block + 1) * metadataSize, with: wire[block * stride + blockSize..<(block + 1) * stride])
            }
            return .success
        }
        let status = data.withUnsafeMutableBytes { copyFromHost(sqe, into: $0) }
        guard status.isSuccess else { return status }
        return metadata.withUnsafeMutableBytes { m in
            metadataBuffer(sqe, length: m.count, direction: .fromHost) { p in m.baseAddress!.copyMemory(from: p, byteCount: m.count) }
        }
    }

    /// Controller to host, the reverse of `gather`.
    mutating func scatter(
        _ sqe: SubmissionQueueEntry, _ data: [UInt8], _ metadata: [UInt8], blockSize: Int, metadataSize: Int,
        extended: Bool, hostMetadata: Bool
    ) -> NVMeStatus {
        guard hostMetadata else { return data.withUnsafeBytes { copyToHost(sqe, $0) } }
        if extended {
            var wire: [UInt8] = []
            wire.reserveCapacity(data.count + metadata.count)
            for block in 0..<data.count / blockSize {
                wire += data[block * blockSize..<(block + 1) * blockSize]
                wire += metadata[block * metadataSize..<(block + 1) * metadataSize]
            }
            return wire.withUnsafeBytes { copyToHost(sqe, $0) }
        }
        let status = metadata.withUnsafeBytes { m in
            metadataBuffer(sqe, length: m.count, direction: .toHost) { p in p.copyMemory(from: m.baseAddress!, byteCount: m.count) }
        }
        guard status.isSuccess else { return status }
        return data.withUnsafeBytes { copyToHost(sqe, $0) }
    }

    /// Runs `body` on the host memory at MPTR, `length` bytes, under the IOMMU lock. A misaligned
    /// pointer is Invalid Field (MPTR is dword aligned, 4.2); one the IOMMU cannot reach whole is
    /// Data Transfer Error, and `body` never runs.
    mutating func metadataBuffer(
        _ sqe: SubmissionQueueEntry, length: Int, direction: TransferDirection, _ body: (UnsafeMutableRawPointer) -> Void
    ) -> NVMeStatus {
        let pointer = sqe.metadataPointer
        guard pointer & 3 == 0 else { return .invalidFieldInCommand.withDoNotRetry() }
        guard pci.mayAccess(pointer, length: length, direction.dma) else { return .dataTransferError }
        return iommu.withTranslation { t in
            guard let host = t.translate(pointer, length: length, direction: direction.dma) else { return NVMeStatus.dataTransferError }
            body(host)
            return .success
        }
    }
}
