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

import Synchronization

/// A `Mutex` whose hand-offs ThreadSanitizer can see.
///
/// A contended `Synchronization.Mutex` hands over through the kernel (PI futexes), which
/// ThreadSanitizer does not see, so it reports races that cannot happen. An acquire load and a
/// release add inside the critical section give TSan the ordering (docs/design-notes.md); none of
/// these locks is on the I/O path.
///
/// The same idea as `ControllerCore.withEngine` in the emulator.
public struct TSanVisibleMutex<Value: ~Copyable>: ~Copyable {
    private let mutex: Mutex<Value>
    private let handoff = Atomic<UInt64>(0)

    public init(_ initialValue: consuming sending Value) {
        mutex = Mutex(initialValue)
    }

    /// `Mutex.withLock`, with the hand-off made visible.
    public borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        try mutex.withLock { (value) throws(E) -> sending Result in
            _ = handoff.load(ordering: .acquiring)
            defer { handoff.add(1, ordering: .releasing) }
            return try body(&value)
        }
    }
}

// Like `Mutex`: the value only ever moves in and out with `sending`.
extension TSanVisibleMutex: @unchecked Sendable where Value: ~Copyable {}
