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
/// Each registered eventfd carries a tag (usually the vector or queue number), and `wait` returns
/// the tags that fired. It does not drain the eventfds; the bottom half that reaps does that.
public struct InterruptWaiter: ~Copyable {
    let epoll: FileDescriptor

    public init() throws(VFIOError) {
        let fd = shim_epoll_create()
        guard fd >= 0 else { throw .system(operation: "epoll_create1", errno: shim_errno()) }
        epoll = FileDescriptor(owning: fd)
    }

    /// Watches an eventfd (by raw descriptor; the owner must outlive the registration).
    public func add(eventFD: Int32, tag: UInt64) throws(VFIOError) {
        guard shim_epoll_add(epoll.rawValue, eventFD, tag) == 0 else {
            throw .system(operation: "epoll_ctl ADD eventfd \(eventFD)", errno: shim_errno())
        }
    }

    public func remove(eventFD: Int32) throws(VFIOError) {
        guard shim_epoll_remove(epoll.rawValue, eventFD) == 0 else {
            throw .system(operation: "epoll_ctl DEL eventfd \(eventFD)", errno: shim_errno())
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
