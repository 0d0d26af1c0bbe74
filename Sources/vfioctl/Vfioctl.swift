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
import Logging
import VFIO

/// `vfioctl`: bind devices to vfio-pci, look at them, and drive NVMe controllers from userspace.
/// Parsing and printing only; the work happens in the VFIO and NVMe libraries.
@main
struct Vfioctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfioctl",
        abstract: "Userspace driver framework over VFIO: bind devices, inspect them, drive NVMe.",
        discussion: """
            DEV is a PCI address (0000:01:00.0 or 01:00.0) bound to vfio-pci, or `emulated` (the \
            default): an in-process NVMe controller (for `net`, an 82574L NIC), so every command \
            works without hardware.
            """,
        version: vfioctlVersion,
        subcommands: [List.self, Watch.self, Bind.self, Unbind.self, Setup.self, NVMeCommand.self, NetCommand.self, Demo.self]
    )

    /// ArgumentParser's `main`, with every error printed by the tool's one convention (Output.swift)
    /// instead of ArgumentParser's `Error:` and usage text.
    static func main() {
        _ = loggingConfigured
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exitReporting(error, command: self)
        }
    }
}

/// `vfioctl --version`.
let vfioctlVersion = "0.1.0"

/// The tool's logger for one library (`swift-vfio.nvme`, `.nic`, `.vfio`), passed in the
/// libraries' options: they are quiet unless given one.
func toolLogger(_ label: String) -> Logger {
    _ = loggingConfigured
    return Logger(label: label)
}

/// Library logs go to stderr at `warning` and above, so that data written to stdout (`nvme read`)
/// and `--json` stay clean; `VFIOCTL_LOG=debug` (or info, trace) shows more.
let loggingConfigured: Void = {
    let level = getenv("VFIOCTL_LOG").flatMap { Logger.Level(rawValue: String(cString: $0)) } ?? .warning
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}()
