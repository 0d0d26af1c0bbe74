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

/// `vfioctl demo`, the README's first command: what a new user sees first must read as a table.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct VfioctlDemoTests {
    /// The cells of a table line: text separated by two or more spaces, with the column where
    /// each cell starts and ends.
    static func cells(_ line: String) -> [(text: String, start: Int, end: Int)] {
        let characters = Array(line)
        var cells: [(String, Int, Int)] = []
        var i = 0
        while i < characters.count {
            while i < characters.count, characters[i] == " " { i += 1 }
            guard i < characters.count else { break }
            let start = i
            while i < characters.count, !(characters[i] == " " && (i + 1 == characters.count || characters[i + 1] == " ")) { i += 1 }
            cells.append((String(characters[start..<i]), start, i))
        }
        return cells
    }

    /// The perf lines were `perf randread 4k qd32 poll     : 12345 IOPS, p50 ...` with the mode
    /// padded to 9 characters ("interrupt" pushed its colon out) and the figures after it at
    /// whatever column their predecessors' digits left them.
    @Test func perfTableColumnsLineUpInEveryMode() throws {
        let r = try vfioctl(["demo", "--seconds", "0.2", "--emu-size", "16M"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("mode ") }, "\(r.stdout)")
        let table = Array(lines[header...].prefix { !$0.isEmpty })
        #expect(table.count == 4, "\(r.stdout)")  // the header, then poll, interrupt and hybrid
        #expect(table.dropFirst().map { Self.cells($0).first?.text } == ["poll", "interrupt", "hybrid"])
        let headerCells = Self.cells(table[0])
        #expect(headerCells.map(\.text) == ["mode", "IOPS", "p50 µs", "p99 µs", "driver CPU ns/I/O", "verified"])
        for row in table.dropFirst() {
            let cells = Self.cells(row)
            #expect(cells.count == headerCells.count, "\(row)")
            #expect(cells.first?.start == 0, "\(row)")
            // The figures are right-aligned under their headings.
            #expect(cells.dropFirst().map(\.end) == headerCells.dropFirst().map(\.end), "\(table.joined(separator: "\n"))")
        }
    }

    /// The identify block's values start in one column after their labels.
    @Test func identifyLabelsLineUp() throws {
        let r = try vfioctl(["demo", "--seconds", "0.1", "--emu-size", "16M"])
        #expect(r.status == 0, "\(r.stderr)")
        let block = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.isEmpty }.filter { !$0.hasPrefix(" ") }
        #expect(block.count >= 10, "\(r.stdout)")
        let valueColumns = Set(block.map { line in Self.cells(String(line)).dropFirst().first?.start ?? -1 })
        #expect(valueColumns.count == 1 && valueColumns.first.map { $0 > 0 } == true, "\(r.stdout)")
    }

    /// On a namespace smaller than one 4 KiB I/O the demo refused itself with "--size 512 is
    /// smaller than one I/O (--bs 4096)", naming options it does not have.
    @Test func aNamespaceSmallerThanFourKiBRunsWithOneBlockIOs() throws {
        let r = try vfioctl(["demo", "--seconds", "0.1", "--emu-size", "1k"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("perf: randread 512 B at qd "), "\(r.stdout)")
    }

    /// The demo wrote 16 MiB at the start of an --emu-file image (or a real device) without a word.
    @Test func itOverwritesAnImageOrADeviceOnlyWhenToldTo() throws {
        let image = temporaryPath("demo.img")
        defer { unlink(image) }
        let data = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) })
        let w = try vfioctl(["nvme", "write", "--emu-file", image, "--emu-size", "32M", "--lba", "0", "--count", "8"], stdin: data)
        #expect(w.status == 0, "\(w.stderr)")
        let refused = try vfioctl(["demo", "--seconds", "0.1", "--emu-file", image])
        #expect(refused.status == 1 && refused.stderrLines.count == 1, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("vfioctl: demo overwrites the first 16 MiB of \(image); add --overwrite"), "\(refused.stderr)")
        #expect(try vfioctl(["nvme", "read", "--emu-file", image, "--lba", "0", "--count", "8"]).output == data)
        let device = try vfioctl(["demo", "--device", "0000:00:00.0"])
        #expect(device.status == 1 && device.stderr.contains("add --overwrite"), "\(device.stderr)")
        let allowed = try vfioctl(["demo", "--seconds", "0.1", "--emu-file", image, "--overwrite"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(try vfioctl(["nvme", "read", "--emu-file", image, "--lba", "0", "--count", "8"]).output != data)
    }

    /// Ctrl-C during the demo's perf runs killed it with no table; now the run in progress
    /// stops, the table so far is printed and the exit status is 130, as for nvme perf.
    @Test func sigintPrintsTheTableSoFarAndExits130() throws {
        // 4 s: identify, the 1 MiB read-back and the 16 MiB pattern take well under that; the
        // 20 s poll run is under way.
        let r = try vfioctl(["demo", "--seconds", "20", "--emu-size", "16M"], send: DelayedSignal(signal: SIGINT, afterSeconds: 4))
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stdout.contains("\nmode "), "\(r.stdout)")
        #expect(r.stdout.contains("\npoll (stopped) "), "\(r.stdout)")
        #expect(!r.stdout.contains("\ninterrupt "), "\(r.stdout)")
        #expect(r.stdout.hasSuffix("stopped by SIGINT: the table covers the runs until then\n"), "\(r.stdout)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
    }

    @Test func aRunTimeThatIsNotPositiveIsAOneLineError() throws {
        for value in ["0", "-1", "nan"] {
            let r = try vfioctl(["demo", "--seconds=\(value)"])
            #expect(r.status == 1, "\(value): \(r.stderr)")
            #expect(r.stderrLines.count == 1 && r.stderr.hasPrefix("vfioctl: --seconds "), "\(value): \(r.stderr)")
        }
    }
}
