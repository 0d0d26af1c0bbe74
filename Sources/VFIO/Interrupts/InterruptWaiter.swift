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

import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Waits on many interrupt vectors at once with epoll: one thread sleeping for several queues.
///
/// Each registered descriptor carries a tag (usually the vector or queue number), and `wait`
/// returns the tags that fired. It does not drain the eventfds; the bottom half that reaps does
/// that. It is the project's one epoll owner, so the NVMe/TCP target's loop watches its sockets
/// here too (level-triggered, with `modify` for output that backed up).
public struct InterruptWaiter: ~Copyable {
    let epoll: FileDescriptor

    public init() throws(VFIOError) {
        let fd = shim_epoll_create()
        guard fd >= 0 else { throw .system(operation: "epoll_create1", errno: shim_errno()) }
        epoll = FileDescriptor(owning: fd)
    }

    /// Watches a descriptor (an eventfd or a socket) for input; the owner must outlive the
    /// registration.
    public func add(descriptor: Int32, tag: UInt64) throws(VFIOError) {
        guard shim_epoll_add(epoll.rawValue, descriptor, tag) == 0 else {
            throw .system(operation: "epoll_ctl ADD descriptor \(descriptor)", errno: shim_errno())
        }
    }

    /// Changes what a watched descriptor wakes the waiter for: input, room for output, or both
    /// (a socket whose output backed up waits for room; one with nothing to send must not, or
    /// level-triggered epoll wakes the loop on every turn).
    public func modify(descriptor: Int32, tag: UInt64, read: Bool, write: Bool) throws(VFIOError) {
        guard shim_epoll_modify(epoll.rawValue, descriptor, tag, read ? 1 : 0, write ? 1 : 0) == 0 else {
            throw .system(operation: "epoll_ctl MOD descriptor \(descriptor)", errno: shim_errno())
        }
    }

    public func remove(descriptor: Int32) throws(VFIOError) {
        guard shim_epoll_remove(epoll.rawValue, descriptor) == 0 else {
            throw .system(operation: "epoll_ctl DEL descriptor \(descriptor)", errno: shim_errno())
        }
    }

    /// Sleeps until at least one watched eventfd fires or the timeout passes (-1: forever).
    /// Writes the fired tags into `tags` and returns how many (0 on timeout). EINTR is retried.
    public func wait(into tags: UnsafeMutableBufferPointer<UInt64>, timeoutMilliseconds: Int32) throws(VFIOError) -> Int {
        while true {
            let n = shim_epoll_wait(epoll.rawValue, tags.baseAddress!, Int32(min(tags.count, 64)), timeoutMilliseconds)
            if n >= 0 { return Int(n) }
            let e = shim_errno()
            if e == EINTR { continue }
            throw .system(operation: "epoll_wait", errno: e)
        }
    }
}
