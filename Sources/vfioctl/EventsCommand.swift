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
import NVMe
import NVMeEmulator
import VFIO

/// `vfioctl nvme events`: keeps Asynchronous Event Requests outstanding and prints each event as
/// it comes, after the driver handled it (log page read, namespaces rescanned).
struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the controller's asynchronous events (errors, SMART / health warnings, namespace changes) as they come.")
    @OptionGroup var target: DeviceOptions
    @Option(help: "Stop after this many events.") var count: Int?
    @Option(help: "Stop after this long (e.g. 10s, 500ms); default: until Ctrl-C or --count.") var time: String?
    @Flag(help: "Print each event as one line of JSON.") var json = false

    struct Job: ControllerJob {
        let count: Int?
        let seconds: Double
        let json: Bool

        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            try c.enableAsynchronousEvents()
            if let emulated = c.device as? EmulatedNVMeController { try applyEmulatedEvents(emulated) }
            printError("waiting for asynchronous events from \(c.device.name) (\(c.outstandingEventRequests) requests outstanding); Ctrl-C ends")
            let start = MonotonicClock.nanoseconds()
            var elapsed: Double { Double(MonotonicClock.nanoseconds() - start) / 1e9 }
            var printed = 0
            var endedBy = "time"
            run: while true {
                for event in try c.pollAsynchronousEvents() {
                    print(json ? eventJSON(event, seconds: elapsed).renderLine() : "+\(formatDuration(elapsed)) \(event.name): \(event)")
                    fflush(nil)  // each event reaches a pipe at once, not when the buffer fills
                    printed += 1
                    if let count, printed >= count {
                        endedBy = "count"
                        break run
                    }
                }
                if let name = StopSignal.signalName {
                    endedBy = name
                    break
                }
                if elapsed >= seconds { break }
                // Sleep until the next poll, or until Ctrl-C.
                var stop = pollfd(fd: StopSignal.eventFD, events: Int16(POLLIN), revents: 0)
                _ = poll(&stop, 1, 10)
            }
            printError("\(printed) event(s) in \(formatDuration(elapsed)) from \(c.device.name); ended by \(endedBy)")
        }
    }

    func run() throws {
        try reportingErrors {
            if let count, count <= 0 { throw ValidationFailure("--count \(count): give 1 or more events") }
            let seconds = try time.map { try parseDuration($0, what: "--time") } ?? .infinity
            try StopSignal.install()
            try target.withController(Job(count: count, seconds: seconds, json: json))
        }
    }
}

/// One event as a JSON object: its name, the CQE's type, information and log page, and what the
/// driver read for it.
func eventJSON(_ event: ControllerEvent, seconds: Double) -> JSON {
    var fields: [(String, JSON)] = [
        ("seconds", .double((seconds * 1e6).rounded() / 1e6)), ("event", .string(event.name)),
        ("type", .int(Int(event.information.type.rawValue))), ("info", .int(Int(event.information.info))),
        ("log_page", .int(Int(event.information.logPage))),
    ]
    func ids(_ list: [UInt32]) -> JSON { .array(list.map { .uint(UInt64($0)) }) }
    switch event.kind {
    case .error(let entry):
        if let entry {
            fields += [("error_count", .uint(entry.errorCount)), ("queue", .int(Int(entry.submissionQueueID))),
                       ("command_id", .int(Int(entry.commandID))), ("status", .string(entry.status.description))]
        }
    case .smartHealth(let log):
        fields += [("critical_warning", .int(Int(log.criticalWarning.rawValue))), ("temperature_kelvin", .int(Int(log.compositeTemperature))),
                   ("available_spare_percent", .int(Int(log.availableSpare)))]
    case .namespacesChanged(let changes):
        fields += [("added", ids(changes.added)), ("removed", ids(changes.removed)), ("changed", ids(changes.changed))]
    case .other:
        break
    case .unreadable(let reason):
        fields.append(("reason", .string(reason)))
    case .requestFailed(let status):
        fields.append(("status", .string(status.description)))
    }
    return .object(fields)
}

/// A test hook, not an option: `VFIOCTL_EMU_EVENTS` makes the emulated controller change once
/// events are enabled, so the tests of the built binary see events arrive. A comma-separated list
/// of `attach:NSID`, `detach:NSID`, `resize:NSID:BLOCKS` and `warning:BITS` (SMART critical warning).
func applyEmulatedEvents(_ device: EmulatedNVMeController) throws {
    guard let raw = getenv("VFIOCTL_EMU_EVENTS") else { return }
    for item in String(cString: raw).split(separator: ",") {
        let parts = item.split(separator: ":").map(String.init)
        let numbers = parts.dropFirst().compactMap { UInt64($0) }
        let applied: Bool
        switch (parts.first, numbers.count == parts.count - 1 ? numbers : []) {
        case ("attach", let n) where n.count == 1: applied = device.setNamespaceAttached(UInt32(clamping: n[0]), true)
        case ("detach", let n) where n.count == 1: applied = device.setNamespaceAttached(UInt32(clamping: n[0]), false)
        case ("resize", let n) where n.count == 2: applied = device.resizeNamespace(UInt32(clamping: n[0]), blocks: n[1])
        case ("warning", let n) where n.count == 1:
            device.setCriticalWarning(SMARTHealthLog.CriticalWarning(rawValue: UInt8(clamping: n[0])))
            applied = true
        default: applied = false
        }
        guard applied else {
            throw ValidationFailure("VFIOCTL_EMU_EVENTS item '\(item)' is not attach:NSID, detach:NSID, resize:NSID:BLOCKS or warning:BITS for an emulated namespace")
        }
    }
}
