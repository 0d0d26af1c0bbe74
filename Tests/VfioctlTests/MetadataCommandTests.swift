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

/// `vfioctl nvme identify/read/write` on namespaces formatted with metadata and protection
/// information (the emulated controller's `--emu-format`, QEMU's nvme-ns names).
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct VfioctlMetadataTests {
    @Test func identifyShowsTheFormat() throws {
        let run = try vfioctl(["nvme", "identify", "--emu-size", "16M", "--emu-format", "ms=8,mset=1,pi=1"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("metadata 8 B extended LBA (after each block), PI type 1, 16-bit guard (CRC-16 T10-DIF), tuple last"), "\(run.stdout)")
        let json = try vfioctl(["nvme", "identify", "--json", "--emu-size", "16M", "--emu-format", "ms=16,pi=3,pif=2,pil=1"])
        #expect(json.status == 0, "\(json.stderr)")
        for field in ["\"metadata_size\":16", "\"extended_lba\":false", "\"protection_type\":3", "\"guard\":\"crc64\"", "\"pi_first\":true"] {
            #expect(json.stdout.replacingOccurrences(of: " ", with: "").contains(field), "\(field) in \(json.stdout)")
        }
    }

    @Test func dataAndMetadataOutliveTheProcessAndComeBackAsWritten() throws {
        let image = temporaryPath("md.img"), metadataIn = temporaryPath("md.in"), metadataOut = temporaryPath("md.out")
        defer { for path in [image, image + ".metadata", metadataIn, metadataOut] { unlink(path) } }
        let format = ["--emu-file", image, "--emu-size", "16M", "--emu-format", "ms=16,mset=0"]
        let data = Data((0..<4 * 512).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) })
        let metadata = Data((0..<4 * 16).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
        try metadata.write(to: URL(fileURLWithPath: metadataIn))
        let w = try vfioctl(["nvme", "write", "--lba", "40", "--count", "4", "--metadata", metadataIn] + format, stdin: data)
        #expect(w.status == 0, "\(w.stderr)")
        let r = try vfioctl(["nvme", "read", "--lba", "40", "--count", "4", "--metadata", metadataOut] + format)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.output == data)
        #expect(try Data(contentsOf: URL(fileURLWithPath: metadataOut)) == metadata)
    }

    @Test func hostTuplesPassTheControllersChecks() throws {
        let image = temporaryPath("pi.img")
        defer { for path in [image, image + ".metadata"] { unlink(path) } }
        let format = ["--emu-file", image, "--emu-size", "16M", "--emu-format", "ms=8,mset=1,pi=2"]
        let data = Data((0..<8 * 512).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 3) })
        let w = try vfioctl(["nvme", "write", "--lba", "8", "--count", "8", "--pi", "host"] + format, stdin: data)
        #expect(w.status == 0, "\(w.stderr)")
        // The controller checks and strips the host's tuples; then the tool checks them itself.
        for mode in ["pract", "host"] {
            let r = try vfioctl(["nvme", "read", "--lba", "8", "--count", "8", "--pi", mode] + format)
            #expect(r.status == 0, "\(mode): \(r.stderr)")
            #expect(r.output == data, "\(mode)")
        }
    }

    @Test func badCombinationsAreOneLineErrorsNamingTheFix() throws {
        let cases: [([String], String)] = [
            (["--metadata", "/tmp/x"], "namespace 1 is formatted without metadata; drop --metadata and --pi"),
            (["--pi", "pract", "--emu-format", "ms=16"], "namespace 1 is formatted without protection information; drop --pi pract (or give --pi off)"),
            (["--emu-format", "ms=16"], "namespace 1 moves 16 bytes of metadata per block; give --metadata FILE"),
            (["--pi", "off", "--emu-format", "ms=8,pi=1"], "namespace 1 moves 8 bytes of metadata per block; give --metadata FILE (or --pi pract)"),
            (["--pi", "pract", "--metadata", "/tmp/x", "--emu-format", "ms=8,pi=1"], "drop --metadata (or give --pi off)"),
            (["--emu-format", "ms=12"], "metadata size 12 is not 0, 8, 16 or 64"),
            (["--emu-format", "pi=4"], "\"pi=4\" is not one of ms=0|8|16|64, mset=0|1, pi=0...3, pil=0|1, pif=0|2"),
        ]
        for (arguments, message) in cases {
            let run = try vfioctl(["nvme", "read", "--lba", "0", "--count", "1", "--emu-size", "16M"] + arguments)
            #expect(run.status == 1, "\(arguments)")
            #expect(run.stderrLines.count == 1, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            #expect(run.output.isEmpty)
        }
    }

    @Test func perfRunsWithPRACTAndRefusesToMoveMetadata() throws {
        let run = try vfioctl(["nvme", "perf", "--emu-size", "16M", "--emu-format", "ms=8,mset=1,pi=1", "--rw", "randrw", "--ios", "2000",
                               "--qd", "8", "--verify", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("\"errors\":0") || run.stdout.contains("\"errors\": 0"), "\(run.stdout)")
        let refused = try vfioctl(["nvme", "perf", "--emu-size", "16M", "--emu-format", "ms=16", "--ios", "10"])
        #expect(refused.status == 1)
        #expect(refused.stderrLines.count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("would move 16 bytes of metadata per I/O block, which perf does not"), "\(refused.stderr)")
    }
}
