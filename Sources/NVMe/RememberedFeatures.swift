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

/// The features a caller set through `Controller.setFeature`, latest value first set first, to be
/// replayed after a controller reset. Per-vector features (Interrupt Vector Configuration, whose
/// CDW11 names the vector) are remembered per vector; Number of Queues is left to the driver.
struct RememberedFeatures: Sendable {
    struct Entry: Sendable, Equatable {
        let id: FeatureIdentifier
        var cdw11: UInt32
    }

    private(set) var entries: [Entry] = []

    mutating func remember(_ id: FeatureIdentifier, cdw11: UInt32) {
        guard id != .numberOfQueues else { return }
        let sameTarget: (Entry) -> Bool = { entry in
            entry.id == id && (id != .interruptVectorConfiguration || entry.cdw11 & 0xFFFF == cdw11 & 0xFFFF)
        }
        if let index = entries.firstIndex(where: sameTarget) {
            entries[index].cdw11 = cdw11
        } else {
            entries.append(Entry(id: id, cdw11: cdw11))
        }
    }

    mutating func forget(at indices: [Int]) {
        for index in indices.sorted(by: >) { entries.remove(at: index) }
    }
}
