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

import NVMe
import NVMeEmulator
import Testing
import VFIO

@Suite struct BlockingIOTests {
    @Test func writeThenReadBackThroughInternalQueuePair() throws {
        let rig = try Rig()
        let ns = try rig.controller.namespace(1)
        let out = try patternBuffer(rig.device.dma, bytes: 64 * 512, seed: 1)
        let back = try rig.device.dma.allocate(length: 64 * 512)
        try ns.write(lba: 100, blocks: 64, from: out.whole)
        try ns.read(lba: 100, blocks: 64, into: back.whole)
        #expect(equalBytes(out.whole, back.whole))
    }
}
