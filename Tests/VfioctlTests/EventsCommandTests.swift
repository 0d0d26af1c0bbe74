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

/// `vfioctl nvme events` prints the asynchronous events the driver handled, as they come, and
/// stops at `--count`, `--time` or Ctrl-C like the other long commands. The emulated controller
/// changes after the requests are armed through the `VFIOCTL_EMU_EVENTS` test hook.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct EventsCommandTests {
    @Test func namespaceAttachAndAWarningArriveAsEventsUntilTheCount() throws {
        let r = try vfioctl(["nvme", "events", "--emu-namespaces", "2", "--emu-detached", "2", "--count", "2"],
                            environment: ["VFIOCTL_EMU_EVENTS": "attach:2,warning:1"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(r.stdout)")
        #expect(lines.first?.contains("namespaces-changed: namespace attribute changed: added 2, removed -, changed -") == true, "\(r.stdout)")
        #expect(lines.last?.contains("smart-health: SMART / health event (info 0x2): critical warning 0x1") == true, "\(r.stdout)")
        #expect(r.stderr.contains("2 event(s) in "), "\(r.stderr)")
        #expect(r.stderr.contains("ended by count"), "\(r.stderr)")
    }

    @Test func jsonPrintsOneObjectPerLineAndTimeEndsTheRun() throws {
        let r = try vfioctl(["nvme", "events", "--json", "--time", "300ms", "--emu-size", "1M"], environment: ["VFIOCTL_EMU_EVENTS": "resize:1:100"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stdout)")
        let object = try #require((try? JSONSerialization.jsonObject(with: Data(lines[0].utf8))) as? [String: Any], "\(r.stdout)")
        #expect(object["event"] as? String == "namespaces-changed")
        #expect(object["log_page"] as? Int == 4)
        #expect(object["changed"] as? [Int] == [1])
        #expect(r.stderr.contains("ended by time"), "\(r.stderr)")
    }

    @Test func sigintEndsTheWaitWithExit130() throws {
        let r = try vfioctl(["nvme", "events"], send: DelayedSignal(signal: SIGINT, afterSeconds: 1))
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stdout.isEmpty, "\(r.stdout)")
        #expect(r.stderr.contains("0 event(s) in "), "\(r.stderr)")
        #expect(r.stderr.contains("ended by SIGINT"), "\(r.stderr)")
    }

    @Test(arguments: [
        (["nvme", "events", "--count", "0"], "--count 0: give 1 or more events"),
        (["nvme", "events", "--time", "0s"], "--time 0s is too short"),
        (["nvme", "events", "--emu-detached", "2"], "--emu-detached 2 is not an emulated namespace"),
    ])
    func badInputIsOneLineAndExit1(arguments: [String], message: String) throws {
        let r = try vfioctl(arguments)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("vfioctl: "), "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
