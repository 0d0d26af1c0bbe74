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

import PCIEmulation
import VFIO

/// The device's DMA: every access goes through the emulated IOMMU, which refuses (and records)
/// anything no mapping covers, so the device never touches memory the driver did not map.
extension NICEngine {
    /// False (and a `.busMasterDisabled` fault) when PCI_COMMAND.MASTER is clear (PCI 3.0, 6.2.2).
    func dmaAllowed(_ iova: UInt64, _ length: Int, _ direction: DMAFault.Direction) -> Bool {
        pci.mayAccess(iova, length: length, direction)
    }

    /// Reads 16 bytes (a descriptor) as two little-endian words.
    func readDescriptor(_ iova: UInt64) -> (UInt64, UInt64)? {
        guard dmaAllowed(iova, 16, .deviceRead) else { return nil }
        return iommu.withTranslation { t -> (UInt64, UInt64)? in
            guard let p = t.translate(iova, length: 16, direction: .deviceRead) else { return nil }
            return (UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)),
                    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    /// Writes a 16-byte descriptor, the dword at `statusOffset` (the one holding DD: 12 in the
    /// legacy layout, 8 in the extended one) last and with a release store, so a driver that reads
    /// it with an acquire load (and `dma_rmb()` on hardware) sees the rest of the write-back.
    func writeDescriptor(_ iova: UInt64, _ low: UInt64, _ high: UInt64, statusOffset: Int) -> Bool {
        guard dmaAllowed(iova, 16, .deviceWrite) else { return false }
        return iommu.withTranslation { t -> Bool in
            guard let p = t.translate(iova, length: 16, direction: .deviceWrite) else { return false }
            p.storeBytes(of: low.littleEndian, as: UInt64.self)
            let bytes8to11 = UInt32(truncatingIfNeeded: high)
            let bytes12to15 = UInt32(truncatingIfNeeded: high >> 32)
            if statusOffset == 8 {
                p.storeBytes(of: bytes12to15.littleEndian, toByteOffset: 12, as: UInt32.self)
                DMAWord.storeRelease32(p + 8, bytes8to11.littleEndian)
            } else {
                p.storeBytes(of: bytes8to11.littleEndian, toByteOffset: 8, as: UInt32.self)
                DMAWord.storeRelease32(p + 12, bytes12to15.littleEndian)
            }
            return true
        }
    }

    /// Writes one 32-bit word (a transmit descriptor's status dword).
    func writeWord(_ iova: UInt64, _ value: UInt32) -> Bool {
        guard dmaAllowed(iova, 4, .deviceWrite) else { return false }
        return iommu.withTranslation { t -> Bool in
            guard let p = t.translate(iova, length: 4, direction: .deviceWrite) else { return false }
            DMAWord.storeRelease32(p, value.littleEndian)  // a transmit status dword: DD, published
            return true
        }
    }

    /// Appends `length` bytes read at `iova` to `bytes`.
    func readBuffer(_ iova: UInt64, _ length: Int, into bytes: inout [UInt8]) -> Bool {
        guard length > 0 else { return true }
        guard dmaAllowed(iova, length, .deviceRead) else { return false }
        let chunk: [UInt8]? = iommu.withTranslation { t -> [UInt8]? in
            guard let p = t.translate(iova, length: length, direction: .deviceRead) else { return nil }
            return Array(UnsafeRawBufferPointer(start: p, count: length))
        }
        guard let chunk else { return false }
        bytes.append(contentsOf: chunk)
        return true
    }

    /// Writes `bytes[range]` at `iova`.
    func writeBuffer(_ iova: UInt64, _ bytes: [UInt8], _ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return true }
        guard dmaAllowed(iova, range.count, .deviceWrite) else { return false }
        return iommu.withTranslation { t -> Bool in
            guard let p = t.translate(iova, length: range.count, direction: .deviceWrite) else { return false }
            bytes.withUnsafeBytes { src in
                p.copyMemory(from: src.baseAddress! + range.lowerBound, byteCount: range.count)
            }
            return true
        }
    }
}
