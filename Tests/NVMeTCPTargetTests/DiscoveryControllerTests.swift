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
import NVMeTCPTarget
import Testing
import VFIO

/// The discovery controller, as `nvme discover` uses it: Connect to the discovery NQN, Identify,
/// the Discovery log read in pieces.
@Suite struct DiscoveryControllerTests {
    /// Get Log Page 70h of `bytes` from `offset`, with an SGL of `sglBytes` (default: `bytes`).
    func discoveryLog(bytes: Int, offset: UInt64 = 0, sglBytes: Int? = nil) -> SubmissionQueueEntry {
        var e = SubmissionQueueEntry.getLogPage(.discovery, dwords: bytes / 4, offset: 0, namespaceID: 0)
        e.cdw12 = UInt32(truncatingIfNeeded: offset)
        e.cdw13 = UInt32(truncatingIfNeeded: offset >> 32)
        e.setFirstSGL(.transportData(length: UInt32(sglBytes ?? bytes)))
        return e
    }

    func connectDiscovery(_ engine: inout TargetEngine<EmulatedNVMeController>) throws -> (HostQueue, UInt16) {
        var (admin, connected) = try HostQueue.connect(&engine, subsystemNQN: discoveryNQN)
        #expect(connected.status == .success)
        try admin.enable(on: &engine)
        return (admin, UInt16(truncatingIfNeeded: connected.commandSpecific))
    }

    @Test func connectToTheDiscoveryNQNGivesADiscoveryControllerThatIdentifiesAsOne() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, cntlid) = try connectDiscovery(&engine)
        #expect(fixture.subsystem.controller(cntlid)?.kind == .discovery)
        var identify = SubmissionQueueEntry.identify(cns: .controller, namespaceID: 0)
        identify.setFirstSGL(.transportData(length: 4096))
        let (response, page) = try admin.command(identify, on: &engine)
        #expect(response.status == .success)
        let identity = try page.withUnsafeBytes { try IdentifyController(bytes: $0) }
        #expect(identity.subsystemNQN == discoveryNQN)
        #expect(identity.controllerID == cntlid)
        #expect(identity.numberOfNamespaces == 0)
        #expect(identity.maxcmd == 32)
        #expect(identity.lpa & 1 << 2 != 0)  // extended data: offsets and NUMDU
        #expect(page[111] == 2)  // CNTRLTYPE: discovery
        #expect(page[320] == 1)  // KAS

        // No namespaces, no NVM admin commands, no I/O features.
        var namespace = SubmissionQueueEntry.identify(cns: .namespace, namespaceID: 1)
        namespace.setFirstSGL(.transportData(length: 4096))
        #expect(try admin.command(namespace, on: &engine).0.status == .invalidFieldInCommand)
        var queues = SubmissionQueueEntry(opcode: AdminOpcode.setFeatures.rawValue)
        queues.cdw10 = UInt32(FeatureIdentifier.numberOfQueues.rawValue)
        #expect(try admin.command(queues, on: &engine).0.status == .invalidFieldInCommand)
        #expect(try admin.command(SubmissionQueueEntry(opcode: AdminOpcode.keepAlive.rawValue), on: &engine).0.status == .success)
        // The NVM subsystem's controllers still identify as I/O controllers.
        var (nvm, _) = try HostQueue.connect(&engine)
        let (_, nvmPage) = try nvm.command(identify, on: &engine)
        #expect(nvmPage[111] == 0)
        #expect(try nvmPage.withUnsafeBytes { try IdentifyController(bytes: $0) }.subsystemNQN == TargetConfiguration.defaultNQN)
    }

    @Test func discoveryLogHeaderThenWholeLogNameTheSubsystemWhereTheServerListens() throws {
        var configuration = TargetConfiguration(queueEntries: 32, bufferCount: 8)
        configuration.listenAddress = try ListenAddress(parsing: "10.1.2.3:4421")
        let fixture = try TargetFixture(configuration: configuration)
        var engine = try fixture.makeEngine()
        var (admin, _) = try connectDiscovery(&engine)

        // As `nvme discover` does: the header, then header and records.
        let (first, header) = try admin.command(discoveryLog(bytes: 1024), on: &engine)
        #expect(first.status == .success)
        #expect(header.count == 1024)
        let counts = header.withUnsafeBytes { DiscoveryLogPage.header($0) }
        #expect(counts?.generation == 1)
        #expect(counts?.numberOfRecords == 1)

        let (second, log) = try admin.command(discoveryLog(bytes: 2048), on: &engine)
        #expect(second.status == .success)
        #expect(Array(log[0..<1024]) == header)
        let entry = log.withUnsafeBytes { DiscoveryLogEntry(bytes: UnsafeRawBufferPointer(rebasing: $0[1024...])) }
        #expect(entry == DiscoveryLogEntry(
            transportType: .tcp, addressFamily: .ipv4, subsystemType: .nvm, secureChannel: .notSpecified, portID: 1,
            controllerID: 0xFFFF, adminQueueSize: 32, serviceID: "4421", subsystemNQN: TargetConfiguration.defaultNQN,
            address: "10.1.2.3", security: .none))
        #expect(log[1024] == 3 && log[1025] == 1 && log[1026] == 2)  // TRTYPE TCP, ADRFAM IPv4, SUBTYPE NVM
        #expect(Array(log[(1024 + 32)..<(1024 + 36)]) == Array("4421".utf8))

        // The entry alone, from its offset; and more than the log holds reads zeros past its end.
        let (third, record) = try admin.command(discoveryLog(bytes: 1024, offset: 1024), on: &engine)
        #expect(third.status == .success)
        #expect(record == Array(log[1024...]))
        let (fourth, padded) = try admin.command(discoveryLog(bytes: 4096, offset: 1024), on: &engine)
        #expect(fourth.status == .success)
        #expect(Array(padded[0..<1024]) == Array(log[1024...]))
        #expect(padded[1024...].allSatisfy { $0 == 0 })
    }

    @Test func targetListeningOnAnyAddressNamesTheAddressTheHostReached() throws {
        var configuration = TargetConfiguration(queueEntries: 32, bufferCount: 8)
        configuration.listenAddress = try ListenAddress(parsing: "0.0.0.0:4420")
        let fixture = try TargetFixture(configuration: configuration)
        #expect(fixture.subsystem.discoveryLog(reachedAt: try ListenAddress(parsing: "192.0.2.7:4420")).entries.first?.address == "192.0.2.7")
        #expect(fixture.subsystem.discoveryLog().entries.first?.address == "0.0.0.0")
        // A specific listen address is named whatever the connection's local address says.
        let specific = try TargetFixture()
        #expect(specific.subsystem.discoveryLog(reachedAt: try ListenAddress(parsing: "192.0.2.7:4420")).entries.first?.address == "127.0.0.1")
    }

    @Test func badLogOffsetsLengthsAndOtherLogsAreRefusedWithoutClosingTheQueue() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        var (admin, _) = try connectDiscovery(&engine)
        // Not a dword multiple; past the log's end; at its end; far beyond (LPOU).
        for offset: UInt64 in [2, 2048, 4096, 1 << 40] {
            let (r, data) = try admin.command(discoveryLog(bytes: 1024, offset: offset), on: &engine)
            #expect(r.status == .invalidFieldInCommand, "offset \(offset)")
            #expect(data.isEmpty)
        }
        // More dwords than the SGL holds.
        let (short, _) = try admin.command(discoveryLog(bytes: 2048, sglBytes: 1024), on: &engine)
        #expect(short.status == .dataSGLLengthInvalid)
        // Another log on a discovery controller.
        var smart = SubmissionQueueEntry.getLogPage(.smartHealth, dwords: 128)
        smart.setFirstSGL(.transportData(length: 512))
        #expect(try admin.command(smart, on: &engine).0.status == .invalidFieldInCommand)
        // And the discovery log on an NVM controller.
        var (nvm, _) = try HostQueue.connect(&engine)
        #expect(try nvm.command(discoveryLog(bytes: 1024), on: &engine).0.status == .invalidLogPage)
        // The discovery queue still answers.
        #expect(try admin.command(discoveryLog(bytes: 1024), on: &engine).0.status == .success)
        do { let holds = engine.phase(admin.connection) == .established; #expect(holds) }
    }

    @Test func ioQueueConnectToADiscoveryControllerIsRefused() throws {
        let fixture = try TargetFixture()
        var engine = try fixture.makeEngine()
        let (_, cntlid) = try connectDiscovery(&engine)
        let (_, byDiscoveryNQN) = try HostQueue.connect(&engine, queueID: 1, controllerID: cntlid, subsystemNQN: discoveryNQN)
        #expect(byDiscoveryNQN.status == .connectInvalidParameters)
        #expect(byDiscoveryNQN.commandSpecific == ConnectInvalidParameter.queueID.dword0)
        // Naming the NVM subsystem with the discovery controller's id does not join it either.
        let (_, bySubsystemNQN) = try HostQueue.connect(&engine, queueID: 1, controllerID: cntlid)
        #expect(bySubsystemNQN.status == .connectInvalidParameters)
        #expect(bySubsystemNQN.commandSpecific == ConnectInvalidParameter.controllerID.dword0)
        #expect(fixture.subsystem.controller(cntlid)?.connectedIOQueues.isEmpty == true)
    }
}
