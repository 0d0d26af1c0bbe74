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

/// `--emu-file` images: an existing image is the namespace, so it keeps its size (it used to be
/// truncated or grown to `--emu-size`, losing data); a read-only image serves the commands that
/// only read.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct VfioctlEmulatedImageTests {
    static func fileSize(_ path: String) -> UInt64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value
    }

    @Test func anExistingImageKeepsItsSizeAndItsData() throws {
        let image = temporaryPath("keep.img")
        defer { unlink(image) }
        let data = Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) })
        let w = try vfioctl(["nvme", "write", "--emu-file", image, "--emu-size", "1G", "--lba", "1000000", "--count", "1"], stdin: data)
        #expect(w.status == 0, "\(w.stderr)")
        #expect(Self.fileSize(image) == 1 << 30)

        // A conflicting --emu-size is refused; the image is untouched.
        let conflict = try vfioctl(["nvme", "identify", "--emu-file", image, "--emu-size", "16M"])
        #expect(conflict.status == 1)
        #expect(conflict.stderrLines.count == 1, "\(conflict.stderr)")
        #expect(conflict.stderr.contains("--emu-size 16M conflicts with \(image), which is 1073741824 bytes"), "\(conflict.stderr)")
        #expect(Self.fileSize(image) == 1 << 30)

        // Without --emu-size the image's own size is the namespace's, and the data is there.
        let identify = try vfioctl(["nvme", "identify", "--json", "--emu-file", image])
        #expect(identify.stdout.contains("\"bytes\": 1073741824"), "\(identify.stdout)")
        let back = try vfioctl(["nvme", "read", "--emu-file", image, "--lba", "1000000", "--count", "1"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(back.output == data)
    }

    /// An image made with --emu-size 16M was grown to the default 1 GiB by a later command
    /// that left the flag out.
    @Test func aSmallImageIsNotGrownByACommandWithoutASize() throws {
        let image = temporaryPath("small.img")
        defer { unlink(image) }
        let w = try vfioctl(["nvme", "write", "--emu-file", image, "--emu-size", "16M", "--lba", "0", "--count", "1"], stdin: Data(count: 512))
        #expect(w.status == 0, "\(w.stderr)")
        let perf = try vfioctl(["nvme", "perf", "--emu-file", image, "--ios", "100", "--rw", "randwrite"])
        #expect(perf.status == 0, "\(perf.stderr)")
        let identify = try vfioctl(["nvme", "identify", "--json", "--emu-file", image])
        #expect(identify.stdout.contains("\"blocks\": 32768"), "\(identify.stdout)")
        #expect(Self.fileSize(image) == 16 << 20)
    }

    /// `read`, `identify` and `smart` open the image read-only; `write` needs it writable and
    /// says so in one line. (As root, file modes do not stop a write: the image is made immutable.)
    @Test func aReadOnlyImageServesTheCommandsThatOnlyRead() throws {
        let image = temporaryPath("ro.img")
        let data = Data(repeating: 0x5A, count: 1024)
        #expect(try vfioctl(["nvme", "write", "--emu-file", image, "--emu-size", "4M", "--lba", "8", "--count", "2"], stdin: data).status == 0)
        chmod(image, 0o444)
        let immutable = geteuid() == 0
        if immutable { try #require(chattr("+i", image), "chattr +i \(image) failed: cannot make the image read-only for root") }
        defer {
            if immutable { _ = chattr("-i", image) }
            unlink(image)
        }
        let read = try vfioctl(["nvme", "read", "--emu-file", image, "--lba", "8", "--count", "2"])
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.output == data)
        for command in ["identify", "smart"] {
            let r = try vfioctl(["nvme", command, "--emu-file", image])
            #expect(r.status == 0, "\(command): \(r.stderr)")
        }
        let write = try vfioctl(["nvme", "write", "--emu-file", image, "--lba", "0", "--count", "1"], stdin: Data(count: 512))
        #expect(write.status == 1)
        #expect(write.stderrLines.count == 1, "\(write.stderr)")
        #expect(write.stderr.hasPrefix("vfioctl: \(image) is read-only ("), "\(write.stderr)")
        #expect(write.stderr.contains("nvme identify, read and smart open it read-only"), "\(write.stderr)")
        // perf and demo write the image too (perf's verification, demo's write and read-back).
        for command in [["nvme", "perf", "--ios", "10"], ["demo", "--overwrite"]] {
            let r = try vfioctl(command + ["--emu-file", image])
            #expect(r.status == 1 && r.stderrLines.count == 1, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("\(image) is read-only ("), "\(command): \(r.stderr)")
        }
    }

    /// A file that cannot be a namespace is refused in one line before anything is created or
    /// changed. A 1000-byte image was told "give --emu-block-size 512", the block size it had.
    @Test func anImageThatCannotBeANamespaceIsAOneLineError() throws {
        let dir = temporaryPath("images")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, bytes: Int) -> String {
            let path = dir + "/" + name
            _ = FileManager.default.createFile(atPath: path, contents: Data(count: bytes))
            return path
        }
        let empty = write("empty.img", bytes: 0), odd = write("odd.img", bytes: 1000), halfK = write("halfk.img", bytes: 2048 + 512)
        for (arguments, message) in [
            (["nvme", "identify", "--emu-file", dir + "/missing.img"], "\(dir)/missing.img does not exist; create it first with nvme write"),
            (["nvme", "read", "--emu-file", empty, "--lba", "0", "--count", "1"], "\(empty) is empty; write to it first (nvme write) so it has a size"),
            (["nvme", "smart", "--emu-file", dir], "\(dir) is not a regular file; give --emu-file a path to an image file"),
            (["nvme", "identify", "--emu-file", odd], "\(odd) is 1000 bytes, not a multiple of the 512-byte block size; use another file (an image is whole 512-byte blocks)"),
            (["nvme", "identify", "--emu-file", halfK, "--emu-block-size", "4096"], "\(halfK) is 2560 bytes, not a multiple of the 4096-byte block size; give --emu-block-size 512 or use another file"),
        ] {
            let r = try vfioctl(arguments)
            #expect(r.status == 1 && r.stderrLines.count == 1, "\(arguments): \(r.stderr)")
            #expect(r.stderr.hasPrefix("vfioctl: \(message)") && r.stderr.hasSuffix("\n"), "\(arguments): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing.img"))
        #expect(Self.fileSize(empty) == 0 && Self.fileSize(odd) == 1000 && Self.fileSize(halfK) == 2560)
    }

    func chattr(_ flag: String, _ path: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
        p.arguments = [flag, path]
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
}
