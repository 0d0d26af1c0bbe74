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
import IOPathBench
import NullNIC

/// Runs N I/Os through one of the measured paths, checks every one completed with the right
/// token, and (with --time) prints nanoseconds per I/O. Under `valgrind --tool=callgrind
/// --toggle-collect=<loop symbol>` it gives instructions per I/O; scripts/bench.sh runs it with
/// N and 2N and takes the difference, so setup and warm-up cancel out.
///
///     iopath-count <path> <count> [--transfer BYTES] [--entries N] [--time REPEATS]
///     paths: swift-qd1, swift-qd1-sgl (the same with SGLs), swift-qd1-wait, swift-batch32, c-qd1, c-batch32,
///     and for the NIC (count: packets, a multiple of 32): swift-nic-rx, swift-nic-tx, c-nic-rx, c-nic-tx,
///     and `vfioctl nvme perf`'s whole loop at QD1 (NVMeWorkload) and its C twin: swift-perf-qd1, c-perf-qd1
///     iopath-count empty-poll <milliseconds> [--spins-before-pause N|max]: one poll-mode wait on
///     an empty CQ; prints its empty polls and ns per empty poll

func fail(_ message: String) -> Never {
    var text = Array("iopath-count: \(message)\n".utf8)
    _ = text.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "empty-poll" {
    var spin: UInt32? = nil
    if let i = arguments.firstIndex(of: "--spins-before-pause"), i + 1 < arguments.count {
        let value = arguments[i + 1]
        guard let n = value == "max" ? UInt32.max : UInt32(value) else { fail("--spins-before-pause needs a number or max") }
        spin = n
        arguments.removeSubrange(i...(i + 1))
    }
    guard arguments.count == 2, let ms = Int(arguments[1]), ms > 0 else { fail("usage: iopath-count empty-poll <milliseconds> [--spins-before-pause N|max]") }
    let io: SwiftIOPath
    do { io = try SwiftIOPath() } catch { fail("setting up the Swift path: \(error)") }
    let start = nanoseconds()
    let (polls, policy) = io.emptyPolls(milliseconds: ms, spinsBeforePause: spin)
    let elapsed = nanoseconds() - start
    guard polls > 0 else { fail("empty-poll: the wait did not time out on an empty CQ") }
    print("path=empty-poll spin=\"\(policy)\" empty_polls=\(polls) ns=\(elapsed) ns_per_empty_poll=\(String(format2: Double(elapsed) / Double(polls)))")
    exit(0)
}
func option(_ name: String, in arguments: inout [String], default value: Int) -> Int {
    guard let i = arguments.firstIndex(of: name) else { return value }
    guard i + 1 < arguments.count, let v = Int(arguments[i + 1]), v > 0 else { fail("\(name) needs a positive number") }
    arguments.removeSubrange(i...(i + 1))
    return v
}
let transfer = option("--transfer", in: &arguments, default: 4096)
let entries = option("--entries", in: &arguments, default: 256)
let repeats = option("--time", in: &arguments, default: 0)
guard arguments.count == 2, let count = Int(arguments[1]), count > 0 else {
    fail("usage: iopath-count <swift-qd1|swift-qd1-sgl|swift-qd1-wait|swift-batch32|c-qd1|c-batch32> <count> [--transfer BYTES] [--entries N] [--time REPEATS]")
}
let path = arguments[0]

let run: (Int) -> UInt64
/// What a correct run of `count` returns.
var expected: (Int) -> UInt64 = expectedTokenSum
var report: () -> String = { "" }
if path.contains("-nic-") && (count % 32 != 0 || entries % 32 != 0) { fail("\(path): the count and --entries must be multiples of 32") }
switch path {
case "swift-qd1", "swift-qd1-sgl", "swift-qd1-wait", "swift-batch32":
    let io: SwiftIOPath
    do {
        io = try SwiftIOPath(entries: entries, transferBytes: transfer, dataPointers: path == "swift-qd1-sgl" ? .sgl : .prp)
    } catch {
        fail("setting up the Swift path: \(error)")
    }
    switch path {
    case "swift-qd1", "swift-qd1-sgl": run = { io.qd1($0) }
    case "swift-qd1-wait": run = { io.qd1Wait($0) }
    default: run = { io.batched($0, batch: 32) }
    }
    report = {
        let s = io.statistics
        return "submitted=\(s.submitted) completed=\(s.completed) sq_doorbells=\(s.submissionDoorbells) cq_doorbells=\(s.completionDoorbells) invalid=\(s.invalidCompletions) device_completions=\(io.device.ioCompletions)"
    }
case "c-qd1", "c-batch32":
    guard let io = CIOPath(entries: entries, transferBytes: transfer) else { fail("setting up the C path failed") }
    run = path == "c-qd1" ? { io.qd1($0) } : { io.batched($0, batch: 32) }
    report = { "sq_doorbells=\(io.submissionDoorbells) invalid=\(io.invalidCompletions) device_completions=\(io.deviceCompletions)" }
case "swift-nic-rx", "swift-nic-tx":
    let io: SwiftNICPath
    do { io = try SwiftNICPath() } catch { fail("setting up the Swift NIC path: \(error)") }
    if path == "swift-nic-rx" {
        run = { io.receive($0) }
        expected = { UInt64($0) * UInt64(NullE1000E.frameLength) }
    } else {
        run = { io.transmit($0) }
        expected = { UInt64($0) }
    }
    report = {
        let rx = io.receiveStatistics, tx = io.transmitStatistics
        return "rx_packets=\(rx.packets) rx_tail_writes=\(rx.tailWrites) tx_packets=\(tx.packets) tx_tail_writes=\(tx.tailWrites) device_rx=\(io.device.receivedFrames) device_tx=\(io.device.transmittedFrames)"
    }
case "swift-perf-qd1":
    let io: SwiftPerfLoop
    do { io = try SwiftPerfLoop() } catch { fail("setting up the perf loop: \(error)") }
    run = { io.run($0) }
    expected = { UInt64($0) }
    report = { "device_completions=\(io.device.ioCompletions)" }
case "c-perf-qd1":
    guard let io = CPerfLoop() else { fail("setting up the C perf loop failed") }
    run = { io.run($0) }
    expected = { UInt64($0) }
case "c-nic-rx", "c-nic-tx":
    guard let io = CNICPath() else { fail("setting up the C NIC path failed") }
    if path == "c-nic-rx" {
        run = { io.receive($0) }
        expected = { UInt64($0) * UInt64(NullE1000E.frameLength) }
    } else {
        run = { io.transmit($0) }
        expected = { UInt64($0) }
    }
    report = { "device_rx=\(io.deviceReceived) device_tx=\(io.deviceTransmitted)" }
default:
    fail("unknown path '\(path)'")
}

// Warm-up: every ring slot and tracker touched once, so page faults stay out of the count.
let warm = 4 * entries
guard run(warm) == expected(warm) else { fail("\(path): warm-up I/Os failed") }

if repeats > 0 {
    var samples: [Double] = []
    for _ in 0..<repeats {
        let start = nanoseconds()
        let sum = run(count)
        let elapsed = nanoseconds() - start
        guard sum == expected(count) else { fail("\(path): I/Os failed or completed with wrong tokens") }
        samples.append(Double(elapsed) / Double(count))
    }
    samples.sort()
    let median = samples[samples.count / 2]
    print("path=\(path) ios=\(count) repeats=\(repeats) ns_per_io_min=\(String(format2: samples[0])) ns_per_io_median=\(String(format2: median)) \(report())")
} else {
    guard run(count) == expected(count) else { fail("\(path): I/Os failed or completed with wrong tokens") }
    print("path=\(path) ios=\(count) ok \(report())")
}

extension String {
    /// Two decimals without Foundation.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
