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

/// What one Read, Write or Compare asks of end-to-end protection (NVMe base 1.4, 8.3): PRINFO and
/// the expected tags. Ignored (and refused when non-empty) on a namespace formatted without PI.
@frozen
public struct IOProtection: Sendable, Equatable {
    /// PRACT and the PRCHK bits.
    public var action: ProtectionInformationAction
    /// The first block's reference tag; nil takes the LBA's low bits, which type 1 requires and
    /// which keep types 2 and 3 consistent between a write and a later read of the same blocks.
    public var referenceTag: UInt64?
    public var applicationTag: UInt16
    public var applicationTagMask: UInt16

    @inlinable
    public init(
        action: ProtectionInformationAction = [], referenceTag: UInt64? = nil, applicationTag: UInt16 = 0,
        applicationTagMask: UInt16 = 0xFFFF
    ) {
        self.action = action
        self.referenceTag = referenceTag
        self.applicationTag = applicationTag
        self.applicationTagMask = applicationTagMask
    }

    /// No PRACT, no checks: metadata moves as the caller wrote it.
    public static let off = IOProtection()
    /// PRACT with every check: the controller inserts tuples on writes and checks (and, when the
    /// metadata is only the tuple, strips) them on reads.
    public static let controller = IOProtection(action: [.act, .checkAll])
    /// The host's tuples (`NamespaceInfo.generateProtection`), checked by the controller.
    public static let checked = IOProtection(action: .checkAll)

    /// The tags of the command starting `offset` blocks into a request that starts at `lba`.
    @inlinable
    func tags(lba: UInt64, offset: Int, format: ProtectionFormat) -> ProtectionTags {
        let reference = referenceTag.map { format.referenceTag(initial: $0, block: offset) } ?? (lba &+ UInt64(offset))
        return ProtectionTags(
            referenceTag: reference & format.guardFormat.referenceTagMask, applicationTag: applicationTag,
            applicationTagMask: applicationTagMask)
    }
}

extension NamespaceInfo {
    /// Whether a command with `protection` moves metadata over the bus: not when PRACT is set and
    /// the metadata is exactly the tuple (8.3.1.1), and not on a namespace without metadata.
    @inlinable
    public func transfersMetadata(_ protection: IOProtection) -> Bool {
        guard metadataSize > 0 else { return false }
        guard let format = self.protection, protection.action.contains(.act) else { return true }
        return metadataSize != format.guardFormat.tupleSize
    }

    /// Bytes per block in the data buffer: the block, plus its metadata on an extended-LBA
    /// namespace when metadata moves.
    @inlinable
    public func dataBytesPerBlock(_ protection: IOProtection) -> Int {
        extendedLBA && transfersMetadata(protection) ? blockSize + metadataSize : blockSize
    }

    /// Bytes of the separate metadata buffer (MPTR) `blocks` blocks need, 0 when none is used.
    @inlinable
    public func separateMetadataBytes(blocks: Int, _ protection: IOProtection) -> Int {
        !extendedLBA && transfersMetadata(protection) ? blocks * metadataSize : 0
    }

    /// What the blocking API does when the caller gives no protection: PRACT with every check on
    /// a namespace whose metadata is only the tuple (no buffer needed), else nothing.
    public var defaultProtection: IOProtection {
        guard let format = protection, metadataSize == format.guardFormat.tupleSize else { return .off }
        return .controller
    }

    func requireProtection(_ protection: IOProtection) throws(NVMeError) {
        if self.protection == nil && !protection.action.isEmpty {
            throw .invalidArgument("namespace \(id) is formatted without protection information; leave PRACT and PRCHK off")
        }
    }

    /// The metadata of block `block`: in the data buffer after the block (extended LBA), else
    /// in the separate buffer.
    func metadataRegion(
        _ block: Int, data: UnsafeMutableRawBufferPointer, metadata: UnsafeMutableRawBufferPointer?
    ) -> UnsafeMutableRawBufferPointer {
        if extendedLBA {
            let start = block * (blockSize + metadataSize) + blockSize
            return UnsafeMutableRawBufferPointer(rebasing: data[start..<start + metadataSize])
        }
        return UnsafeMutableRawBufferPointer(rebasing: metadata![block * metadataSize..<(block + 1) * metadataSize])
    }

    func dataRegion(_ block: Int, data: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer {
        let stride = extendedLBA ? blockSize + metadataSize : blockSize
        return UnsafeRawBufferPointer(rebasing: data[block * stride..<block * stride + blockSize])
    }

    /// Checks the host buffers hold `blocks` blocks with their metadata (as PRACT off lays them out).
    func hostBuffers(_ data: DMASlice, _ metadata: DMASlice?, blocks: Int) throws(NVMeError) -> ProtectionFormat {
        guard let format = protection else {
            throw .invalidArgument("namespace \(id) is formatted without protection information; there are no tuples to make or check")
        }
        guard blocks >= 0 else { throw .invalidArgument("block count \(blocks) is negative") }
        let dataBytes = blocks * (extendedLBA ? blockSize + metadataSize : blockSize)
        guard data.length >= dataBytes else { throw .bufferTooSmall(needed: dataBytes, actual: data.length) }
        if !extendedLBA {
            guard let metadata else {
                throw .invalidArgument("namespace \(id) keeps its metadata in a separate buffer; pass one of \(blocks * metadataSize) bytes")
            }
            guard metadata.length >= blocks * metadataSize else { throw .bufferTooSmall(needed: blocks * metadataSize, actual: metadata.length) }
        }
        return format
    }

    /// Writes the protection tuples of `blocks` blocks into their metadata (in `data` on an
    /// extended-LBA namespace, else in `metadata`), for a write with the host's own PI
    /// (`IOProtection.checked`). The tags are `protection`'s, as the command will carry them.
    public func generateProtection(
        data: DMASlice, metadata: DMASlice?, lba: UInt64, blocks: Int, protection: IOProtection = .checked
    ) throws(NVMeError) {
        let format = try hostBuffers(data, metadata, blocks: blocks)
        let tags = protection.tags(lba: lba, offset: 0, format: format)
        for block in 0..<blocks {
            format.generate(
                data: dataRegion(block, data: data.bytes), metadata: metadataRegion(block, data: data.bytes, metadata: metadata?.bytes),
                applicationTag: tags.applicationTag, referenceTag: format.referenceTag(initial: tags.referenceTag, block: block))
        }
    }

    /// Checks the tuples of `blocks` blocks read with PRACT off, as `protection`'s PRCHK bits say
    /// (the reference tag not on type 3, as a controller would not); a mismatch throws the
    /// end-to-end status a controller would give, naming the block.
    public func verifyProtection(
        data: DMASlice, metadata: DMASlice?, lba: UInt64, blocks: Int, protection: IOProtection = .checked
    ) throws(NVMeError) {
        let format = try hostBuffers(data, metadata, blocks: blocks)
        let tags = protection.tags(lba: lba, offset: 0, format: format)
        for block in 0..<blocks {
            let region = metadataRegion(block, data: data.bytes, metadata: metadata?.bytes)
            if let failure = format.check(
                data: dataRegion(block, data: data.bytes), metadata: UnsafeRawBufferPointer(region),
                checks: format.permittedAction(protection.action).intersection(.checkAll), tags: tags,
                referenceTag: format.referenceTag(initial: tags.referenceTag, block: block))
            {
                throw .commandFailed(command: "host check of namespace \(id) LBA \(lba &+ UInt64(block))", status: failure.status)
            }
        }
    }
}

/// Read, Write and Compare on a namespace with metadata or protection information: the data
/// buffer at the PRPs (holding each block's metadata after it on an extended-LBA namespace), the
/// separate metadata buffer at MPTR, PRINFO and the tags in CDW12/14/15. Off the plain hot path:
/// `submitRead(namespace:lba:blocks:into:token:)` stays as it was and refuses these namespaces.
///
/// The metadata buffer follows the data buffer's rules: mapped for this controller, dword
/// aligned (MPTR, 4.2), untouched by the caller until the completion is consumed.
extension QueuePair {
    /// Read (02h) with metadata into `metadata` (separate-buffer namespaces) and `protection`.
    @discardableResult
    public mutating func submitRead(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, into buffer: DMASlice, metadata: DMASlice?,
        protection: IOProtection, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        try submitWithMetadata(.read, namespace, lba, blocks, buffer, metadata, protection, token)
    }

    /// Write (01h) with metadata from `metadata` (separate-buffer namespaces) and `protection`.
    @discardableResult
    public mutating func submitWrite(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, from buffer: DMASlice, metadata: DMASlice?,
        protection: IOProtection, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        try submitWithMetadata(.write, namespace, lba, blocks, buffer, metadata, protection, token)
    }

    /// Compare (05h): data and metadata against the media (PRACT does not apply).
    @discardableResult
    public mutating func submitCompare(
        namespace: NamespaceInfo, lba: UInt64, blocks: Int, with buffer: DMASlice, metadata: DMASlice?,
        protection: IOProtection, token: UInt64
    ) throws(NVMeError) -> UInt16 {
        try submitWithMetadata(.compare, namespace, lba, blocks, buffer, metadata, protection, token)
    }

    mutating func submitWithMetadata(
        _ opcode: IOOpcode, _ namespace: NamespaceInfo, _ lba: UInt64, _ blocks: Int, _ buffer: DMASlice, _ metadata: DMASlice?,
        _ protection: IOProtection, _ token: UInt64
    ) throws(NVMeError) -> UInt16 {
        guard blocks >= 1, blocks <= namespace.maximumBlocksPerCommand else {
            throw .transferTooLarge(
                bytes: max(0, blocks) &* namespace.dataBytesPerBlock(protection),
                maximum: namespace.maximumBlocksPerCommand * namespace.dataBytesPerBlock(protection))
        }
        try namespace.requireProtection(protection)
        let bytes = blocks * namespace.dataBytesPerBlock(protection)
        guard buffer.length >= bytes else { throw .bufferTooSmall(needed: bytes, actual: buffer.length) }
        var entry = SubmissionQueueEntry.blockTransfer(opcode, namespace.id, lba, checkedBlocks: blocks, 0)
        let metadataBytes = namespace.separateMetadataBytes(blocks: blocks, protection)
        if metadataBytes > 0 {
            guard let metadata else {
                throw .invalidArgument(
                    "namespace \(namespace.id) keeps \(namespace.metadataSize) bytes of metadata per block in a separate buffer; "
                        + "pass a metadata buffer of \(metadataBytes) bytes")
            }
            guard metadata.length >= metadataBytes else { throw .bufferTooSmall(needed: metadataBytes, actual: metadata.length) }
            if metadata.domain != dmaDomain { throw refuseForeign(metadata) }
            guard metadata.iova.rawValue & 3 == 0 else { throw .misalignedBuffer(iova: metadata.iova.rawValue) }
            entry.metadataPointer = metadata.iova.rawValue
        } else if metadata != nil {
            throw .invalidArgument(
                namespace.metadataSize == 0
                    ? "namespace \(namespace.id) has no metadata; pass no metadata buffer"
                    : "namespace \(namespace.id) moves no separate metadata here (extended LBA, or PRACT with metadata that is only the tuple); pass no metadata buffer")
        }
        if let format = namespace.protection {
            entry.protectionAction = format.permittedAction(opcode == .compare ? protection.action.subtracting(.act) : protection.action)
            entry.protectionTags = protection.tags(lba: lba, offset: 0, format: format)
        }
        return try submit(entry, data: buffer.prefix(bytes), token: token)
    }
}
