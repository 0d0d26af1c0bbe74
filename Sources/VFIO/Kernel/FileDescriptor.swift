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

/// An owned file descriptor: closed exactly once, in `deinit`.
public struct FileDescriptor: ~Copyable, Sendable {
    public let rawValue: Int32

    public init(owning rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path`, translating the errors users hit into ones that name the fix.
    public static func open(_ path: String, flags: Int32) throws(VFIOError) -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            switch e {
            case EACCES, EPERM: throw .permissionDenied(path: path)
            case ENOENT where path == "/dev/vfio/vfio": throw .vfioNotLoaded
            default: throw .system(operation: "open \(path)", errno: e)
            }
        }
        return FileDescriptor(owning: fd)
    }

    /// Gives up ownership without closing: the caller closes the descriptor itself, e.g. in a
    /// class `deinit` that must close it before releasing what it depends on.
    public consuming func relinquishOwnership() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    deinit { _ = Glibc.close(rawValue) }
}
