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

/// The one way this module makes a failing system call: errno is read at once (before anything
/// else can overwrite it), `EINTR` is retried, `EBADF` traps (a closed or wrong descriptor is a
/// bug in this code, not a condition to handle), and everything else is returned or thrown with
/// the operation's name. The pattern is swift-nio's `syscall` in `NIOPosix/System.swift`.
enum SystemCall {
    /// The result of a call that returns -1 with errno on failure.
    struct Outcome {
        let value: Int
        /// 0 on success.
        let errno: Int32
        var failed: Bool { errno != 0 }
    }

    /// Runs `call` until it does not fail with EINTR. Never throws: callers that turn some errnos
    /// into specific errors (EACCES, ENOENT, EBUSY) look at `errno` themselves.
    @inline(__always)
    static func attempt(_ operation: @autoclosure () -> String, _ call: () -> Int) -> Outcome {
        while true {
            let value = call()
            guard value < 0 else { return Outcome(value: value, errno: 0) }
            let e = shim_errno()
            if e == EINTR { continue }
            precondition(e != EBADF, "\(operation()): bad file descriptor")
            return Outcome(value: value, errno: e == 0 ? EIO : e)
        }
    }

    /// Runs `call` and throws `.system(operation:errno:)` when it fails.
    @inline(__always)
    @discardableResult
    static func run(_ operation: @autoclosure () -> String, _ call: () -> Int) throws(VFIOError) -> Int {
        let outcome = attempt(operation(), call)
        if outcome.failed { throw .system(operation: operation(), errno: outcome.errno) }
        return outcome.value
    }

    /// `ioctl(fd, request, arg)` with a pointer argument.
    static func ioctl(_ fd: Int32, _ request: UInt, _ name: @autoclosure () -> String,
                      _ arg: UnsafeMutableRawPointer) throws(VFIOError) -> Int {
        try run(name(), { Int(shim_ioctl_ptr(fd, request, arg)) })
    }

    enum Opened: ~Copyable {
        case opened(FileDescriptor)
        case failed(errno: Int32)
    }

    /// Opens `path` (close-on-exec). The caller interprets the errno (EACCES, ENOENT, EBUSY), since
    /// what each means depends on the file.
    static func open(_ path: String, flags: Int32) -> Opened {
        let outcome = attempt("open \(path)", { Int(Glibc.open(path, flags | O_CLOEXEC)) })
        if outcome.failed { return .failed(errno: outcome.errno) }
        return .opened(FileDescriptor(owning: Int32(outcome.value)))
    }
}
