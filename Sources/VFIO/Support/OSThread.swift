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

/// A joinable POSIX thread running a closure: the home of a queue pair's worker, an emulated
/// device's engine or a tool's traffic loop. (No Foundation `Thread` in library targets.)
///
/// Dropping it joins the thread, so the closure never outlives its owner.
public struct OSThread: ~Copyable, Sendable {
    private let thread: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts the thread (`pthread_create`). Fails only when the system is out of threads; `name`
    /// says which in the error.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(VFIOError) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw .system(operation: "pthread_create for \(name)", errno: result)
        }
        thread = handle
    }

    /// Waits for the thread to return (`pthread_join`).
    public consuming func join() {
        _ = pthread_join(thread, nil)
        discard self
    }

    /// Lets the thread run on unowned (`pthread_detach`): for a thread that lives as long as the
    /// process, such as a tool's signal thread.
    public consuming func detach() {
        _ = pthread_detach(thread)
        discard self
    }

    deinit {
        _ = pthread_join(thread, nil)
    }
}

/// A started `OSThread` in a class, for a tool that keeps several in an array or hands one to
/// another thread (both need a copyable value); whoever holds it last joins it once.
public final class JoinableThread: @unchecked Sendable {
    private var thread: OSThread?
    public init(_ thread: consuming OSThread) { self.thread = consume thread }
    /// Waits for the thread to return; a second call returns at once.
    public func join() { thread.take()?.join() }
}
