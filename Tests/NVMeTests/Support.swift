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

/// An emulated controller and the driver's controller on it.
struct Rig {
    let device: EmulatedNVMeController
    let controller: Controller<EmulatedNVMeController>

    init(
        mode: EmulationMode = .stepped, queuePairs: Int = 4, entries: Int = 64, mdts: UInt8 = 5,
        namespaces: [EmulatedNamespace] = [EmulatedNamespace(blockSize: 512, capacityInBlocks: 16384)],
        configure: (inout EmulatedNVMeConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = EmulatedNVMeConfiguration(namespaces: namespaces, maxDataTransferSize: mdts, mode: mode)
        configure(&configuration)
        device = try EmulatedNVMeController(configuration: configuration)
        controller = try Controller(
            device: device, options: ControllerOptions(ioQueuePairs: queuePairs, ioQueueEntries: entries, ioTimeoutMilliseconds: 5000))
    }

    var namespace: NamespaceInfo { controller.namespaces[0] }
}

/// A DMA buffer filled with a seeded pattern.
func patternBuffer(_ allocator: DMAAllocator, bytes: Int, seed: UInt64) throws -> DMABuffer {
    let buffer = try allocator.allocate(length: bytes)
    var generator = SeededGenerator(seed: seed)
    let words = buffer.bytes.bindMemory(to: UInt64.self)
    for i in 0..<(buffer.length / 8) { words[i] = generator.next() }
    return buffer
}

func equalBytes(_ a: DMASlice, _ b: DMASlice) -> Bool {
    a.length == b.length && a.bytes.elementsEqual(b.bytes)
}
