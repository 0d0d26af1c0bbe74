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

/// The blocking API on a namespace with metadata or protection information. The plain
/// `read`/`write`/`compare` come here too on such a namespace, with `info.defaultProtection`
/// (PRACT with every check when the metadata is only the tuple; otherwise they ask for a buffer).
///
/// Requests are split like the plain ones; each piece's data and metadata are the matching parts
/// of the caller's buffers, and its reference tag counts on from the request's (types 1 and 2).
extension Namespace {
    /// Reads `blocks` blocks at `lba`: data (with each block's metadata, on an extended-LBA
    /// namespace) into `buffer`, separate metadata into `metadata`.
    public func read(
        lba: UInt64, blocks: Int, into buffer: DMASlice, metadata: DMASlice?, protection: IOProtection? = nil,
        mode: CompletionMode = .poll
    ) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in
            try transferWithMetadata(.read, lba: lba, blocks: blocks, buffer: buffer, metadata: metadata, protection: protection, pair: &pair, mode: mode)
        }
    }

    /// Writes `blocks` blocks to `lba` from `buffer` and, on a separate-metadata namespace, `metadata`.
    public func write(
        lba: UInt64, blocks: Int, from buffer: DMASlice, metadata: DMASlice?, protection: IOProtection? = nil,
        mode: CompletionMode = .poll
    ) throws(NVMeError) {
        try withSharedQueuePair { (pair) throws(NVMeError) in
            try transferWithMetadata(.write, lba: lba, blocks: blocks, buffer: buffer, metadata: metadata, protection: protection, pair: &pair, mode: mode)
        }
    }

    func transferWithMetadata(
        _ kind: TransferKind, lba: UInt64, blocks: Int, buffer: DMASlice, metadata: DMASlice?, protection: IOProtection?,
        pair: inout QueuePair<Device>, mode: CompletionMode
    ) throws(NVMeError) {
        let info = self.info
        let protection = protection ?? info.defaultProtection
        try info.check(lba: lba, blocks: blocks)
        try info.requireProtection(protection)
        // Whole-request sizes first (compared in blocks, as blocks x size can overflow).
        let perBlock = info.dataBytesPerBlock(protection)
        guard blocks <= buffer.length / perBlock else { throw .bufferTooSmall(needed: info.bytes(blocks: blocks), actual: buffer.length) }
        let metadataPerBlock = info.separateMetadataBytes(blocks: 1, protection)
        if metadataPerBlock > 0 {
            guard let metadata else {
                throw .invalidArgument(
                    "namespace \(id) keeps \(info.metadataSize) bytes of metadata per block in a separate buffer; pass a metadata buffer")
            }
            guard blocks <= metadata.length / metadataPerBlock else {
                throw .bufferTooSmall(needed: blocks &* metadataPerBlock, actual: metadata.length)
            }
        }
        try pipeline(info.split(lba: lba, blocks: blocks, writing: kind == .write), pair: &pair, mode: mode, command: "\(kind.name) of namespace \(id)") {
            (pair, start, count) throws(NVMeError) in
            let data = buffer.slice(offset: start * perBlock, length: count * perBlock)
            let pieceMetadata = metadataPerBlock > 0 ? metadata?.slice(offset: start * metadataPerBlock, length: count * metadataPerBlock) : metadata
            var piece = protection
            if let format = info.protection, let tag = protection.referenceTag {
                piece.referenceTag = format.referenceTag(initial: tag, block: start)
            }
            let at = lba + UInt64(start)
            switch kind {
            case .read:
                try pair.submitRead(namespace: info, lba: at, blocks: count, into: data, metadata: pieceMetadata, protection: piece, token: UInt64(start))
            case .write:
                try pair.submitWrite(namespace: info, lba: at, blocks: count, from: data, metadata: pieceMetadata, protection: piece, token: UInt64(start))
            case .compare:
                try pair.submitCompare(namespace: info, lba: at, blocks: count, with: data, metadata: pieceMetadata, protection: piece, token: UInt64(start))
            }
        }
    }
}
