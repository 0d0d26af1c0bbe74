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
import NVMeWorkload
import VFIO

/// `vfioctl demo`: the README's first command. Identify, a verified write and read-back, and a
/// short perf run in each completion mode, on the emulated controller unless a device is given.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Identify, a verified write/read, and a short perf run in each completion mode.")
    @OptionGroup var target: DeviceOptions
    @Option(help: "Seconds per perf run.") var seconds: Double = 2
    @Flag(help: "Let the demo write to a device or an --emu-file image: it overwrites the first 16 MiB of the first namespace.")
    var overwrite = false

    /// The demo writes the first 16 MiB of the namespace (the read-back and the verified perf
    /// runs' pattern): harmless in the emulated controller's memory, data loss anywhere else.
    func checkWhatItOverwrites() throws {
        guard !overwrite else { return }
        if let file = target.emulatedFile {
            throw ValidationFailure("demo overwrites the first 16 MiB of \(file); add --overwrite if its data there may go, or leave out --emu-file")
        }
        if target.device != "emulated" {
            throw ValidationFailure("demo overwrites the first 16 MiB of the first namespace of \(target.device); add --overwrite if its data there may go, or leave out --device to use the emulated controller")
        }
    }

    func validateSeconds() throws {
        guard seconds.isFinite, seconds > 0, seconds <= 3600 else {
            throw ValidationFailure("--seconds \(seconds) is out of range; give a run time per mode above 0 and at most 3600, e.g. 2")
        }
    }

    struct Job: ControllerJob {
        let seconds: Double
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            try Identify.Job(json: false).run(c)
            guard let info = c.namespaces.first else { throw ValidationFailure("the controller has no usable namespace") }
            let ns = try c.namespace(info.id)

            // A verified write and read-back of 1 MiB (or the namespace, if smaller), crossing PRP lists.
            let blocks = Int(min(UInt64((1 << 20) / ns.blockSize), ns.blockCount))
            let bytes = blocks * ns.blockSize
            let out = try c.device.dma.allocate(length: bytes)
            let back = try c.device.dma.allocate(length: bytes)
            DataPattern.fill(out.bytes, lba: 0, blockSize: ns.blockSize, blocks: blocks, seed: 42)
            try ns.write(lba: 0, blocks: blocks, from: out.whole)
            try ns.read(lba: 0, blocks: blocks, into: back.whole)
            guard DataPattern.firstMismatch(UnsafeRawBufferPointer(back.bytes), lba: 0, blockSize: ns.blockSize, blocks: blocks, seed: 42) == nil else {
                throw ValidationFailure("write/read-back mismatch on namespace \(ns.id): data corrupted")
            }
            print("\nwrite + read-back: \(bytes) bytes at LBA 0 of namespace \(ns.id), every byte verified")

            // One table, printed when the runs are done, so its columns line up whatever the figures.
            let runner = WorkloadRunner(controller: c)
            // Block sizes are powers of two, so this is a multiple of both; a namespace smaller
            // than 4 KiB gets one-block I/Os.
            let ioBytes = ns.info.bytes >= 4096 ? max(ns.blockSize, 4096) : ns.blockSize
            let queueDepth = min(32, c.ioQueueEntries - 1)
            print("\nperf: randread \(humanBytes(UInt64(ioBytes))) at qd \(queueDepth) on 1 queue pair, \(format1(seconds)) s per completion mode, every byte read verified")
            var rows: [[String]] = []
            for mode in [CompletionMode.poll, .interrupt, .hybrid] where !mode.usesInterrupts || c.interruptVectors > 0 {
                let spec = WorkloadSpec(pattern: .randread, blockSize: ioBytes, queueDepth: queueDepth,
                                        queuePairs: 1, seconds: seconds, mode: mode, verify: true, namespaceID: ns.id,
                                        workingSetBytes: min(ns.info.bytes, 16 << 20))
                // Ctrl-C (SIGINT) or SIGTERM ends the run in progress and skips the rest (StopSignal).
                guard !StopSignal.requested else { break }
                let r = try runner.run(spec, shouldStop: { StopSignal.requested })
                rows.append([mode.description + (r.endedBy == .stopped ? " (stopped)" : ""), "\(Int(r.iops.rounded()))", micro(r.latencyP50), micro(r.latencyP99),
                             "\(Int(r.driverCPUPerIO.rounded()))", humanBytes(r.verifiedBytes)])
            }
            printTable(["mode", "IOPS", "p50 µs", "p99 µs", "driver CPU ns/I/O", "verified"], rows, rightAligned: [1, 2, 3, 4, 5])
            if let signal = StopSignal.signalName { print("stopped by \(signal): the table covers the runs until then") }
        }
    }

    func run() throws {
        try reportingErrors {
            try validateSeconds()
            try checkWhatItOverwrites()
            try StopSignal.install()
            try target.withController(Job(seconds: seconds))
        }
    }
}
