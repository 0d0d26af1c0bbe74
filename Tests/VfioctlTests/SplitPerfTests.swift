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

/// `nvme perf` with I/Os larger than the controller's MDTS (issue 18 item 7): each I/O goes as
/// several commands through the token API's splitting helper (`SplittingQueuePair`) and completes once, verified, in every completion mode.
@Suite struct SplitPerfTests {
    @Test(arguments: ["poll", "interrupt", "hybrid"])
    func perfSplitsSixtyFourKiBIOsOnASixteenKiBMDTSController(mode: String) throws {
        // MDTS 2: 16 KiB per command, so each 64 KiB I/O is four; NOIOB 48 blocks adds cuts.
        let r = try vfioctl(["nvme", "perf", "--json", "--ios", "600", "--qd", "8", "--bs", "64k", "--rw", "randrw",
                             "--mode", mode, "--verify", "--emu-size", "16M", "--emu-mdts", "2", "--emu-noiob", "48"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"ios\": 600,"))
        #expect(r.stdout.contains("\"errors\": 0,"))
        #expect(!r.stdout.contains("\"verified_bytes\": 0,"))
        if mode != "poll" { #expect(!r.stdout.contains("\"interrupts\": 0,")) }
    }

    @Test func perfRefusesAnIOLargerThanTheQueueCanHold() throws {
        let r = try vfioctl(["nvme", "perf", "--bs", "16m", "--time", "1ms", "--emu-mdts", "2", "--emu-size", "64M"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--bs 16777216 needs up to 1025 commands per I/O (MDTS 16384 bytes)"), "\(r.stderr)")
    }

    @Test func emulatedMDTSOutOfRangeIsOneLine() throws {
        let r = try vfioctl(["nvme", "identify", "--emu-mdts", "10"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--emu-mdts 10 is out of range: 0...9"), "\(r.stderr)")
    }
}
