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

/// The two ways the in-use check touches a block device node, both read-only: an exclusive open
/// that is closed at once, and a read of the first bytes. A seam, so that a test's fake tree can
/// play a device the kernel holds (regular files ignore `O_EXCL`).
public struct BlockDeviceAccess: Sendable {
    /// `open(path, O_RDONLY|O_EXCL)` and close: 0 when it opened, else the errno. For a block
    /// device, EBUSY means something holds it exclusively (a mount, swap, md, dm, ZFS, btrfs).
    public var probeExclusive: @Sendable (_ path: String) -> Int32
    /// The first `count` bytes (fewer at the end of the device), or the errno of the failure.
    public var readStart: @Sendable (_ path: String, _ count: Int) -> BlockRead

    public init(probeExclusive: @escaping @Sendable (String) -> Int32,
                readStart: @escaping @Sendable (String, Int) -> BlockRead) {
        self.probeExclusive = probeExclusive
        self.readStart = readStart
    }

    public enum BlockRead: Sendable, Equatable {
        case bytes([UInt8])
        case failed(errno: Int32)
    }

    /// The real system calls. `O_NONBLOCK` keeps an open of removable media from waiting for it;
    /// read-only opens never make udev re-scan the device (that follows a close after writing).
    public static let system = BlockDeviceAccess(
        probeExclusive: { path in
            let fd = open(path, O_RDONLY | O_EXCL | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { return errno }
            close(fd)
            return 0
        },
        readStart: { path, count in
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { return .failed(errno: errno) }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(done)) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return .failed(errno: errno) }
                if n == 0 { break }
                done += n
            }
            return .bytes(Array(buffer.prefix(done)))
        })
}
