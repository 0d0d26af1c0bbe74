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

extension ControllerEngine {
    /// The IOVA a bit bucket piece carries in `segments`: no memory behind it. `mapData` points such
    /// a piece at the discard page and a late write skips it. A Data Block cannot name it, since
    /// one that wraps past 2^64 is refused (`walkSGL`).
    static let bitBucketIOVA = UInt64.max

    /// Descriptors one command's SGL may have, counting SGL1 and every segment's. It bounds the
    /// walk whatever the host wrote: a segment that points at itself, or chains of zero-length
    /// Data Blocks, end with Invalid Number of SGL Descriptors instead of running forever. Our
    /// driver needs at most 257 (SGL1 and one page of descriptors).
    static let maximumSGLDescriptors = 4096

    /// Turns SGL1 and the segments it leads to into the list of host memory pieces for `length`
    /// bytes (NVMe base 1.4, 4.4 "Scatter Gather List"), each descriptor copied out of host memory
    /// once and checked before use:
    /// - a Data Block's sub type must be Address (a PCIe controller has no keys or offsets), its
    ///   bytes within what is left of the transfer (Data SGL Length Invalid), and with SGLS 10b
    ///   dword aligned (SGL Data Block Granularity Invalid);
    /// - a Bit Bucket needs SGLS bit 16 and a transfer to the host (else SGL Descriptor Type Invalid);
    /// - a Segment or Last Segment descriptor must be the last one of its list, must not appear in
    ///   a last segment, and must describe a whole, non-zero number of descriptors (Invalid SGL
    ///   Segment Descriptor); a segment the IOMMU cannot reach is Data Transfer Error;
    /// - a Segment's list must chain on; the SGL must describe exactly `length` bytes (Data SGL
    ///   Length Invalid), unless SGLS bit 18 allows more;
    /// - keyed, transport, vendor and reserved types are SGL Descriptor Type Invalid.
    mutating func walkSGL(_ sgl1: SGLDescriptor, length: Int, direction: TransferDirection,
                          translator t: inout EmulatedIOMMU.Translator) -> NVMeStatus {
        segments.removeAll(keepingCapacity: true)
        let support = configuration.sgls
        var remaining = UInt64(length)
        var descriptorsRead = 1
        // The list being walked: SGL1 alone, then each segment in turn.
        var list: UnsafeRawPointer?
        var listCount = 1
        var listIsLast = false
        var listMustChain = false
        var index = 0
        var current = sgl1
        while true {
            let isLastInList = index == listCount - 1
            guard let type = current.type else { return .sglDescriptorTypeInvalid.withDoNotRetry() }
            switch type {
            case .dataBlock, .bitBucket:
                guard current.rawSubtype == SGLDescriptorSubtype.address.rawValue else {
                    return .sglDescriptorTypeInvalid.withDoNotRetry()
                }
                let bytes = UInt64(current.length)
                if type == .bitBucket {
                    guard support.bitBucket, direction == .toHost else { return .sglDescriptorTypeInvalid.withDoNotRetry() }
                } else {
                    if support.requiresDwordAlignment, current.address & 3 != 0 || bytes & 3 != 0 {
                        return .sglDataBlockGranularityInvalid.withDoNotRetry()
                    }
                    // No wrap past 2^64, so a Data Block never names the bit bucket's IOVA.
                    guard bytes == 0 || current.address <= UInt64.max - bytes else { return .dataTransferError }
                }
                let taken = min(bytes, remaining)
                guard taken == bytes || support.excessLength else { return .dataSGLLengthInvalid.withDoNotRetry() }
                if taken > 0 { segments.append((type == .bitBucket ? Self.bitBucketIOVA : current.address, Int(taken))) }
                remaining -= taken
                if isLastInList {
                    guard !listMustChain else { return .invalidSGLSegmentDescriptor.withDoNotRetry() }
                    return remaining == 0 ? .success : .dataSGLLengthInvalid.withDoNotRetry()
                }
            case .segment, .lastSegment:
                guard isLastInList, !listIsLast, current.rawSubtype == SGLDescriptorSubtype.address.rawValue else {
                    return .invalidSGLSegmentDescriptor.withDoNotRetry()
                }
                let count = Int(current.length) / SGLDescriptor.size
                guard count > 0, Int(current.length) % SGLDescriptor.size == 0 else {
                    return .invalidSGLSegmentDescriptor.withDoNotRetry()
                }
                guard count <= Self.maximumSGLDescriptors - descriptorsRead else {
                    return .invalidNumberOfSGLDescriptors.withDoNotRetry()
                }
                guard let next = t.translate(current.address, length: Int(current.length), direction: .deviceRead) else {
                    return .dataTransferError
                }
                descriptorsRead += count
                statistics.totals.sglSegmentsRead += 1
                list = UnsafeRawPointer(next)
                listCount = count
                listIsLast = type == .lastSegment
                listMustChain = type == .segment
                index = -1
            case .keyedDataBlock, .transportDataBlock, .vendorSpecific:
                return .sglDescriptorTypeInvalid.withDoNotRetry()
            }
            index += 1
            // `list` is set whenever index can reach 1 or more (only a segment makes listCount > 1).
            current = SGLDescriptor.load(from: list!, at: index * SGLDescriptor.size)
        }
    }

    /// The data pointer of an I/O command walked by its PSDT: PRPs, or (when SGLS says so) SGL1.
    /// PSDT 10b (MPTR as an SGL segment) is not advertised (SGLS bit 19), nor is 11b: Invalid Field.
    mutating func walkDataPointer(_ sqe: SubmissionQueueEntry, length: Int, direction: TransferDirection,
                                  translator t: inout EmulatedIOMMU.Translator) -> NVMeStatus {
        switch sqe.dataPointerType {
        case DataPointerType.prp.rawValue:
            return walkPRP(prp1: sqe.prp1, prp2: sqe.prp2, length: length, translator: &t)
        case DataPointerType.sgl.rawValue where configuration.sgls.supported:
            segments.removeAll(keepingCapacity: true)
            guard length > 0 else { return .success }
            statistics.totals.sglTransfers += 1
            return walkSGL(sqe.sgl1, length: length, direction: direction, translator: &t)
        default:
            return .invalidFieldInCommand.withDoNotRetry()
        }
    }
}

/// One page that absorbs the bytes of a read a Bit Bucket descriptor discards, so that the data
/// path needs no special case: a bit bucket piece is mapped to this page in pieces of at most its
/// size. Owned by the engine, freed with it; nothing outside the engine writes it.
final class DiscardPage: @unchecked Sendable {
    static let size = 4096
    let bytes: UnsafeMutableRawPointer

    init() {
        bytes = .allocate(byteCount: Self.size, alignment: 64)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
    }

    deinit { bytes.deallocate() }
}
