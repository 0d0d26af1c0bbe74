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

// MARK: - Errors and exit statuses: the one convention of the whole tool (docs/errors.md)
//
// Every error, whoever finds it (ArgumentParser, the tool, a library), is printed the same way:
// one line `vfioctl: <cause>; <fix>` on stderr, and the exit status says what happened:
//   0        success (also --help and --version)
//   1        any error: a bad command line, a refused value, a device or I/O failure
//   128 + N  a long run stopped by signal N (130 for SIGINT, 143 for SIGTERM), after it printed
//            its figures so far (see StopSignal)

/// A problem with what the user asked for, found by the tool itself: printed as one line.
struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One line to stderr, as is (progress notes, the emulated peer's reports). Errors go through
/// `printToolError`.
func printError(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// The error line: `vfioctl: ` and the message, folded into one line.
func printToolError(_ message: String) {
    let oneLine = message.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
    printError("vfioctl: " + oneLine.joined(separator: "; "))
}

/// Runs a command body and turns an error into the tool's one error line and exit status 1;
/// after a run that a signal stopped (the body printed its figures so far), exits 128 + N.
/// Every command's `run()` goes through it.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printToolError(toolMessage(for: error))
        throw ExitCode(1)
    }
    if let status = StopSignal.exitStatus { throw ExitCode(status) }
}

/// Ends the process for an error that reached `main`: ArgumentParser's own (a missing value, an
/// unknown option, a throwing `validate()`), an `ExitCode`, or a clean exit (--help, --version).
func exitReporting(_ error: any Error, command: Vfioctl.Type) -> Never {
    if let exit = error as? ExitCode { Glibc.exit(exit.rawValue) }
    if command.exitCode(for: error) == .success { command.exit(withError: error) }
    var message = command.message(for: error)
    if let first = message.first, first.isUppercase, message.dropFirst().first?.isLowercase == true {
        message = first.lowercased() + message.dropFirst()
    }
    // ArgumentParser's usage errors end with "See 'vfioctl nvme read --help' for more information.":
    // keep only the command to run.
    if command.exitCode(for: error) == .validationFailure {
        let full = command.fullMessage(for: error)
        if let see = full.firstRange(of: "See '"), let end = full[see.upperBound...].firstIndex(of: "'") {
            message += "; see " + full[see.upperBound..<end]
        }
    }
    printToolError(message)
    Glibc.exit(1)
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}

/// A minimal JSON writer: the tool's `--json` output is flat objects and arrays of numbers and
/// strings, which does not justify Foundation.
enum JSON: Sendable {
    case string(String)
    case int(Int)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    static func optional(_ value: String?) -> JSON { value.map { .string($0) } ?? .null }
    static func optional(_ value: Int?) -> JSON { value.map { .int($0) } ?? .null }

    /// One line, no spaces: for streams of objects, one per line (`nvme events --json`).
    func renderLine() -> String {
        switch self {
        case .array(let items): return "[" + items.map { $0.renderLine() }.joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { JSON.quote($0.0) + ":" + $0.1.renderLine() }.joined(separator: ",") + "}"
        default: return render()
        }
    }

    func render(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .string(let s): return JSON.quote(s)
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .double(let v): return v.isFinite ? String(v) : "null"
        case .bool(let v): return v ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n" + pad + "]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { inner + JSON.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }.joined(separator: ",\n") + "\n" + pad + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Table printing: columns sized to their widest cell, left-aligned unless listed in
/// `rightAligned` (numbers, so their digits line up).
func printTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        var text = ""
        for (i, cell) in cells.enumerated() {
            let pad = String(repeating: " ", count: i < widths.count ? max(0, widths[i] - cell.count) : 0)
            if i > 0 { text += "  " }
            if rightAligned.contains(i) { text += pad + cell } else { text += i == cells.count - 1 ? cell : cell + pad }
        }
        return text
    }
    print(line(header))
    for row in rows { print(line(row)) }
}
