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
import ArgumentParser
import VFIO
import VFIOHost

/// `vfioctl watch`: PCI functions appearing and going away (hot-add, hot-remove), one line each,
/// as `PCIWatcher` sees them. Read-only. A script waits on it for a re-added function before it
/// binds it (`vfioctl bind`), instead of sleeping for a guessed time.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print PCI functions as they appear and go away (hot-add, hot-remove), one line each.",
        discussion: """
            Lines read `added BDF VENDOR:DEVICE CLASS DRIVER` and `removed BDF`. Ends after --time, \
            after --count lines, or at Ctrl-C (exit 130).
            """)

    @Option(help: "How long to watch (e.g. 30s, 5m).")
    var time = "60s"

    @Option(help: "Stop after this many lines.")
    var count: Int?

    @Option(help: "How often to look at sysfs (e.g. 100ms).")
    var interval = "100ms"

    func run() throws {
        try reportingErrors {
            let seconds = try parseDuration(time, what: "--time")
            let every = try parseDuration(interval, what: "--interval")
            if let count, count < 1 { throw ValidationFailure("--count \(count) is too small; give 1 or more") }
            let discovery = HostRoots.discovery
            var watcher = PCIWatcher(sysfsRoot: discovery.sysfsRoot)
            try StopSignal.install()
            let deadline = Deadline(milliseconds: Int((seconds * 1000).rounded(.up)))
            var printed = 0
            while !deadline.hasPassed && !StopSignal.requested {
                for change in watcher.waitForChanges(
                    timeoutMilliseconds: max(1, deadline.remainingMilliseconds), intervalMilliseconds: Int((every * 1000).rounded(.up)),
                    shouldStop: { StopSignal.requested })
                {
                    // Straight to the descriptor: a script reads the lines as they come, from a
                    // pipe or a file, where print would hold them in its buffer until exit.
                    let bytes = Array((line(for: change, discovery) + "\n").utf8)
                    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                    printed += 1
                    if let count, printed >= count { return }
                }
            }
        }
    }

    func line(for change: PCIChange, _ discovery: PCIDiscovery) -> String {
        guard case .added(let address) = change, let f = try? discovery.function(at: address) else { return change.description }
        return "\(change) \(hex4(f.vendorID)):\(hex4(f.deviceID)) \(hex6(f.classCode)) \(f.driver ?? "-")"
    }
}
