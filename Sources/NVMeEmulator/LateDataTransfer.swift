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
import PCIEmulation

/// A transfer to the host that happens after its command's completion (`FaultAction.lateData`):
/// the PRPs were walked at fetch, the data was produced at fetch, and the bytes reach host memory
/// only `delay` after the completion is posted. A real controller may do this with posted writes
/// still in flight; what matters to a driver is that a buffer is the device's until it is quiet.
struct LateWrite {
    /// The data pieces' IOVAs, as the PRPs described them.
    var segments: [(iova: UInt64, length: Int)]
    var data: [UInt8]
    var delay: UInt64
    /// When it may happen; set when the completion is posted.
    var due: UInt64 = 0
}

extension ControllerEngine {
    /// Runs `body` with `hostBuffers` pointing into a scratch buffer laid out like the PRP
    /// segments, and keeps the result as a late write for the command's completion to schedule.
    mutating func captureLateData(length: Int, delay: UInt64, _ body: (inout ControllerEngine) -> NVMeStatus) -> NVMeStatus {
        var scratch = [UInt8](repeating: 0, count: length)
        let status = scratch.withUnsafeMutableBytes { raw in
            hostBuffers.removeAll(keepingCapacity: true)
            var offset = 0
            for (_, n) in segments {
                hostBuffers.append(UnsafeMutableRawBufferPointer(rebasing: raw[offset..<(offset + n)]))
                offset += n
            }
            return body(&self)
        }
        if status.isSuccess { capturedLateWrite = LateWrite(segments: segments, data: scratch, delay: delay) }
        return status
    }

    /// The completion went out (or was dropped): the data follows after its delay.
    mutating func scheduleLateWrite(_ write: LateWrite) {
        var write = write
        write.due = MonotonicClock.nanoseconds() &+ write.delay
        lateWrites.append(write)
    }

    /// Writes the late data that is due, each piece through the bus master check and the IOMMU as
    /// they are now: after bus mastering is turned off, or the buffer unmapped, nothing lands
    /// (the attempt is recorded as a DMA fault instead).
    mutating func performDueLateWrites() -> Bool {
        guard !lateWrites.isEmpty else { return false }
        let now = MonotonicClock.nanoseconds()
        var kept: [LateWrite] = []
        var progress = false
        for write in lateWrites {
            guard write.due <= now else {
                kept.append(write)
                continue
            }
            progress = true
            var offset = 0
            for (iova, n) in write.segments {
                defer { offset += n }
                // A bit bucket's bytes go nowhere (`walkSGL`).
                guard iova != Self.bitBucketIOVA, pci.mayAccess(iova, length: n, .deviceWrite) else { continue }
                pci.iommu.withTranslation { t in
                    guard let p = t.translate(iova, length: n, direction: .deviceWrite) else { return }
                    write.data.withUnsafeBytes { p.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
                }
            }
        }
        lateWrites = kept
        return progress
    }
}
