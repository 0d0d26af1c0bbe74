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

/// An owned eventfd: the kernel (or the emulated device) adds to its counter when an interrupt
/// fires, and a waiter sleeps in `poll`/`epoll` until it is non-zero. Non-blocking, so draining
/// never sleeps.
///
/// The static functions are the one way to wait on and drain an eventfd owned elsewhere (a
/// device's MSI-X vector, borrowed by a queue as its raw descriptor): the "top half" only adds to
/// the counter; the waiter's "bottom half" wakes here, drains, and does the work.
public struct EventFD: ~Copyable, Sendable {
    public let descriptor: FileDescriptor

    /// A new eventfd; `purpose`, if given, names it in the error (`eventfd for <purpose>`).
    public init(for purpose: String? = nil) throws(VFIOError) {
        let fd = shim_eventfd(0, 1)
        guard fd >= 0 else { throw .system(operation: purpose.map { "eventfd for \($0)" } ?? "eventfd", errno: shim_errno()) }
        descriptor = FileDescriptor(owning: fd)
    }

    @inlinable public var rawValue: Int32 { descriptor.rawValue }

    /// Adds one to the counter, waking a waiter (what an interrupt does).
    public func signal() { Self.signal(rawValue) }

    /// Reads and resets the counter: the number of signals since the last drain (0 if none).
    @discardableResult
    public func drain() -> UInt64 { Self.drain(rawValue) }

    /// Sleeps until signalled or `timeoutMilliseconds` pass (-1: forever). True when signalled.
    /// Does not drain.
    public func wait(timeoutMilliseconds: Int32) -> Bool { Self.wait(rawValue, milliseconds: timeoutMilliseconds) }

    // MARK: - An eventfd owned elsewhere, by raw descriptor

    /// Adds one to the counter of `fd`.
    public static func signal(_ fd: Int32) { _ = shim_eventfd_signal(fd) }

    /// Reads and resets the counter of `fd`: signals since the last drain (0 if none).
    @discardableResult
    public static func drain(_ fd: Int32) -> UInt64 {
        var value: UInt64 = 0
        return shim_eventfd_read(fd, &value) == 1 ? value : 0
    }

    /// Sleeps until `fd` is readable or `milliseconds` pass (-1: forever); EINTR is retried.
    /// True when signalled. Does not drain.
    public static func wait(_ fd: Int32, milliseconds: Int32) -> Bool {
        while true {
            let n = shim_poll_in(fd, milliseconds)
            if n < 0 && shim_errno() == EINTR { continue }
            return n > 0
        }
    }

    /// Sleeps until `fd` (an interrupt), `shared` (the eventfd of a vector `fd`'s queue shares
    /// with others, `SharedInterruptVector`), `wake` (new work for a worker thread) or `alarm`
    /// (the device's removal request, `WaitLoop`'s alarm) is readable, or `milliseconds` pass.
    /// Returns whether `fd` or `shared` was signalled, whether `wake` was, and whether `alarm`
    /// was. Drains none; a nil descriptor is not watched (poll ignores negative ones).
    public static func wait(
        _ fd: Int32, shared: Int32?, orWakeUp wake: Int32?, orAlarm alarm: Int32?, milliseconds: Int32
    ) -> (signalled: Bool, wakeUp: Bool, alarm: Bool) {
        var fds = (
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: shared ?? -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake ?? -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: alarm ?? -1, events: Int16(POLLIN), revents: 0))
        while true {
            let n = withUnsafeMutableBytes(of: &fds) { raw in
                poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 4, milliseconds)
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return (false, false, false) }
            let readable = Int16(POLLIN)
            return ((fds.0.revents | fds.1.revents) & readable != 0, fds.2.revents & readable != 0, fds.3.revents & readable != 0)
        }
    }

    /// Whether `fd` is readable now, without sleeping.
    public static func isSignalled(_ fd: Int32) -> Bool { wait(fd, milliseconds: 0) }
}
