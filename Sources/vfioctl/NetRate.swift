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

import NICWorkload

/// How `vfioctl` prints packet rates.
extension PacketRate {
    var json: [(String, JSON)] {
        [
            ("packets", .uint(packets)), ("bytes", .uint(bytes)), ("seconds", .double(round6(seconds))),
            ("pps", .double(packetsPerSecond.rounded())), ("mbit_per_s", .double(round3(megabitsPerSecond))),
            ("cpu_ns_per_packet", .double(round3(cpuNanosecondsPerPacket))),
            ("cycles_per_packet", cyclesPerPacket.map { .double($0.rounded()) } ?? .null),
            ("cpu_mhz", cpuMHz.map { .double(round3($0)) } ?? .null),
        ]
    }

    var text: String {
        var line = "\(packets) packets in \(formatDuration(seconds)): \(Int(packetsPerSecond.rounded())) pps, \(format1(megabitsPerSecond)) Mbit/s"
        line += ", \(Int(cpuNanosecondsPerPacket.rounded())) ns CPU per packet"
        if let c = cyclesPerPacket, let mhz = cpuMHz { line += " (~\(Int(c.rounded())) cycles at \(Int(mhz.rounded())) MHz)" }
        return line
    }
}

func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
/// Seconds to the microsecond, so that a run of a few milliseconds keeps its figure.
func round6(_ v: Double) -> Double { (v * 1_000_000).rounded() / 1_000_000 }

/// A run's length with three significant figures or more in a unit that fits it: "12.3 s",
/// "4.56 s", "38.2 ms", "950 µs". (One decimal of seconds made a 40 ms run "0.0 s".)
func formatDuration(_ seconds: Double) -> String {
    switch seconds {
    case 10...: return "\(format1(seconds)) s"
    case 1..<10: return "\(format2(seconds)) s"
    case 0.001..<1: return "\(format1(seconds * 1000)) ms"
    default:
        let micros = (seconds * 1e6).rounded()
        return micros.magnitude < 1e18 ? "\(Int(micros)) µs" : "\(seconds) s"  // NaN and negatives land here: never trap
    }
}

/// Two decimals; never traps (see `format1`).
func format2(_ v: Double) -> String {
    let scaled = (v * 100).rounded()
    guard scaled.magnitude < 1e18 else { return "\(v)" }
    let hundredths = Int(scaled)
    let fraction = hundredths.magnitude % 100
    return "\(hundredths < 0 ? "-" : "")\(hundredths.magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
