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
import VFIO

/// Queue pairs up to the grant: four asked for, as many as the controller allows granted, each
/// with its own vector, doing interleaved I/O on disjoint ranges in different modes; one more is
/// refused with the number granted; dropped pairs delete their queues, so their ids come back.
public enum QueuePairsUpToTheGrant: NVMeScenario {
    public static let name = "nvme-four-queue-pairs"
    public static let summary = "four I/O queue pairs (or all the controller grants), each with its own vector, interleaved I/O on disjoint ranges; one more is refused; dropped pairs free their ids"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        defer { try? rig.controller.close() }
        let granted = rig.controller.grantedQueuePairs
        let asked = NVMeScenarioRig<Device>.options.ioQueuePairs
        // A controller limited below what we ask for: the driver must use exactly what it grants.
        let expected = min(asked, target.facts.maximumQueuePairs ?? asked)
        try expect(granted == expected, "granted \(granted) queue pairs, expected \(expected) (asked \(asked), controller limit \(target.facts.maximumQueuePairs.map(String.init) ?? "unknown"))")
        guard granted == 2 || granted == 4 else { return .skip("the controller granted \(granted) queue pairs; this scenario uses 2 or 4") }
        do {
            var ids: [UInt16] = []
            var a = try rig.controller.makeQueuePair(entries: 16)
            var b = try rig.controller.makeQueuePair(entries: 16)
            ids += [a.id, b.id]
            // Each pair writes and reads back in turn: completions of different queues interleave.
            try rig.roundTrip(&a, mode: .interrupt, bytes: 64 << 10, offset: 4, slot: 0)
            try rig.roundTrip(&b, mode: .hybrid, bytes: 64 << 10, offset: 8, slot: 1)
            var vectors = [a.interruptVector, b.interruptVector]
            if granted == 4 {
                var c = try rig.controller.makeQueuePair(entries: 16)
                var d = try rig.controller.makeQueuePair(entries: 16)
                ids += [c.id, d.id]
                try rig.roundTrip(&c, mode: .poll, bytes: 64 << 10, offset: 16, slot: 2)
                try rig.roundTrip(&d, mode: .interrupt, bytes: 64 << 10, offset: 32, slot: 3)
                vectors += [c.interruptVector, d.interruptVector]
                try checkRefused(rig, granted: granted)
            } else {
                try checkRefused(rig, granted: granted)
            }
            rig.log("queue pairs \(ids) of \(granted) granted, vectors \(vectors.map { $0.map(String.init) ?? "none" })")
            // Fewer vectors than pairs (msix_qsize): they are shared, one per I/O vector.
            let distinct = min(granted, rig.controller.interruptVectors - 1)
            try expect(Set(vectors.compactMap { $0 }).count == distinct, "the \(granted) queue pairs do not have \(distinct) distinct vectors: \(vectors)")
            try expect(ids == Array(1...UInt16(granted)), "queue ids \(ids), expected 1...\(granted)")
        }
        let again = try rig.controller.makeQueuePair()
        try expect(again.id == 1, "after dropping every pair the next one got id \(again.id), expected 1")
        return .pass
    }

    /// With every granted pair in use, one more is refused, naming the grant.
    static func checkRefused<Device: PCIFunction>(_ rig: NVMeScenarioRig<Device>, granted: Int) throws {
        do {
            _ = try rig.controller.makeQueuePair()
            throw ScenarioFailure("a queue pair beyond the \(granted) granted was made")
        } catch let error as NVMeError {
            try expect(error == .noQueuePairAvailable(granted: granted), "the pair beyond the grant: \(error)")
        }
    }
}

/// PRP lists: one command with a PRP list from a mid-page buffer, and a request of several MDTS
/// that the Namespace API splits into pipelined commands.
public enum PRPListsAndSplitRequests: NVMeScenario {
    public static let name = "nvme-prp-lists-over-mdts"
    public static let summary = "one command with a PRP list from a mid-page buffer, and a request of several MDTS split by the Namespace API"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        var pair = try rig.controller.makeQueuePair()
        let info = rig.info
        let maximum = rig.controller.maximumTransferBytes
        // Largest single command from offset 0x204: PRP1 partial page plus a list.
        let single = min(maximum, 64 << 10) / info.blockSize * info.blockSize
        try rig.roundTrip(&pair, mode: .poll, bytes: single, offset: 0x204, slot: 0)
        // Several MDTS worth in one call: split into commands, pipelined.
        let big = min(3 * maximum + 5 * info.blockSize, 2 << 20)
        try rig.roundTrip(&pair, mode: .interrupt, bytes: big, offset: 0x40, slot: 1)
        let commands = pair.statistics.submitted
        rig.log("single command \(single) B, split request \(big) B; \(commands) commands")
        try expect(Int(commands) >= 2 + 2 * ((big + maximum - 1) / maximum), "only \(commands) commands for the split request")
        try rig.controller.close()
        return .pass
    }
}

/// A read past the end: the device answers LBA Out of Range (named in the status); the Namespace
/// API refuses it on the host, saying which range was wrong.
public enum LBAOutOfRange: NVMeScenario {
    public static let name = "nvme-lba-out-of-range"
    public static let summary = "a read past the end fails with the device's LBA Out of Range status; the Namespace API refuses it on the host"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        var pair = try rig.controller.makeQueuePair()
        let info = rig.info
        let buffer = try rig.device.dma.allocate(length: info.blockSize)
        try pair.submitRead(namespace: info, lba: info.blockCount, blocks: 1, into: buffer.whole, token: 1)
        pair.ringSubmissionDoorbell()
        var status: NVMeStatus?
        _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 5000) { status = $0.status }
        rig.log("device: \(status.map { "\($0)" } ?? "no completion")")
        try expect(status?.matches(.lbaOutOfRange) == true, "status \(status.map { "\($0)" } ?? "none"), expected LBA Out of Range")
        try expect(status?.description.hasPrefix("LBA Out of Range") == true, "the status prints as \(status.map { "\($0)" } ?? "none")")
        let ns = try rig.controller.namespace(info.id)
        do {
            try ns.read(lba: info.blockCount - 1, blocks: 2, into: buffer.whole)
            throw ScenarioFailure("the Namespace API read past the end")
        } catch let error as NVMeError {
            try expect(error == .lbaOutOfRange(namespace: info.id, lba: info.blockCount - 1, blocks: 2, capacity: info.blockCount), "got \(error)")
            rig.log("host: \(error)")
        }
        try rig.controller.close()
        return .pass
    }
}
