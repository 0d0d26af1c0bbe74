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

/// An IPv4 address and port to listen on, parsed from `ADDRESS:PORT`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address in host order (127.0.0.1 is 0x7F000001).
    public var address: UInt32
    public var port: UInt16

    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `127.0.0.1:4420`; port 0 asks the kernel for a free one.
    public init(parsing text: String) throws(TargetError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else { throw .badListenAddress(text) }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard octets.count == 4 else { throw .badListenAddress(text) }
        address = octets.reduce(0) { $0 << 8 | UInt32($1) }
        self.port = port
    }

    /// 127.0.0.1:4420, the NVMe/TCP port IANA assigned (NVMe/TCP 1.0, 3.1) on the loopback.
    public static let defaultTarget = ListenAddress(address: 0x7F00_0001, port: 4420)

    /// The dotted address without the port (a discovery log entry's TRADDR).
    public var dottedAddress: String { "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)" }

    public var description: String { "\(dottedAddress):\(port)" }

    /// The local address and port of socket `fd` (getsockname); nil if it has none.
    public init?(localOf fd: Int32) { self.init(fd, getsockname) }

    /// The address and port of the peer of connected socket `fd` (getpeername).
    public init?(peerOf fd: Int32) { self.init(fd, getpeername) }

    init?(_ fd: Int32, _ name: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) {
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { name(fd, $0, &length) }
        }
        guard rc == 0, Int32(actual.sin_family) == AF_INET else { return nil }
        self.init(address: UInt32(bigEndian: actual.sin_addr.s_addr), port: UInt16(bigEndian: actual.sin_port))
    }

    /// 0.0.0.0: every local address.
    public var isAnyAddress: Bool { address == 0 }

    var socketAddress: sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = in_addr(s_addr: address.bigEndian)
        return sa
    }
}

/// A listening TCP socket (non-blocking, close-on-exec), closed in `deinit`.
public struct TCPListener: ~Copyable, Sendable {
    public let descriptor: Int32
    /// Where it listens; the port is the kernel's choice when 0 was asked for.
    public let address: ListenAddress

    public init(_ address: ListenAddress, backlog: Int32 = 64) throws(TargetError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket("socket(AF_INET, SOCK_STREAM)", errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = address.socketAddress
        let bound = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let e = errno
            close(fd)
            throw .socket("bind(\(address))", errno: e)
        }
        guard listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw .socket("listen(\(address))", errno: e)
        }
        descriptor = fd
        self.address = ListenAddress(address: address.address, port: ListenAddress(localOf: fd)?.port ?? address.port)
    }

    deinit { close(descriptor) }

    /// Accepts one connection (non-blocking, TCP_NODELAY: PDUs are small and latency-bound);
    /// nil when none is waiting. Errors of the accepted socket alone (ECONNABORTED) count as none.
    public func accept() throws(TargetError) -> Int32? {
        // accept4 is not in Glibc's Swift overlay (it needs _GNU_SOURCE): accept, then the flags.
        let fd = Glibc.accept(descriptor, nil, nil)
        guard fd >= 0 else {
            switch errno {
            case EAGAIN, EWOULDBLOCK, ECONNABORTED, EINTR, EPROTO: return nil
            case let e: throw .socket("accept(\(address))", errno: e)
            }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }
}

/// One non-blocking socket's receive and send, as the target's loop needs them.
enum SocketIO {
    enum Outcome: Equatable {
        /// This many bytes moved.
        case bytes(Int)
        /// Nothing now (EAGAIN).
        case wouldBlock
        /// The peer closed (recv returned 0) or reset the connection; the errno, 0 for a clean close.
        case closed(Int32)
    }

    static func receive(_ fd: Int32, into space: UnsafeMutableRawBufferPointer) -> Outcome {
        guard let base = space.baseAddress, space.count > 0 else { return .bytes(0) }
        while true {
            let n = recv(fd, base, space.count, Int32(MSG_DONTWAIT))
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed(0) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let e: return .closed(e)
            }
        }
    }

    /// Sends without SIGPIPE (MSG_NOSIGNAL): a host that vanished is an error return, not a signal.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Outcome {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .bytes(0) }
        while true {
            let n = Glibc.send(fd, base, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let e: return .closed(e)
            }
        }
    }

    /// Whether the peer has closed or reset: a peek that finds end-of-stream or an error.
    static func peerClosed(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        return n == 0 || n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
    }
}
