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

/// Bring-up: Identify Controller (serial, model, MDTS), Set Features Number of Queues, the
/// namespaces as configured, MSI-X vectors for the admin queue and at least one I/O queue.
public enum BringUpIdentifies: NVMeScenario {
    public static let name = "nvme-bringup-identify"
    public static let summary = "bring-up, Identify Controller (serial, model, MDTS), Set Features Number of Queues, namespaces as configured"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        let c = rig.controller
        let facts = target.facts
        rig.log("\(c.identity.modelNumber) sn \(c.identity.serialNumber) fr \(c.identity.firmwareRevision) VS \(c.version); CAP \(hex(c.capabilities.rawValue)); MDTS \(c.identity.mdts) -> \(c.maximumTransferBytes) B/command; \(c.grantedQueuePairs) I/O queue pairs; \(c.interruptVectors) MSI-X vectors; namespaces \(c.namespaces.map { "\($0.id):\($0.blockSize):\($0.blockCount)" })")
        if let serial = facts.serialNumber {
            try expect(c.identity.serialNumber == serial, "serial \(c.identity.serialNumber), configured \(serial)")
        }
        if let model = facts.modelNumber {
            try expect(c.identity.modelNumber == model, "model \(c.identity.modelNumber), configured \(model)")
        }
        if let mdts = facts.maximumDataTransferSize {
            let expected = mdts == 0 ? PRPBuilder.maximumTransferBytes : min(4096 << mdts, PRPBuilder.maximumTransferBytes)
            try expect(c.maximumTransferBytes == expected, "maximum transfer \(c.maximumTransferBytes), expected \(expected) for MDTS \(mdts)")
        }
        if !facts.namespaces.isEmpty {
            let seen = c.namespaces.map { NamespaceFact(id: $0.id, blockSize: $0.blockSize, blockCount: $0.blockCount) }
            try expect(seen == facts.namespaces, "namespaces \(seen), configured \(facts.namespaces)")
        }
        try expect(c.status.ready, "CSTS.RDY clear after bring-up (CSTS \(hex(c.status.rawValue)))")
        try expect(c.grantedQueuePairs >= 1 && c.interruptVectors >= 2, "\(c.grantedQueuePairs) queue pairs, \(c.interruptVectors) vectors")
        try c.close()
        return .pass
    }
}

/// `close()`: queues deleted, CC.SHN normal shutdown completes (close throws otherwise), CC.EN
/// cleared; a second close is harmless, later calls say the controller is closed; a new bring-up
/// on the same function works.
public enum ShutdownAndBringUpAgain: NVMeScenario {
    public static let name = "nvme-shutdown"
    public static let summary = "close(): queues deleted, CC.SHN normal shutdown completes, CC.EN cleared, later calls fail with closed; the controller comes up again"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        do {
            let rig = try NVMeScenarioRig(target)
            var pair = try rig.controller.makeQueuePair()
            try rig.roundTrip(&pair, mode: .poll, bytes: 16 << 10, offset: 0)
            try rig.controller.close()
            let status = rig.controller.status
            try expect(!status.ready, "CSTS.RDY still set after close (CSTS \(hex(status.rawValue)))")
            let bar = try rig.device.region(bar: 0)
            let cc = ControllerConfiguration(rawValue: bar.load32(at: ControllerRegisterOffset.controllerConfiguration.rawValue))
            try expect(!cc.enable, "CC.EN still set after close (CC \(hex(cc.rawValue)))")
            try rig.controller.close()
            do {
                _ = try rig.controller.makeQueuePair()
                throw ScenarioFailure("a queue pair was made after close")
            } catch let error as NVMeError {
                try expect(error == .closed, "makeQueuePair after close: \(error), expected closed")
            }
            do {
                _ = try rig.controller.identifyController()
                throw ScenarioFailure("Identify ran after close")
            } catch let error as NVMeError {
                try expect(error == .closed, "Identify after close: \(error), expected closed")
            }
        }
        let again = try NVMeScenarioRig(target)
        try expect(again.controller.status.ready, "second bring-up not ready")
        try again.controller.close()
        return .pass
    }
}
