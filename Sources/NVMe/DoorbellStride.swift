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

/// Resolves a queue's doorbells once, at the stride from CAP.DSTRD (NVMe base 1.4, 3.1.24-25), so
/// the I/O path stores to a precomputed address.
struct DoorbellStride {
    let registers: MMIORegion
    /// CAP.DSTRD, the exponent.
    let exponent: Int

    /// Highest queue id whose two doorbells lie inside the mapped BAR. A device with a large
    /// DSTRD and a small BAR would otherwise make the driver store outside the mapping.
    var highestQueueID: Int {
        let strideBytes = 4 << exponent
        let available = registers.length - ControllerRegisterOffset.doorbellBase.rawValue
        // Doorbells of queue q end at 0x1000 + (2q + 1) * stride + 4.
        guard available >= strideBytes + 4 else { return -1 }
        return min(Int(UInt16.max), ((available - 4) / strideBytes - 1) / 2)
    }

    func submissionTail(queue: UInt16) -> Doorbell {
        registers.doorbell(at: ControllerRegisterOffset.doorbellOffset(queue: queue, completion: false, stride: exponent))
    }

    func completionHead(queue: UInt16) -> Doorbell {
        registers.doorbell(at: ControllerRegisterOffset.doorbellOffset(queue: queue, completion: true, stride: exponent))
    }
}
