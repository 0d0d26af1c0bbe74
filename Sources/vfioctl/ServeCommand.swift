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

import ArgumentParser
import NVMe
import NVMeTCPTarget
import VFIO

/// `vfioctl nvme serve`: export the controller's namespaces over NVMe/TCP (NVMeTCPTarget).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the controller's namespaces over NVMe/TCP until SIGINT or SIGTERM.",
        discussion: "A host connects with: nvme connect -t tcp -a ADDR -s PORT -n NQN (nvme discover -t tcp -a ADDR -s PORT lists the NQN)")
    @OptionGroup var target: DeviceOptions
    @Option(help: "IPv4 address and port to listen on.") var listen: String = "127.0.0.1:4420"
    @Option(help: "Subsystem NQN hosts connect to.") var nqn: String = TargetConfiguration.defaultNQN
    @Option(name: .customLong("namespace"), help: "Namespace id to export (repeat for several; default: every namespace without metadata).")
    var namespaces: [UInt32] = []
    @Option(name: .customLong("max-io-queues"), help: "I/O queues one host may connect.") var maximumIOQueues: Int = 8
    @Option(name: .customLong("queue-entries"), help: "Entries per queue a host may use (CAP.MQES + 1).") var queueEntries: Int = 128
    @Option(help: "Completion mode of the backend queue: poll (the only one so far).") var mode: String = "poll"
    @Flag(help: "Print the summary as JSON.") var json = false

    struct Job: ControllerJob {
        let configuration: TargetConfiguration
        let address: ListenAddress
        let json: Bool

        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            var configuration = configuration
            configuration.maximumTransferBytes = min(configuration.maximumTransferBytes, 1 << (Int.bitWidth - 1 - c.maximumTransferBytes.leadingZeroBitCount))
            let problems = configuration.validationErrors(backendMaximumTransferBytes: c.maximumTransferBytes)
            guard problems.isEmpty else { throw ValidationFailure(TargetError.invalidConfiguration(problems).description) }
            let namespaces = try TargetSubsystem.exportedNamespaces(of: c.namespaces, configuration: configuration)
            let listener = try TCPListener(address)
            // The discovery log names the port as bound (the kernel's choice for port 0).
            configuration.listenAddress = listener.address
            let subsystem = TargetSubsystem(configuration: configuration, namespaces: namespaces, backendIdentity: c.identity)
            let engine = try TargetEngine(subsystem: subsystem, queuePair: c.makeQueuePair(), allocator: c.device.dma)
            var server = TargetServer(engine: engine, listener: listener) { printError("vfioctl nvme serve: \($0)") }
            let exported = namespaces.map { "\($0.id) (\($0.blockCount) blocks of \($0.blockSize) bytes)" }.joined(separator: ", ")
            printError("vfioctl nvme serve: \(configuration.subsystemNQN) on \(server.address): namespace \(exported) of \(c.device.name); SIGINT or SIGTERM stops")
            try server.run(stopFD: StopSignal.eventFD)
            let s = server.summary
            if json {
                print(JSON.object([
                    ("nqn", .string(configuration.subsystemNQN)), ("listen", .string(server.address.description)),
                    ("stopped_by", .optional(StopSignal.signalName)), ("connections", .int(s.connectionsAccepted)),
                ] + s.totals.jsonFields + [
                    ("terminated_connections", .int(s.terminations)), ("outstanding_at_exit", .int(server.outstanding)),
                    ("backend", server.backendStatistics.serveJSON),
                    ("connection_reports", .array(s.connections.map(\.json))), ("reports_not_kept", .int(s.reportsNotKept)),
                ]).render())
            } else {
                print("served \(configuration.subsystemNQN) on \(server.address) until \(StopSignal.signalName ?? "stopped"): \(s.line)")
            }
            if server.outstanding > 0 {
                throw ValidationFailure("\(server.outstanding) backend commands did not complete within 5 s of the stop; the controller is quiesced on close")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            guard mode == "poll" else { throw ValidationFailure("--mode \(mode): the target runs its backend queue in poll mode only so far; leave --mode out") }
            let address: ListenAddress
            do { address = try ListenAddress(parsing: listen) } catch { throw ValidationFailure("--listen: \(error)") }
            let configuration = TargetConfiguration(
                subsystemNQN: nqn, namespaceIDs: namespaces, maximumIOQueues: maximumIOQueues, queueEntries: queueEntries)
            // Checked before the device is opened; MDTS is checked again against the controller.
            let problems = configuration.validationErrors(backendMaximumTransferBytes: .max).filter { !$0.hasPrefix("maximum transfer") }
            guard problems.isEmpty else { throw ValidationFailure(TargetError.invalidConfiguration(problems).description) }
            try StopSignal.install()
            try target.withController(Job(configuration: configuration, address: address, json: json))
        }
    }
}
