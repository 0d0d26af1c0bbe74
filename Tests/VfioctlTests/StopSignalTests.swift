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
import Testing

/// SIGINT (Ctrl-C) and SIGTERM end a long `nvme perf` cleanly: outstanding I/O is reaped, the
/// controller shut down, the figures so far printed, and the exit status is 128 + the signal.
/// The process used to die at once with no output.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct VfioctlStopSignalTests {
    static func jsonObject(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    @Test func sigintDuringATimedPerfPrintsTheFiguresSoFarAndExits130() throws {
        let r = try vfioctl(["nvme", "perf", "--time", "20s"], send: DelayedSignal(signal: SIGINT, afterSeconds: 3))
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stdout.contains("stopped:   by SIGINT after "), "\(r.stdout)")
        #expect(r.stdout.contains("  IOPS:      "), "\(r.stdout)")
        // The progress line (on stderr, redrawn with \r) is cleared, and no error is printed.
        #expect(r.stderr.hasSuffix("\r"), "\(r.stderr.debugDescription)")
        #expect(!r.stderr.contains("vfioctl:"), "\(r.stderr)")
    }

    /// The controller is shut down normally (CC.SHN, CSTS.SHST complete) before the exit: the
    /// driver logs it at debug level, which VFIOCTL_LOG=debug shows.
    @Test func theControllerIsShutDownBeforeTheExit() throws {
        let r = try vfioctl(["nvme", "perf", "--json", "--time", "20s", "--qd", "64"], environment: ["VFIOCTL_LOG": "debug"],
                            send: DelayedSignal(signal: SIGINT, afterSeconds: 2))
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stdout.contains("\"ended_by\": \"SIGINT\""), "\(r.stdout)")
        #expect(r.stderr.contains("NVMe emulated: shut down (CC.SHN normal, CSTS.SHST complete)"), "\(r.stderr)")
        #expect(!r.stderr.contains("dropped with"), "\(r.stderr)")  // every I/O was reaped before the queues went
    }

    @Test(arguments: [(SIGINT, "SIGINT", Int32(130)), (SIGTERM, "SIGTERM", Int32(143))])
    func aSignalDuringAJSONPerfPrintsTheFiguresSoFar(signal: Int32, name: String, status: Int32) throws {
        let r = try vfioctl(["nvme", "perf", "--json", "--time", "20s", "--mode", "interrupt", "--rw", "randrw", "--verify", "--size", "4M"],
                            send: DelayedSignal(signal: signal, afterSeconds: 3))
        #expect(r.status == status, "\(r.stderr)")
        let figures = try #require(Self.jsonObject(r.stdout), "\(r.stdout)")
        #expect(figures["ended_by"] as? String == name)
        #expect((figures["ios"] as? Int ?? 0) > 0)
        #expect((figures["errors"] as? Int) == 0)
        let seconds = figures["seconds"] as? Double ?? 0
        #expect(seconds > 0 && seconds < 15, "\(seconds)")  // the run starts after the verification prefill
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }
}
