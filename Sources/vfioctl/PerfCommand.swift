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
import ArgumentParser
import NVMe
import NVMeWorkload
import VFIO

extension AccessPattern: ExpressibleByArgument {}

/// `vfioctl nvme perf`: keep a queue depth of I/Os in flight and report IOPS, bandwidth, latency
/// percentiles and CPU per I/O.
struct Perf: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure IOPS, MB/s, latency percentiles and CPU per I/O.")
    @OptionGroup var target: DeviceOptions

    @Option(help: "Pattern: randread, randwrite, read, write, randrw.") var rw: AccessPattern = .randread
    @Option(help: "Bytes per I/O (e.g. 4k).") var bs: String = "4k"
    @Option(help: "I/Os in flight per queue pair.") var qd: Int = 32
    @Option(help: "Queue pairs, one thread each (the controller is asked for at least this many, one more with --verify).") var queues: Int = 1
    @Option(help: "Run time (e.g. 10s, 500ms, 1m; default 10s, or no limit with --ios). With --ios, whichever comes first ends the run.") var time: String?
    @Option(help: "Stop after this many I/Os (with --time, whichever comes first).") var ios: Int?
    @OptionGroup var completion: CompletionModeOptions
    @Option(name: .customLong("rwmix-read"), help: "Percent reads for randrw.") var readPercent: Int = 50
    @Option(name: .long, help: "Namespace id.") var namespace: UInt32 = 1
    @Option(help: "Start of the region the workload touches, in bytes (e.g. 1G).") var offset: String = "0"
    @Option(help: "Size of that region (default: to the end; 64M when verifying).") var size: String?
    @Flag(help: "Check every byte read (the working set is written with a known pattern first).") var verify = false
    @Option(help: "Protection information on a namespace formatted with it: pract (the controller makes and checks the tuples; the only mode perf runs, and the default where the metadata is only the tuple).") var pi: PIMode?
    @Flag(help: "Print JSON.") var json = false

    func spec() throws -> WorkloadSpec {
        let blockSize = try parseSize(bs, what: "--bs")
        guard blockSize > 0 else { throw ValidationFailure("--bs \(bs) is too small; give the bytes of one I/O, e.g. 4k") }
        guard blockSize <= 1 << 30 else { throw ValidationFailure("--bs \(bs) is too large") }
        if let ios, ios <= 0 { throw ValidationFailure("--ios must be greater than 0") }
        guard queues >= 1 else { throw ValidationFailure("--queues \(queues): give 1 or more queue pairs") }
        guard queues <= 1024 else { throw ValidationFailure("--queues \(queues) is more than 1024 queue pairs (one thread each)") }
        guard (0...100).contains(readPercent) else { throw ValidationFailure("--rwmix-read must be 0...100") }
        let workingSet = try size.map { try parseSize($0, what: "--size") }
        if let workingSet, workingSet < blockSize {
            throw ValidationFailure("--size \(size ?? "") is smaller than one I/O (--bs \(bs)); give at least \(blockSize) bytes")
        }
        return WorkloadSpec(
            pattern: rw, blockSize: Int(blockSize), queueDepth: qd, queuePairs: queues, ios: ios,
            seconds: try time.map { try parseDuration($0, what: "--time") } ?? (ios == nil ? 10 : .infinity),
            mode: try completion.completionMode(), verify: verify,
            namespaceID: namespace, readPercent: readPercent, workingSetBytes: workingSet,
            workingSetOffset: try parseSize(offset, what: "--offset"), protection: pi.map(\.protection))
    }

    struct Job: ControllerJob {
        let spec: WorkloadSpec
        let json: Bool
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            let runner = WorkloadRunner(controller: c)
            let progressLine = ProgressLine()
            defer { progressLine.erase() }  // also when the run throws
            let progress: (WorkloadProgress) -> Void = { p in
                progressLine.draw("[\(format1(p.elapsedSeconds)) s] \(p.ios) I/Os, \(Int(p.iopsLastInterval)) IOPS")
            }
            let r = try runner.run(spec, progress: json ? nil : progress, shouldStop: { StopSignal.requested })
            progressLine.erase()
            let endedBy: String
            switch r.endedBy {
            case .stopped: endedBy = StopSignal.signalName ?? "stopped"
            case .ios: endedBy = "ios"
            case .time: endedBy = "time"
            case .deviceRemoved: endedBy = "device_removed"
            }
            let figures: [(String, JSON)] = [
                ("device", .string(c.device.name)), ("rw", .string(spec.pattern.rawValue)), ("bs", .int(spec.blockSize)),
                ("qd", .int(spec.queueDepth)), ("queues", .int(spec.queuePairs)), ("mode", .string(spec.mode.description)),
                ("ios", .uint(r.ios)), ("seconds", .double(r.seconds)), ("iops", .double(r.iops)), ("mb_per_s", .double(r.megabytesPerSecond)),
                ("lat_mean_ns", .double(r.latencyMean)), ("lat_p50_ns", .uint(r.latencyP50)), ("lat_p99_ns", .uint(r.latencyP99)),
                ("lat_p999_ns", .uint(r.latencyP999)), ("lat_max_ns", .uint(r.latencyMax)),
                ("driver_cpu_ns_per_io", .double(r.driverCPUPerIO)), ("process_cpu_ns_per_io", .double(r.processCPUPerIO)),
                ("errors", .uint(r.errors)), ("verified_bytes", .uint(r.verifiedBytes)), ("interrupts", .uint(r.interrupts)),
                ("sq_doorbells", .uint(r.submissionDoorbells)), ("invalid_completions", .uint(r.invalidCompletions)),
                ("empty_polls", .uint(r.emptyPolls)), ("pauses", .uint(r.pauses)), ("idle_checks", .uint(r.idleChecks)),
                ("ended_by", .string(endedBy)),
            ]
            if json {
                print(JSON.object(figures).render())
            } else {
                print("\(spec.pattern.rawValue) bs=\(spec.blockSize) qd=\(spec.queueDepth) queues=\(spec.queuePairs) mode=\(spec.mode) on \(c.device.name)")
                switch r.endedBy {
                case .stopped: print("  stopped:   by \(endedBy) after \(formatDuration(r.seconds)); the figures cover the run until then")
                case .deviceRemoved: print("  removed:   the device went away after \(formatDuration(r.seconds)); the figures cover the I/Os it completed")
                case .time where spec.ios != nil: print("  ended:     --time \(formatDuration(spec.seconds)) passed before --ios \(spec.ios ?? 0) completed")
                case .ios where spec.seconds.isFinite: print("  ended:     --ios \(spec.ios ?? 0) completed before --time \(formatDuration(spec.seconds)) passed")
                default: break
                }
                print("  IOPS:      \(Int(r.iops.rounded()))   (\(r.ios) I/Os in \(formatDuration(r.seconds)))")
                print("  bandwidth: \(format1(r.megabytesPerSecond)) MB/s")
                print("  latency:   mean \(micro(r.latencyMean)) µs, p50 \(micro(r.latencyP50)), p99 \(micro(r.latencyP99)), p99.9 \(micro(r.latencyP999)), max \(micro(r.latencyMax)) µs")
                print("  CPU/I/O:   driver threads \(Int(r.driverCPUPerIO.rounded())) ns, whole process \(Int(r.processCPUPerIO.rounded())) ns")
                print("  doorbells: \(r.submissionDoorbells) SQ doorbell writes for \(r.ios) I/Os; \(r.interrupts) interrupts")
                print("  polling:   \(r.emptyPolls) empty polls (\(r.pauses) with the pause hint), \(r.idleChecks) idle checks (CSTS and clock reads)")
                if spec.verify { print("  verify:    \(r.verifiedBytes) bytes checked, all correct\(r.endedBy == .stopped && spec.pattern.writes ? " (the read-back after the run was skipped)" : "")") }
                if r.errors > 0 { print("  errors:    \(r.errors) I/Os completed with an error status") }
            }
            // The figures above count what the device completed before it went; the I/Os in
            // flight failed and are not in them.
            if r.endedBy == .deviceRemoved {
                throw ValidationFailure(
                    "\(c.device.name) was removed during the run after \(r.ios) completed I/Os in \(formatDuration(r.seconds)) (the I/Os in flight failed); once it is back, bind it (vfioctl bind) and run again")
            }
            if r.errors > 0 { throw ValidationFailure("\(r.errors) I/Os failed") }
        }
    }

    func run() throws {
        try reportingErrors {
            let spec = try spec()
            try StopSignal.install()
            let needs = DeviceOptions.QueueNeed(
                pairs: spec.queuePairs + (spec.verify ? 1 : 0),
                reason: spec.verify ? "--queues \(spec.queuePairs) with --verify (one for the verification passes)" : "--queues \(spec.queuePairs)")
            try target.withController(Job(spec: spec, json: json), needs: needs)
        }
    }
}

func micro(_ ns: Double) -> String { format1(ns / 1000) }
func micro(_ ns: UInt64) -> String { format1(Double(ns) / 1000) }

func printProgress(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
