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

import ArgumentParser
import NetFrames

/// A MAC option's value, or a one-line error naming the option and the expected form
/// (ArgumentParser's own message for a bad value is several lines of usage).
func parseMAC(_ text: String, what: String) throws -> MACAddress {
    guard let mac = MACAddress(parsing: text) else {
        throw ValidationFailure("\(what) '\(text)' is not a MAC address; use six hex bytes, e.g. 52:54:00:12:34:56")
    }
    return mac
}

/// An IPv4 option's value, or a one-line error.
func parseIPv4(_ text: String, what: String) throws -> IPv4Address {
    guard let ip = IPv4Address(parsing: text) else {
        throw ValidationFailure("\(what) '\(text)' is not an IPv4 address; use dotted quads, e.g. 10.77.0.2")
    }
    return ip
}

/// Writes `frame`'s first `count` bytes as hex, 16 per line, for `net recv --print`.
func hexDump(_ frame: UnsafeRawBufferPointer, count: Int) -> String {
    var lines: [String] = []
    var offset = 0
    while offset < min(count, frame.count) {
        let end = min(offset + 16, count, frame.count)
        let hex = (offset..<end).map { i -> String in
            let s = String(frame[i], radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
        let o = String(offset, radix: 16)
        lines.append("  " + String(repeating: "0", count: max(0, 4 - o.count)) + o + "  " + hex)
        offset = end
    }
    return lines.joined(separator: "\n")
}
