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
import VFIO

/// Where everything sits in the emulated BAR0.
///
/// Controller registers at 0 (NVMe base 1.4, 3.1), doorbells from 0x1000 at `4 << CAP.DSTRD`
/// (3.1.24/3.1.25), then the MSI-X table and PBA, each on its own page after the doorbells, as the
/// MSI-X capability's Table/PBA Offset registers say (PCI 3.0, 6.8.2). The size is a power of two,
/// as every PCI BAR's is.
struct BARLayout: Sendable {
    static let pageSize = 4096

    let doorbellStride: Int
    /// Queue ids 0...maxQueueID have doorbells.
    let maxQueueID: Int
    let msixVectors: Int
    let msixTableOffset: Int
    let msixPBAOffset: Int
    let size: Int

    init(doorbellStrideExponent: Int, maxIOQueuePairs: Int, msixVectors: Int) {
        doorbellStride = 4 << doorbellStrideExponent
        maxQueueID = maxIOQueuePairs
        self.msixVectors = msixVectors
        let doorbellEnd = 0x1000 + 2 * (maxIOQueuePairs + 1) * doorbellStride
        msixTableOffset = Self.roundUp(doorbellEnd)
        msixPBAOffset = Self.roundUp(msixTableOffset + 16 * msixVectors)
        let end = Self.roundUp(msixPBAOffset + 8 * ((msixVectors + 63) / 64))
        var size = 16 * 1024
        while size < end { size <<= 1 }
        self.size = size
    }

    static func roundUp(_ n: Int) -> Int { (n + pageSize - 1) / pageSize * pageSize }

    func submissionTailDoorbell(_ qid: Int) -> Int {
        ControllerRegisterOffset.doorbellBase.rawValue + 2 * qid * doorbellStride
    }

    func completionHeadDoorbell(_ qid: Int) -> Int {
        ControllerRegisterOffset.doorbellBase.rawValue + (2 * qid + 1) * doorbellStride
    }

    /// The MSI-X table and PBA in BAR0 memory.
    func msixTable(in region: MMIORegion) -> MSIXTable {
        MSIXTable(memory: region, vectors: msixVectors, tableOffset: msixTableOffset, pbaOffset: msixPBAOffset)
    }
}
