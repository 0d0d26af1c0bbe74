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
import VFIO
import VFIOHost

/// The `vfioctl` binary as a user runs it: exit status, stdout, stderr. Errors must be one line
/// on stderr naming the cause and the fix, with a non-zero exit, and must change nothing.
struct Run {
    let status: Int32
    /// Raw bytes: `nvme read` writes binary data.
    let output: Data
    var stdout: String { String(decoding: output, as: UTF8.self) }
    let stderr: String
    var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

/// The binary built next to this test bundle (`swift build --build-tests` builds it).
let vfioctlPath: String? = {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("vfioctl").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}()

/// Hands stderr's bytes from the reader thread to the caller (the semaphore orders the accesses).
private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// A signal sent to the running binary after a delay, to test how a long run ends.
struct DelayedSignal {
    let signal: Int32
    let afterSeconds: Double
}

/// `during`, when given, runs on its own thread with the child's process id while it runs (a
/// client of a server the child runs, which then stops it).
func vfioctl(
    _ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:], send: DelayedSignal? = nil,
    during: (@Sendable (Int32) -> Void)? = nil
) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: vfioctlPath!)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    // stdin and stderr are served on their own threads while this one drains stdout: done one
    // after another, a child that fills one pipe while we block on another would deadlock.
    let writer = Thread {
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
    }
    let errBox = DataBox()
    let errDone = DispatchSemaphore(value: 0)
    let errReader = Thread {
        errBox.data = err.fileHandleForReading.readDataToEndOfFile()
        errDone.signal()
    }
    writer.start()
    errReader.start()
    if let send {
        let pid = process.processIdentifier
        Thread {
            Thread.sleep(forTimeInterval: send.afterSeconds)
            kill(pid, send.signal)
        }.start()
    }
    if let during {
        let pid = process.processIdentifier
        Thread { during(pid) }.start()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    errDone.wait()
    let errData = errBox.data
    process.waitUntilExit()
    return Run(status: process.terminationStatus, output: outData,
               stderr: String(decoding: errData, as: UTF8.self))
}

func temporaryPath(_ name: String) -> String {
    NSTemporaryDirectory() + "vfioctl-test-\(getpid())-\(name)"
}

@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct VfioctlErrorTests {
    @Test func badAddressIsOneLineNamingTheExpectedForm() throws {
        let r = try vfioctl(["nvme", "identify", "--device", "0000:01:00.9"])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("is not a PCI address") && r.stderr.contains("DDDD:BB:DD.F"))
    }

    /// A bad option is reported before anything is changed: vfio-pci is not loaded for a
    /// command that is then refused.
    @Test func setupRejectsNegativeHugepagesBeforeLoadingTheModule() throws {
        let loaded = { FileManager.default.fileExists(atPath: "/sys/module/vfio_pci") }
        let before = loaded()
        let r = try vfioctl(["setup", "--hugepages=-1"])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("--hugepages must be 0 or more"))
        #expect(loaded() == before)
    }

    @Test func missingDeviceNamesTheListCommand() throws {
        let r = try vfioctl(["bind", "0000:7f:1f.7"])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("no PCI device at 0000:7f:1f.7") && r.stderr.contains("vfioctl list"))
    }

    /// Read-only commands against this machine's own devices (bound to virtio-pci or similar)
    /// say why they cannot drive them and leave every binding as it was.
    @Test func hostDevicesAreRefusedAndLeftAlone() throws {
        let discovery = PCIDiscovery(lookUpNames: false)
        let functions = try discovery.functions()
        let before = functions.map { discovery.driver(of: $0.address) }
        for f in functions.prefix(3) where f.driver != "vfio-pci" {
            let r = try vfioctl(["nvme", "identify", "--device", f.address.description])
            #expect(r.status == 1, "\(f.address)")
            #expect(r.stderrLines.count == 1, "\(r.stderr)")
            #expect(r.stderr.contains("\(f.address)") && (r.stderr.contains("IOMMU") || r.stderr.contains("vfioctl bind") || r.stderr.contains("modprobe")))
        }
        #expect(functions.map { discovery.driver(of: $0.address) } == before)
    }

    @Test func bindRefusesTheDeviceThatHoldsTheRootFilesystem() throws {
        let discovery = PCIDiscovery(lookUpNames: false)
        let candidates = try discovery.functions().filter { f in
            discovery.usage(of: f.address).contains { if case .mountedFilesystem = $0 { return true } else { return false } }
        }
        guard let disk = candidates.first else { return }   // nothing on this machine backs a mount via PCI
        let driverBefore = discovery.driver(of: disk.address)
        let r = try vfioctl(["bind", disk.address.description])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("refusing to touch \(disk.address)") && r.stderr.contains("--force"))
        #expect(discovery.driver(of: disk.address) == driverBefore)
    }

    @Test func lbaOutOfRangeNamesTheCapacity() throws {
        let r = try vfioctl(["nvme", "read", "--emu-size", "1M", "--lba", "2048", "--count", "1"])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("outside namespace 1 (2048 blocks)"))
    }

    @Test func shortInputFileWritesNothing() throws {
        let image = temporaryPath("short.img"), input = temporaryPath("short.in")
        defer { unlink(image); unlink(input) }
        #expect(FileManager.default.createFile(atPath: input, contents: Data(repeating: 0xAB, count: 100)))
        let r = try vfioctl(["nvme", "write", "--emu-size", "1M", "--emu-file", image, "--lba", "0", "--count", "2", "--file", input])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.contains("too short") && r.stderr.contains("nothing was written"))
        let back = try vfioctl(["nvme", "read", "--emu-size", "1M", "--emu-file", image, "--lba", "0", "--count", "2"])
        #expect(back.status == 0)
        #expect(back.output == Data(repeating: 0, count: 1024))
    }

    @Test func badPerfOptionsAreOneLineEach() throws {
        for (arguments, needle) in [
            (["nvme", "perf", "--mode", "spin"], "use poll, interrupt or hybrid"),
            (["nvme", "perf", "--bs", "3x"], "is not a size"),
            (["nvme", "perf", "--bs", "1000"], "not a multiple of namespace 1's block size"),
            (["nvme", "perf", "--qd", "100000"], "--qd 100000 is out of range"),
            (["nvme", "perf", "--time", "soon"], "is not a duration"),
            (["nvme", "perf", "--spin", "lots"], "--spin 'lots' is not a spin policy"),
            (["nvme", "perf", "--spin=-1"], "--spin '-1' is not a spin policy"),
            (["nvme", "perf", "--spin", "4294967295"], "pause or never"),
            (["nvme", "perf", "--mode", "interrupt", "--spin", "64"], "--spin applies to poll mode only"),
            (["nvme", "perf", "--mode", "hybrid", "--spin", "never"], "drop --spin or use --mode poll"),
        ] {
            let r = try vfioctl(arguments)
            #expect(r.status == 1, "\(arguments)")
            #expect(r.stderrLines.count == 1, "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(needle), "\(arguments): \(r.stderr)")
        }
    }
}

@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct VfioctlEmulatedTests {
    @Test func writeThenReadInSeparateProcessesRoundTripsThroughABackingFile() throws {
        let image = temporaryPath("rt.img")
        defer { unlink(image) }
        let data = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let w = try vfioctl(["nvme", "write", "--emu-size", "4M", "--emu-file", image, "--lba", "100", "--count", "8"], stdin: data)
        #expect(w.status == 0, "\(w.stderr)")
        let r = try vfioctl(["nvme", "read", "--emu-size", "4M", "--emu-file", image, "--lba", "100", "--count", "8"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.output == data)
    }

    @Test func identifyJSONDescribesTheEmulatedController() throws {
        let r = try vfioctl(["nvme", "identify", "--json", "--emu-block-size", "4096", "--emu-size", "64M", "--emu-namespaces", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"model\": \"swift-vfio emulated NVMe\""))
        #expect(r.stdout.contains("\"block_size\": 4096"))
        #expect(r.stdout.contains("\"id\": 2,"))
    }

    /// `--spin` reaches the wait loop: `pause` pauses on every empty poll, `never` on none, and
    /// the mode says which policy ran.
    @Test(arguments: [("pause", "poll(spin: pause)"), ("never", "poll(spin: no pause)"), ("64", "poll(spin: 64 spins, then pause)")])
    func perfRunsPollModeWithTheGivenSpinPolicy(spin: String, mode: String) throws {
        let r = try vfioctl(["nvme", "perf", "--json", "--ios", "3000", "--qd", "4", "--spin", spin, "--emu-size", "16M"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"mode\": \"\(mode)\""), "\(r.stdout)")
        let o = jsonObject(r)
        guard let empty = number(o, "empty_polls"), let pauses = number(o, "pauses") else {
            Issue.record("no empty_polls or pauses in \(r.stdout)")
            return
        }
        switch spin {
        case "pause": #expect(pauses == empty)
        case "never": #expect(pauses == 0)
        default: #expect(pauses <= empty)
        }
    }

    @Test(arguments: ["poll", "interrupt", "hybrid"])
    func verifiedPerfReportsEveryFigure(mode: String) throws {
        let r = try vfioctl(["nvme", "perf", "--json", "--ios", "2000", "--qd", "8", "--queues", "2", "--rw", "randrw",
                             "--mode", mode, "--verify", "--emu-size", "16M"])
        #expect(r.status == 0, "\(r.stderr)")
        for key in ["iops", "mb_per_s", "lat_p50_ns", "lat_p99_ns", "lat_p999_ns", "lat_max_ns", "driver_cpu_ns_per_io", "verified_bytes"] {
            #expect(r.stdout.contains("\"\(key)\": "), "\(key) missing")
        }
        #expect(r.stdout.contains("\"ios\": 2000,"))
        #expect(r.stdout.contains("\"errors\": 0,"))
        if mode != "poll" { #expect(!r.stdout.contains("\"interrupts\": 0,")) }
    }
}
