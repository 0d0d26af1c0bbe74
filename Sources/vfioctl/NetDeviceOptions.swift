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
import NIC
import NICEmulator
import NICWorkload
import NetFrames
import VFIO

/// Something to do with a NIC that is up, whatever its device: one generic body that runs on a
/// real VFIO device or on the emulated 82574L, specialised for each.
protocol NICJob {
    /// `peer` is the emulated wire's other end (nil on a real device, where the other end is
    /// whatever the cable leads to).
    func run<Device: PCIFunction>(_ nic: E1000E<Device>, peer: EmulatedWirePeer?) throws
}

/// `--device`, the completion mode, queues and the emulated NIC's knobs, shared by every `net`
/// subcommand.
struct NetDeviceOptions: ParsableArguments {
    @Option(name: .long, help: "PCI address of an 82574L (QEMU e1000e) bound to vfio-pci, or `emulated`.")
    var device: String = "emulated"

    @OptionGroup var completion: CompletionModeOptions

    @Option(help: "Queues (1 or 2; with 2 receive side scaling spreads flows, one thread per queue).")
    var queues: Int = 1

    @Option(help: "Descriptors per ring (a power of two, 8...4096).")
    var ring: Int = 512

    @Option(name: .customLong("link-timeout"), help: "How long to wait for the link to come up (e.g. 10s).")
    var linkTimeout: String = "10s"

    @Flag(help: "Accept every frame, not only those for our MAC and broadcast.")
    var promiscuous = false

    @Option(name: .customLong("emu-mac"), help: "MAC address of the emulated NIC.")
    var emulatedMAC: String = "52:54:00:12:34:56"

    @Flag(name: .customLong("allow-noiommu"), help: "Allow VFIO no-IOMMU mode (unsafe: the device can DMA anywhere).")
    var allowNoIOMMU = false

    @Option(name: .customLong("vfio-backend"), help: "VFIO backend: automatic (iommufd with the device cdev when the kernel offers them, else the container), container or iommufd.")
    var vfioBackend: VFIOBackendPreference = .automatic

    func completionMode() throws -> CompletionMode { try completion.completionMode() }

    func nicOptions() throws -> NICOptions {
        guard queues == 1 || queues == 2 else {
            throw ValidationFailure("--queues \(queues): the 82574L has 1 or 2 queues of each kind")
        }
        guard ring >= 8 && ring <= 4096 && ring & (ring - 1) == 0 else {
            throw ValidationFailure("--ring \(ring): use a power of two from 8 to 4096")
        }
        var options = NICOptions()
        options.logger = toolLogger("swift-vfio.nic")
        options.receiveQueues = queues
        options.transmitQueues = queues
        options.ringEntries = ring
        options.promiscuous = promiscuous
        options.interrupts = true
        return options
    }

    func linkTimeoutMilliseconds() throws -> Int {
        Int((try parseDuration(linkTimeout, what: "--link-timeout") * 1000).rounded())
    }

    /// Opens the device, brings the NIC up, runs the job and closes the NIC.
    func withNIC(_ job: some NICJob) throws {
        let options = try nicOptions()
        _ = try completionMode()
        if device == "emulated" {
            let mac = try parseMAC(emulatedMAC, what: "--emu-mac")
            let emulated: EmulatedE1000E
            do {
                var configuration = EmulatedE1000EConfiguration(mode: .threaded, macAddress: mac)
                if let n = emulatedRemovalAfter() {
                    configuration.faultPlan.rules.append(NICFaultRule(.any, .nth(n + 1), .surpriseRemoval, limit: 1))
                }
                emulated = try EmulatedE1000E(configuration: configuration)
            } catch {
                throw ValidationFailure("emulated e1000e: \(error)")
            }
            defer { emulated.close() }
            try run(job, on: emulated, options: options, peer: EmulatedWirePeer(device: emulated))
        } else {
            let address = try PCIAddress(parsing: device)
            let real = try VFIODevice(address: address, options: VFIODevice.Options(allowNoIOMMU: allowNoIOMMU, vfioBackend: vfioBackend, logger: toolLogger("swift-vfio.vfio")))
            try run(job, on: real, options: options, peer: nil)
        }
    }

    private func run<Device: PCIFunction>(_ job: some NICJob, on device: Device, options: NICOptions, peer: EmulatedWirePeer?) throws {
        let nic = try E1000E(device: device, options: options)
        defer { nic.close() }
        try job.run(nic, peer: peer)
    }
}
