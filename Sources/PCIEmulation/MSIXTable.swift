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

/// An emulated function's MSI-X table and Pending Bit Array, in the BAR memory the capability
/// points at (PCI 3.0, 6.8.2): 16 bytes per vector (message address, upper address, data,
/// vector control with the mask in bit 0), one pending bit per vector in 32-bit words.
///
/// The memory is plain BAR memory: the "kernel" side (`PCIFunctionState.enableInterrupts`, a
/// driver's `setInterruptMasked`) writes entries and the device reads them. Every access is a
/// volatile one through `MMIORegion`, because in threaded mode the two sides run on two threads.
public struct MSIXTable: Sendable {
    public let memory: MMIORegion
    public let vectors: Int
    public let tableOffset: Int
    public let pbaOffset: Int

    public init(memory: MMIORegion, vectors: Int, tableOffset: Int, pbaOffset: Int) {
        self.memory = memory
        self.vectors = vectors
        self.tableOffset = tableOffset
        self.pbaOffset = pbaOffset
    }

    public func messageAddressOffset(_ vector: Int) -> Int { tableOffset + 16 * vector }
    public func messageDataOffset(_ vector: Int) -> Int { tableOffset + 16 * vector + 8 }
    /// Vector Control of entry `vector` (bit 0: mask).
    public func vectorControlOffset(_ vector: Int) -> Int { tableOffset + 16 * vector + 12 }
    /// The 32-bit PBA word holding `vector`'s pending bit.
    public func pbaWordOffset(_ vector: Int) -> Int { pbaOffset + 4 * (vector / 32) }

    /// The entry's own mask bit (the function mask is in config space).
    public func isMasked(_ vector: Int) -> Bool { memory.load32(at: vectorControlOffset(vector)) & 1 != 0 }

    public func setMasked(_ vector: Int, _ masked: Bool) {
        memory.store32(masked ? 1 : 0, at: vectorControlOffset(vector))
    }

    public func isPending(_ vector: Int) -> Bool {
        memory.load32(at: pbaWordOffset(vector)) & (1 << UInt32(vector % 32)) != 0
    }

    public func setPending(_ vector: Int, _ on: Bool) {
        let word = pbaWordOffset(vector)
        let bit = UInt32(1) << UInt32(vector % 32)
        let old = memory.load32(at: word)
        memory.store32(on ? old | bit : old & ~bit, at: word)
    }

    /// What the kernel writes when it enables a vector: the x86 MSI address and a message
    /// numbered after the vector, unmasked.
    public func program(_ vector: Int) {
        memory.store32(0xFEE0_0000, at: messageAddressOffset(vector))
        memory.store32(UInt32(vector), at: messageDataOffset(vector))
        setMasked(vector, false)
    }

    /// After reset every entry is masked and nothing is pending (PCI 3.0, 6.8.2.9); address
    /// and data are cleared.
    public func reset() {
        for v in 0..<vectors {
            memory.store32(0, at: messageAddressOffset(v))
            memory.store32(0, at: messageAddressOffset(v) + 4)
            memory.store32(0, at: messageDataOffset(v))
            setMasked(v, true)
        }
        for word in stride(from: 0, to: vectors, by: 32) { memory.store32(0, at: pbaWordOffset(word)) }
    }

    /// The table's words, to be put back after a reset (`pci_save_state` keeps the MSI-X entries).
    public func saveEntries() -> [UInt32] {
        (0..<(4 * vectors)).map { memory.load32(at: tableOffset + 4 * $0) }
    }

    public func restoreEntries(_ words: [UInt32]) {
        for (i, word) in words.enumerated() where i < 4 * vectors { memory.store32(word, at: tableOffset + 4 * i) }
    }
}
