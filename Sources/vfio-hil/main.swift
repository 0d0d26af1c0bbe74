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
import Logging
import VFIO

/// vfio-hil: hardware-in-the-loop checks, run inside the QEMU VM against a function bound to
/// vfio-pci (see scripts/hil-test.sh for the contract).
///
///   vfio-hil --device BDF [--check NAME]... [--list]
///
/// The checks run depend on the function's PCI class (sysfs): an NVMe controller (0x010802) gets
/// the VFIO checks and the NVMe scenarios, an Ethernet controller (0x020000, QEMU's e1000e) the
/// NIC checks. stdout carries exactly one line per check: `PASS name`, `FAIL name: reason` or
/// `SKIP name: reason`, and `# ` lines with figures for the results. Logs go to stderr. Exit
/// status: 0 when nothing failed, 1 when a check failed, 2 for a usage error.

/// Every table of checks per PCI class, run in this order. A layer adds its table here.
let checkTables: [(classCode: String, kind: String, checks: [HILCheck])] = [
    ("0x010802", "NVMe", vfioChecks + nvmeChecks + quietChecks),
    ("0x020000", "Ethernet", nicChecks),
]
/// Checks run only when named with --check: they need the host's help around them (a hot-unplug),
/// or a namespace format only some controllers have (metadata: the others would bring the
/// controller up again for nothing under TCG).
let namedOnlyChecks: [String: [HILCheck]] = ["0x010802": hotRemoveChecks + [reopenAfterHotAddCheck] + metadataChecks]
let allChecks = checkTables.flatMap { $0.checks + (namedOnlyChecks[$0.classCode] ?? []) }

/// Writes a line straight to a descriptor: unbuffered, so a result line is out before the next
/// check starts (a check that hangs until the guest's timeout cannot swallow earlier results),
/// and without the C `stdout`/`stderr` globals, which are not concurrency-safe.
func writeLine(_ text: String, to fd: Int32) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(fd, bytes.baseAddress, bytes.count) }
}
func logLine(_ text: String) { writeLine(text, to: 2) }
func resultLine(_ text: String) { writeLine(text, to: 1) }
/// A figure for the HIL results file (the guest copies `# ` lines there).
func resultInfo(_ text: String) { writeLine("# " + text, to: 1) }

func usage(_ message: String) -> Never {
    logLine("vfio-hil: \(message)\nusage: vfio-hil --device BDF [--check NAME]... [--list]")
    exit(2)
}

var deviceText: String?
var selected: [String] = []
var listOnly = false
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--device":
        guard let value = arguments.popFirst() else { usage("--device needs a BDF") }
        deviceText = value
    case "--check":
        guard let value = arguments.popFirst() else { usage("--check needs a name") }
        selected.append(value)
    case "--list": listOnly = true
    case "-h", "--help": usage("runs the VFIO checks against a device bound to vfio-pci")
    default: usage("unknown argument \(argument)")
    }
}

if listOnly {
    for check in allChecks { resultLine("\(check.name): \(check.summary)") }
    exit(0)
}

guard let deviceText else { usage("--device is required") }
let address: PCIAddress
do { address = try PCIAddress(parsing: deviceText) } catch { usage("\(error)") }
let classCode = readWholeFile("/sys/bus/pci/devices/\(address)/class").map { String(decoding: $0, as: UTF8.self).trimmingWhitespace() }
guard let table = checkTables.first(where: { $0.classCode == classCode }) else {
    usage("\(address) has PCI class \(classCode ?? "unknown (no such function?)"); vfio-hil checks \(checkTables.map { "\($0.kind) (\($0.classCode))" }.joined(separator: " and ")) functions")
}
// HIL_CHECKS (space-separated names) stands for --check options: guest.sh's per-controller flows.
if selected.isEmpty, let names = getenv("HIL_CHECKS") { selected = String(cString: names).split(separator: " ").map(String.init) }
let available = table.checks + (namedOnlyChecks[table.classCode] ?? [])
let unknown = selected.filter { name in !available.contains { $0.name == name } }
guard unknown.isEmpty else { usage("no \(table.kind) check named \(unknown.joined(separator: ", ")); see --list") }
let checks = selected.isEmpty ? table.checks : available.filter { selected.contains($0.name) }

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = getenv("HIL_LOG_DEBUG") != nil ? .debug : .info
    return handler
}
let logger = Logger(label: "vfio-hil")
let environment: [String: String] = {
    var result: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return result
}()
let context = HILContext(address: address, environment: environment) { message in
    logLine("  \(message)")
}

var failures = 0
for check in checks {
    logLine("--- \(check.name): \(check.summary)")
    do {
        switch try check.body(context) {
        case .pass: resultLine("PASS \(check.name)")
        case .skip(let reason): resultLine("SKIP \(check.name): \(reason)")
        }
    } catch {
        failures += 1
        resultLine("FAIL \(check.name): \("\(error)".split(separator: "\n").joined(separator: " "))")
    }
}
exit(failures == 0 ? 0 : 1)
