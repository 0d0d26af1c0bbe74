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

import NIC
import NICEmulator
import NVMe
import NVMeEmulator
import Testing
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// A library is quiet unless its caller's logger says otherwise: with default options, bringing a
/// controller or NIC up, doing I/O, resetting and closing print nothing. (Without a logger of
/// their own the drivers used swift-log's default handler, which prints `info` to stderr: every
/// bring-up printed a line in the user's process, and the reset tests printed warnings.)
@Suite struct QuietLibraryTests {
    @Test func defaultOptionsLogNothing() throws {
        let output = try capturingStandardError {
            let device = try EmulatedNVMeController()
            let controller = try Controller(device: device)
            let buffer = try device.dma.allocate(length: 4096)
            try controller.namespace(1).write(lba: 0, blocks: 8, from: buffer.whole)
            try controller.reset()
            try controller.namespace(1).read(lba: 0, blocks: 8, into: buffer.whole)
            try controller.close()
        }
        // Other suites run at the same time and may write to stderr: only the driver's lines count.
        let driverLines = output.split(separator: "\n").filter { $0.contains("swift-vfio.") }
        #expect(driverLines.isEmpty, "\(driverLines)")
    }

    @Test(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process"))
    func theNICWithDefaultOptionsLogsNothing() throws {
        let output = try capturingStandardError {
            let device = try EmulatedE1000E()
            let nic = try E1000E(device: device)
            nic.close()
        }
        let driverLines = output.split(separator: "\n").filter { $0.contains("swift-vfio.") }
        #expect(driverLines.isEmpty, "\(driverLines)")
    }

    /// The caller's logger gets what the default discards.
    @Test func theCallersLoggerGetsBringUpAndResets() throws {
        let capture = LogCapture()
        let device = try EmulatedNVMeController()
        let controller = try Controller(device: device, options: ControllerOptions(logger: capture.logger))
        try controller.reset()
        try controller.close()
        #expect(capture.contains(.info, "NVMe emulated: swift-vfio emulated NVMe"))
        #expect(capture.contains(.warning, "resetting the controller: requested by the caller"))
        #expect(capture.contains(.notice, "controller reset done"))
    }

    @Test(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process"))
    func theCallersLoggerGetsTheNICBringUp() throws {
        let capture = LogCapture()
        var options = NICOptions()
        options.logger = capture.logger
        options.linkWaitMilliseconds = 100
        let nic = try E1000E(device: try EmulatedE1000E(), options: options)
        nic.close()
        #expect(capture.contains(.info, "82574L emulated"))
    }
}

/// Runs `body` with file descriptor 2 sent to a temporary file, and returns what was written
/// meanwhile (by anything in the process). It is written to the real stderr too, afterwards, so
/// nothing another suite printed is lost.
func capturingStandardError(_ body: () throws -> Void) throws -> String {
    var template = Array("/tmp/swift-vfio-stderr-XXXXXX".utf8CString)
    let file = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    try #require(file >= 0)
    unlink(String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
    defer { close(file) }
    let saved = dup(2)
    fflush(nil)
    dup2(file, 2)
    let outcome = Result { try body() }
    fflush(nil)
    dup2(saved, 2)
    close(saved)
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { pread(file, $0.baseAddress, $0.count, off_t(bytes.count)) }
        guard n > 0 else { break }
        bytes += chunk[0..<n]
    }
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    try outcome.get()
    return String(decoding: bytes, as: UTF8.self)
}
