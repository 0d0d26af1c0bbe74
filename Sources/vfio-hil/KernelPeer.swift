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
import DriverScenarios
import NetFrames
import VFIO

/// The other end of the wire in the HIL VM: an e1000e function left to the guest kernel's driver,
/// on the same QEMU hub as ours, with HIL_PEER_IP on interface HIL_PEER_IF (scripts/hil/nic.sh
/// brings it up). The kernel's stack answers ARP and ping for it, and sends what a socket asks;
/// its counters in /sys/class/net/IF/statistics (e1000e reads the NIC's own GPRC/GPTC on each
/// read) say what crossed the wire from its side.
struct KernelPeer {
    let interface: String
    let mac: MACAddress
    let ip: IPv4Address

    /// A counter of /sys/class/net/IF/statistics (rx_packets, tx_packets, rx_missed_errors, ...).
    func counter(_ name: String) throws -> UInt64 {
        let path = "/sys/class/net/\(interface)/statistics/\(name)"
        guard let bytes = readWholeFile(path),
              let value = UInt64(String(decoding: bytes, as: UTF8.self).trimmingWhitespace())
        else { throw ScenarioFailure("cannot read \(path)") }
        return value
    }

    /// Waits up to `milliseconds` for the counter to reach `target` (the kernel's NAPI drains its
    /// ring after our last descriptor went out); returns the last value read.
    func waitForCounter(_ name: String, atLeast target: UInt64, milliseconds: Int) throws -> UInt64 {
        var value = try counter(name)
        let deadline = Deadline(milliseconds: milliseconds)
        while value < target && !deadline.hasPassed {
            usleep(20_000)
            value = try counter(name)
        }
        return value
    }

    /// Has the kernel send `payloads` as UDP datagrams from the peer's address to `destination`
    /// (through the peer's interface: its /24 is the only route there), as fast as it takes them.
    func sendDatagrams(_ payloads: [[UInt8]], to destination: IPv4Address, port: UInt16) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ScenarioFailure("socket(AF_INET, SOCK_DGRAM): errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = in_addr(s_addr: destination.value.bigEndian)
        for payload in payloads {
            let sent = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            guard sent == payload.count else { throw ScenarioFailure("sendto \(destination):\(port) sent \(sent) of \(payload.count) bytes: errno \(errno)") }
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
