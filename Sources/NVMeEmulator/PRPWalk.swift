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

/// Which way data moves in a transfer.
enum TransferDirection {
    /// Controller to host memory (Read, Identify, Get Log Page).
    case toHost
    /// Host memory to controller (Write, Compare, Dataset Management ranges).
    case fromHost

    var dma: DMAFault.Direction { self == .toHost ? .deviceWrite : .deviceRead }
}

extension ControllerEngine {
    /// Turns PRP1/PRP2 into the list of host memory pieces for `length` bytes (NVMe base 1.4,
    /// 4.3 "Physical Region Page Entry and List"):
    /// - PRP1 may start anywhere dword aligned in a page; its piece ends at the page boundary.
    /// - If the rest fits in one page, PRP2 is that page (offset 0).
    /// - Otherwise PRP2 points to a PRP list: 8-byte entries, each a page with offset 0; when more
    ///   pages follow than fit in the list's page, its last entry points to the next list page.
    /// A non-zero offset where the spec requires 0 is PRP Offset Invalid; a list the IOMMU cannot
    /// reach is Data Transfer Error. The walk reads at most as many entries as pages needed, so
    /// a looping list cannot make it run forever.
    mutating func walkPRP(prp1: UInt64, prp2: UInt64, length: Int, translator t: inout EmulatedIOMMU.Translator) -> NVMeStatus {
        segments.removeAll(keepingCapacity: true)
        guard length > 0 else { return .success }
        let page = UInt64(pageSize)
        let mask = page - 1
        guard prp1 & 3 == 0 else { return .prpOffsetInvalid }
        var remaining = UInt64(length)
        let first = min(remaining, page - (prp1 & mask))
        segments.append((prp1, Int(first)))
        remaining -= first
        if remaining == 0 { return .success }
        if remaining <= page {
            guard prp2 & mask == 0 else { return .prpOffsetInvalid }
            segments.append((prp2, Int(remaining)))
            return .success
        }
        // A list pointer may carry an offset; entries are 8 bytes, so it must be 8-byte aligned for
        // an entry never to straddle a page (stricter than the spec's dword rule, and what every
        // driver does).
        var list = prp2
        var pagesLeft = (remaining + mask) / page
        while pagesLeft > 0 {
            guard list & 7 == 0 else { return .prpOffsetInvalid }
            let slots = Int((page - (list & mask)) / 8)
            let last = pagesLeft <= UInt64(slots)
            let dataEntries = last ? Int(pagesLeft) : slots - 1
            guard dataEntries > 0 else { return .prpOffsetInvalid }
            let readEntries = last ? dataEntries : slots
            guard let entries = t.translate(list, length: readEntries * 8, direction: .deviceRead) else {
                return .dataTransferError
            }
            for i in 0..<dataEntries {
                let entry = UInt64(littleEndian: UnsafeRawPointer(entries).loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
                guard entry & mask == 0 else { return .prpOffsetInvalid }
                let n = min(remaining, page)
                segments.append((entry, Int(n)))
                remaining -= n
            }
            pagesLeft -= UInt64(dataEntries)
            if !last {
                list = UInt64(littleEndian: UnsafeRawPointer(entries).loadUnaligned(fromByteOffset: (slots - 1) * 8, as: UInt64.self))
            }
        }
        return .success
    }

    /// Walks the PRPs or SGL and translates every piece, leaving host pointers in `hostBuffers`
    /// (a bit bucket's bytes land in the discard page, one page at a time).
    mutating func mapData(_ sqe: SubmissionQueueEntry, length: Int, direction: TransferDirection,
                          translator t: inout EmulatedIOMMU.Translator) -> NVMeStatus {
        hostBuffers.removeAll(keepingCapacity: true)
        let walked = walkDataPointer(sqe, length: length, direction: direction, translator: &t)
        guard walked.isSuccess else { return walked }
        for (iova, n) in segments {
            if iova == Self.bitBucketIOVA {
                var left = n
                while left > 0 {
                    let piece = min(left, DiscardPage.size)
                    hostBuffers.append(UnsafeMutableRawBufferPointer(start: discardPage.bytes, count: piece))
                    left -= piece
                }
                continue
            }
            guard let p = t.translate(iova, length: n, direction: direction.dma) else { return .dataTransferError }
            hostBuffers.append(UnsafeMutableRawBufferPointer(start: p, count: n))
        }
        return .success
    }

    /// Runs `body` with the command's data pieces in `hostBuffers`, the IOMMU locked throughout so
    /// no unmap can pull the memory away mid-transfer. A fault never reaches `body`.
    mutating func withData(_ sqe: SubmissionQueueEntry, length: Int, direction: TransferDirection,
                           _ body: (inout ControllerEngine) -> NVMeStatus) -> NVMeStatus {
        guard pci.mayAccess(sqe.prp1, length: length, direction.dma) else { return .dataTransferError }
        let iommu = self.iommu
        if direction == .toHost, let delay = lateDataNanoseconds {
            // FaultAction.lateData: the PRP list is read now, the data written after the completion.
            return iommu.withTranslation { t in
                let walked = self.walkDataPointer(sqe, length: length, direction: direction, translator: &t)
                guard walked.isSuccess else { return walked }
                return self.captureLateData(length: length, delay: delay, body)
            }
        }
        return iommu.withTranslation { t in
            let mapped = self.mapData(sqe, length: length, direction: direction, translator: &t)
            guard mapped.isSuccess else { return mapped }
            return body(&self)
        }
    }

    /// Copies controller data (identify, log pages) to the host buffer the PRPs describe.
    mutating func copyToHost(_ sqe: SubmissionQueueEntry, _ data: UnsafeRawBufferPointer) -> NVMeStatus {
        withData(sqe, length: data.count, direction: .toHost) { engine in
            var done = 0
            for buffer in engine.hostBuffers {
                buffer.baseAddress!.copyMemory(from: data.baseAddress! + done, byteCount: buffer.count)
                done += buffer.count
            }
            return .success
        }
    }

    /// Copies host data (Dataset Management ranges) into `data`.
    mutating func copyFromHost(_ sqe: SubmissionQueueEntry, into data: UnsafeMutableRawBufferPointer) -> NVMeStatus {
        withData(sqe, length: data.count, direction: .fromHost) { engine in
            var done = 0
            for buffer in engine.hostBuffers {
                (data.baseAddress! + done).copyMemory(from: buffer.baseAddress!, byteCount: buffer.count)
                done += buffer.count
            }
            return .success
        }
    }
}
