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

import Foundation
import Synchronization
import Testing

/// `vfioctl nvme serve` against the emulated controller: its options, and the summary it prints
/// when SIGTERM stops it, with a report of each connection a raw TCP client made.
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct ServeCommandTests {
    /// A port that was free a moment ago on 127.0.0.1 (the kernel's choice, released again).
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                _ = bind(fd, p, length)
                return getsockname(fd, p, &length)
            }
        }
        return UInt16(bigEndian: sa.sin_port)
    }

    /// Connects to 127.0.0.1:`port` (retrying for up to 30 s while the server starts), sends
    /// `bytes`, and reads until the server closes; returns what it read (nil: no connection).
    static func exchange(port: UInt16, _ bytes: [UInt8]) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            sa.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
            let ok = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard ok == 0 else {
                close(fd)
                usleep(100_000)
                continue
            }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var got: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return got }
                got += buffer[0..<n]
            }
        }
        return nil
    }

    /// An ICReq (NVMe/TCP 1.0, 3.6.2.2: 128 bytes, no digests), then an undefined PDU type.
    static let icReqThenGarbage: [UInt8] = {
        var icReq = [UInt8](repeating: 0, count: 128)
        icReq[2] = 128  // HLEN
        icReq[4] = 128  // PLEN
        return icReq + [0x42, 0, 24, 0, 24, 0, 0, 0] + Array(repeating: 0, count: 16)
    }()

    @Test func sigtermPrintsJSONWithAReportPerConnection() throws {
        let port = Self.freePort()
        let answered = Mutex<[UInt8]?>(nil)
        let r = try vfioctl(["nvme", "serve", "--device", "emulated", "--listen", "127.0.0.1:\(port)", "--json"]) { pid in
            let got = Self.exchange(port: port, Self.icReqThenGarbage)
            answered.withLock { $0 = got }
            kill(pid, SIGTERM)
        }
        #expect(r.status == 143, "\(r.stderr)")
        // ICResp (type 1, 128 bytes), then a C2HTermReq (type 3), then the target closed.
        let got = answered.withLock { $0 } ?? []
        #expect(got.count > 128 && got[0] == 1 && got[128] == 3, "\(got.prefix(16))")
        let o = jsonObject(r)
        #expect(o["stopped_by"] as? String == "SIGTERM", "\(r.stdout)")
        #expect(number(o, "connections") == 1)
        #expect(number(o, "terminated_connections") == 1)
        #expect(number(o, "pdus_received") == 1 && number(o, "pdus_sent") == 2)
        #expect((o["backend"] as? [String: Any]).map { number($0, "submitted") } == 0)
        let reports = o["connection_reports"] as? [[String: Any]] ?? []
        #expect(reports.count == 1, "\(r.stdout)")
        let report = reports.first ?? [:]
        #expect(report["terminated"] as? Bool == true)
        #expect((report["close_reason"] as? String)?.hasPrefix("terminated: ") == true, "\(report)")
        #expect((report["peer"] as? String)?.hasPrefix("127.0.0.1:") == true)
        #expect(report["host_nqn"] is NSNull && report["queue_id"] is NSNull)
        #expect(number(report, "pdus_received") == 1 && number(report, "pdus_sent") == 2 && number(report, "bytes_received") == 152)
        // The log names the connection's end and its counters.
        #expect(r.stderr.contains("connection 0: terminated: "), "\(r.stderr)")
    }

    @Test func sigtermPrintsTheOneLineSummary() throws {
        let port = Self.freePort()
        let r = try vfioctl(["nvme", "serve", "--device", "emulated", "--listen", "127.0.0.1:\(port)"]) { pid in
            _ = Self.exchange(port: port, Self.icReqThenGarbage)
            kill(pid, SIGTERM)
        }
        #expect(r.status == 143, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stdout)")
        #expect(lines.first?.hasPrefix("served nqn.2026-01.io.github.swift-vfio:target on 127.0.0.1:\(port) until SIGTERM: 1 connections, 0 commands") == true, "\(r.stdout)")
        #expect(r.stdout.contains("1 PDUs in, 2 out") && r.stdout.contains("1 terminated for protocol errors"), "\(r.stdout)")
    }
}
