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

import Foundation
import NICEmulator
import Testing

/// A device removed during `nvme perf`, `net gen` or `net recv` (issue 17, through the hidden
/// `VFIOCTL_EMU_REMOVE_AFTER` hook: the emulated device leaves the bus after N I/Os or frames):
/// one line on stderr naming the device, non-zero exit, within seconds, never a hang.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct RemovalCommandTests {
    static let modes = ["poll", "interrupt", "hybrid"]

    @Test(arguments: modes)
    func perfReportsARemovalAsOneLineErrorWithTheFiguresSoFar(mode: String) throws {
        let start = Date()
        // Without the removal this would run a minute.
        let r = try vfioctl(["nvme", "perf", "--rw", "randwrite", "--qd", "16", "--time", "60s", "--mode", mode, "--emu-size", "64M"],
                            environment: ["VFIOCTL_EMU_REMOVE_AFTER": "2000"])
        let seconds = Date().timeIntervalSince(start)
        #expect(r.status != 0)
        #expect(r.stderrLines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("emulated was removed during the run after"), "\(r.stderr)")
        #expect(r.stderr.contains("vfioctl bind"))
        // The figures up to the removal: at most the 2000 I/Os fetched before it, reported.
        #expect(r.stdout.contains("removed:"), "\(r.stdout)")
        let ios = r.stdout.firstMatch(of: /\((\d+) I\/Os in/).flatMap { Int($0.1) }
        #expect(ios.map { $0 > 0 && $0 <= 2000 } == true, "\(r.stdout)")
        #expect(seconds < 20, "took \(seconds) s")
    }

    @Test func perfJSONSaysTheRunEndedByRemoval() throws {
        let r = try vfioctl(["nvme", "perf", "--json", "--rw", "randread", "--time", "60s", "--emu-size", "64M"],
                            environment: ["VFIOCTL_EMU_REMOVE_AFTER": "500"])
        #expect(r.status != 0)
        #expect(r.stderrLines.count == 1, "\(r.stderr)")
        let o = try JSONSerialization.jsonObject(with: r.output) as? [String: Any]
        #expect(o?["ended_by"] as? String == "device_removed")
    }

    @Test(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process"), arguments: modes)
    func netGenAndRecvReportARemovalAsOneLineErrorNamingTheNICWithTheFiguresSoFar(mode: String) throws {
        for (command, noun) in [(["net", "gen", "--time", "60s"], "handed to the NIC"), (["net", "recv", "--time", "60s", "--emu-inject", "100000"], "received")] {
            let start = Date()
            let r = try vfioctl(command + ["--mode", mode], environment: ["VFIOCTL_EMU_REMOVE_AFTER": "300"])
            let seconds = Date().timeIntervalSince(start)
            #expect(r.status == 1, "\(command)")
            // `recv` notes what it listens on first; the error is the one `vfioctl:` line.
            #expect(r.stderrLines.filter { $0.hasPrefix("vfioctl:") }.count == 1, "\(command): \(r.stderr)")
            let last = String(r.stderrLines.last ?? "")
            #expect(last.hasPrefix("vfioctl: emulated e1000e was removed during the run after ") && last.contains(" frames \(noun) in "), "\(command): \(r.stderr)")
            // The figures so far, on stdout: the frames the error line counts.
            let frames = last.split(separator: " ").drop { $0 != "after" }.dropFirst().first.flatMap { Int($0) }
            #expect((frames ?? 0) > 0, "\(command): \(last)")
            #expect(r.stdout.contains(command[1] == "gen" ? "\(frames ?? -1) packets" : "received \(frames ?? -1) frames"), "\(command): \(r.stdout)")
            #expect(seconds < 20, "\(command) took \(seconds) s")
        }
        let json = try vfioctl(["net", "gen", "--time", "60s", "--json", "--mode", mode], environment: ["VFIOCTL_EMU_REMOVE_AFTER": "300"])
        #expect(json.status == 1)
        let o = try JSONSerialization.jsonObject(with: json.output) as? [String: Any]
        #expect(o?["ended_by"] as? String == "device_removed", "\(json.stdout)")
    }
}
