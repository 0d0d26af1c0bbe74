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

#if canImport(Glibc)
import Glibc
#endif
import NVMe
import VFIO

/// A controller brought up on a scenario's target, with the scratch I/O every scenario uses.
///
/// Scratch I/O goes to the second half of the first namespace: the HIL host's pattern lies at
/// LBA 1001 and must survive, and the third quarter onwards is the reset scenario's.
public struct NVMeScenarioRig<Device: PCIFunction> {
    public let device: Device
    public let controller: Controller<Device>
    public let log: (String) -> Void

    /// The options of every scenario: four queue pairs of 64 entries, a 20 s I/O timeout (TCG
    /// under load is slow, and a timeout here would be a false failure).
    public static var options: ControllerOptions {
        ControllerOptions(ioQueuePairs: 4, ioQueueEntries: 64, ioTimeoutMilliseconds: 20_000)
    }

    public init(_ target: NVMeTarget<Device>) throws {
        device = try target.open()
        controller = try Controller(device: device, options: Self.options)
        log = target.log
    }

    /// The first namespace, where scratch I/O goes.
    public var info: NamespaceInfo { controller.namespaces[0] }

    /// Writes `bytes` (whole blocks) of a seeded pattern at a scratch LBA from a buffer starting
    /// `offset` bytes into its page, reads it back into another buffer, compares.
    public func roundTrip(_ pair: inout QueuePair<Device>, mode: CompletionMode, bytes: Int, offset: Int, slot: Int = 0) throws {
        let info = self.info
        let blocks = max(1, bytes / info.blockSize)
        let length = blocks * info.blockSize
        let lba = info.blockCount / 2 + UInt64(slot) * UInt64((4 << 20) / info.blockSize)
        let out = try device.dma.allocate(length: length + offset)
        let back = try device.dma.allocate(length: length + offset)
        let outSlice = out.slice(offset: offset, length: length)
        let backSlice = back.slice(offset: offset, length: length)
        fillPattern(outSlice, seed: UInt64(slot) &+ UInt64(bytes))
        let ns = try controller.namespace(info.id)
        try ns.write(lba: lba, blocks: blocks, from: outSlice, using: &pair, mode: mode)
        try ns.read(lba: lba, blocks: blocks, into: backSlice, using: &pair, mode: mode)
        try expect(memcmp(outSlice.address, backSlice.address, length) == 0,
                   "data read back from LBA \(lba) (\(length) B, \(mode)) differs from what was written")
    }

    /// Submits reads until the queue is full (its depth), rings once, and reaps them all.
    public func fillQueue(_ pair: inout QueuePair<Device>, mode: CompletionMode) throws {
        let info = self.info
        let buffer = try device.dma.allocate(length: pair.depth * info.blockSize)
        var submitted = 0
        while pair.canSubmit {
            try pair.submitRead(namespace: info, lba: UInt64(submitted), blocks: 1,
                                into: buffer.slice(offset: submitted * info.blockSize, length: info.blockSize), token: UInt64(submitted))
            submitted += 1
        }
        pair.ringSubmissionDoorbell()
        try expect(submitted == pair.depth, "queue took \(submitted) commands, depth \(pair.depth)")
        var completed = 0, failed: [String] = []
        while completed < submitted {
            let n = try pair.waitForCompletions(atLeast: submitted - completed, mode: mode, timeoutMilliseconds: 20_000) { c in
                if !c.status.isSuccess { failed.append("\(c.status)") }
            }
            try expect(n > 0, "\(submitted - completed) reads of the full queue never completed")
            completed += n
        }
        try expect(failed.isEmpty, "reads of the full queue failed: \(failed)")
    }
}

/// A seeded xorshift pattern, so that a mismatch is reproducible.
public func fillPattern(_ slice: DMASlice, seed: UInt64) {
    var state = seed | 1
    var i = 0
    while i + 8 <= slice.length {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        slice.address.storeBytes(of: state, toByteOffset: i, as: UInt64.self)
        i += 8
    }
}
