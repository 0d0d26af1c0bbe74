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
import VFIO

/// Packet rate figures as ixy reports them: packets per second, Mbit/s, CPU cycles per packet.
///
/// Cycles per packet are the queue threads' CPU time (CLOCK_THREAD_CPUTIME_ID) times the TSC
/// rate: an estimate without reading a cycle counter around every packet (perf counters are
/// often unavailable in VMs and containers). For a busy-polling thread this equals ixy's figure,
/// clock rate / packets per second on one core; in interrupt mode it counts only the time the
/// thread ran.
public struct PacketRate: Sendable {
    public var packets: UInt64
    public var bytes: UInt64
    /// Wall time of the run, from the precise monotonic clock.
    public var seconds: Double
    public var cpuNanoseconds: UInt64
    public var cpuMHz: Double?

    public init(packets: UInt64, bytes: UInt64, seconds: Double, cpuNanoseconds: UInt64, cpuMHz: Double?) {
        self.packets = packets
        self.bytes = bytes
        self.seconds = seconds
        self.cpuNanoseconds = cpuNanoseconds
        self.cpuMHz = cpuMHz
    }

    public var packetsPerSecond: Double { seconds > 0 ? Double(packets) / seconds : 0 }
    /// Frame bits (no FCS, preamble or inter-frame gap) per second, in millions.
    public var megabitsPerSecond: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e6 : 0 }
    public var cpuNanosecondsPerPacket: Double { packets > 0 ? Double(cpuNanoseconds) / Double(packets) : 0 }
    public var cyclesPerPacket: Double? { cpuMHz.map { cpuNanosecondsPerPacket * $0 / 1000 } }

    /// The invariant TSC's rate as `TickClock` calibrated it against the monotonic clock (the
    /// same rate the NVMe workload's latencies are counted in); without one, the first "cpu MHz"
    /// line of /proc/cpuinfo (what the kernel estimated at boot), or nil.
    public static func cpuMegahertz() -> Double? {
        let ticks = TickClock.shared
        if ticks.source == .tsc { return ticks.frequency / 1e6 }
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            guard text.hasPrefix("cpu MHz"), let colon = text.firstIndex(of: ":") else { continue }
            let value = text[text.index(after: colon)...].filter { !$0.isWhitespace }
            if let mhz = Double(value), mhz > 0, mhz < 100_000 { return mhz }
            return nil
        }
        return nil
    }
}
