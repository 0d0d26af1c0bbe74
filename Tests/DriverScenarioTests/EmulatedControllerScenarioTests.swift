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

import DriverScenarios
import NVMe
import NVMeEmulator
import Testing
import VFIO

/// The emulated counterparts of the HIL suite's QEMU controllers (scripts/hil-test.sh, boots
/// `formats` and `limits`): same serial numbers, namespaces, MDTS and queue-pair limits, so that
/// each driver scenario runs on the same four configurations on both devices.
struct EmulatedConfiguration: Sendable, CustomTestStringConvertible {
    let name: String
    let namespaces: [NamespaceFact]
    let mdts: Int
    let maximumQueuePairs: Int
    /// MSI-X vectors (QEMU's `msix_qsize`); nil: one per queue pair and the admin queue's.
    var msixVectors: Int? = nil
    /// Namespaces that start detached (QEMU's `detached=on` in an nvme-subsys): not in the facts.
    var detached: [NamespaceFact] = []
    /// Controller Memory Buffer bytes (QEMU's `cmb_size_mb`); 0: none.
    var controllerMemoryBufferBytes = 0

    var testDescription: String { name }

    /// MiB of a namespace in blocks of `blockSize`.
    static func namespace(_ id: UInt32, blockSize: Int, mebibytes: UInt64) -> NamespaceFact {
        NamespaceFact(id: id, blockSize: blockSize, blockCount: mebibytes << 20 / UInt64(blockSize))
    }

    /// QEMU 7.2's defaults: MDTS 7, 64 I/O queue pairs.
    static let all = [
        EmulatedConfiguration(name: "lba512", namespaces: [namespace(1, blockSize: 512, mebibytes: 64)], mdts: 7, maximumQueuePairs: 64),
        EmulatedConfiguration(
            name: "lba4k-2ns",
            namespaces: [namespace(1, blockSize: 4096, mebibytes: 64), namespace(2, blockSize: 512, mebibytes: 32)],
            mdts: 7, maximumQueuePairs: 64),
        EmulatedConfiguration(name: "mdts2", namespaces: [namespace(1, blockSize: 512, mebibytes: 32)], mdts: 2, maximumQueuePairs: 64),
        EmulatedConfiguration(name: "ioqpairs2", namespaces: [namespace(1, blockSize: 4096, mebibytes: 32)], mdts: 7, maximumQueuePairs: 2),
        EmulatedConfiguration(
            name: "msixqsize2", namespaces: [namespace(1, blockSize: 512, mebibytes: 32)], mdts: 7, maximumQueuePairs: 4,
            msixVectors: 2),
        EmulatedConfiguration(
            name: "aer", namespaces: [namespace(1, blockSize: 512, mebibytes: 32)], mdts: 7, maximumQueuePairs: 64,
            detached: [namespace(2, blockSize: 4096, mebibytes: 16)]),
        EmulatedConfiguration(
            name: "cmb", namespaces: [namespace(1, blockSize: 512, mebibytes: 32)], mdts: 7, maximumQueuePairs: 64,
            controllerMemoryBufferBytes: 64 << 20),
    ]

    /// Whether the scenario skips here by design: the shared-vector ones need fewer vectors than pairs,
    /// the aer- ones a detached namespace.
    func skips(_ scenario: String) -> Bool {
        (scenario.hasPrefix("shared-vector-") && msixVectors == nil) || (scenario.hasPrefix("aer-") && detached.isEmpty)
            || (scenario.hasPrefix("cmb-") && controllerMemoryBufferBytes == 0)
    }

    var facts: NVMeFacts {
        NVMeFacts(
            serialNumber: "HIL-\(name)", modelNumber: "swift-vfio emulated NVMe", maximumDataTransferSize: mdts,
            maximumQueuePairs: maximumQueuePairs, namespaces: namespaces)
    }

    /// The controller on its own thread, as QEMU's runs beside the guest's CPUs: interrupts are
    /// real eventfd signals that wake a sleeping reaper.
    func makeController() throws -> EmulatedNVMeController {
        var configuration = EmulatedNVMeConfiguration(
            namespaces: (namespaces + detached).sorted { $0.id < $1.id }.map { EmulatedNamespace(blockSize: $0.blockSize, capacityInBlocks: $0.blockCount) },
            maxDataTransferSize: UInt8(mdts), maxIOQueuePairs: maximumQueuePairs, mode: .threaded,
            serialNumber: "HIL-\(name)")
        if let msixVectors { configuration.msixVectors = msixVectors }
        configuration.controllerMemoryBufferBytes = controllerMemoryBufferBytes
        configuration.sgls = .qemu  // QEMU 7.2 advertises SGLs on every controller

        let device = try EmulatedNVMeController(configuration: configuration)
        for namespace in detached { device.setNamespaceAttached(namespace.id, false, notify: false) }
        return device
    }
}

/// Every NVMe driver scenario (Sources/DriverScenarios) on the emulated controller; vfio-hil runs
/// the same scenarios on QEMU's controller in the HIL VM.
@Suite struct EmulatedControllerScenarioTests {
    @Test(arguments: NVMeScenarios.names, EmulatedConfiguration.all)
    func scenarioPassesOnTheEmulatedController(_ name: String, _ configuration: EmulatedConfiguration) throws {
        let scenario = try #require(NVMeScenarios.named(name))
        let device = try configuration.makeController()
        defer { device.close() }
        let target = NVMeTarget(facts: configuration.facts) { device }
        let outcome = try scenario.run(target)
        if configuration.skips(name) {
            #expect(outcome != .pass, "\(name) has nothing to prove on \(configuration.name)")
        } else {
            #expect(outcome == .pass)
        }
        #expect(device.dmaFaults.isEmpty, "the scenario's DMA stayed inside its mappings")
    }

    @Test func everyScenarioHasAUniqueName() {
        #expect(Set(NVMeScenarios.names).count == NVMeScenarios.all.count)
    }
}
