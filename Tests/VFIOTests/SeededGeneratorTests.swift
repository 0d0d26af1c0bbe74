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

import Testing
import VFIO

@Test func seededGeneratorMatchesTheSplitMix64ReferenceSequence() {
    // The first outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
    var g = SeededGenerator(seed: 0)
    #expect(g.next() == 0xE220_A839_7B1D_CDAF)
    #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
}

@Test func seededGeneratorUnitDrawsStayInTheHalfOpenUnitInterval() {
    var g = SeededGenerator(seed: 42)
    let draws = (0..<10_000).map { _ in g.nextUnit() }
    #expect(draws.allSatisfy { $0 >= 0 && $0 < 1 })
    // Spread over the interval, not stuck near one end.
    #expect(draws.contains { $0 < 0.01 } && draws.contains { $0 > 0.99 })
}
