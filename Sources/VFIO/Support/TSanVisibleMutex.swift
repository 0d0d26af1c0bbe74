import Synchronization

/// A `Mutex` whose hand-offs ThreadSanitizer can see.
///
/// On Linux, a contended `Synchronization.Mutex` passes the lock through the kernel
/// (`FUTEX_LOCK_PI`/`FUTEX_UNLOCK_PI`), which ThreadSanitizer does not intercept: it sees two
/// threads touch the protected value with no ordering between them and reports a race that cannot
/// happen (measured here: `admin.withLock` bodies on two threads, reported as a "Swift access
/// race"). An acquire load on entry and a release add on exit, both inside the critical section,
/// chain each holder to the next in terms TSan understands (atomics). The cost is one atomic add
/// per critical section; none of these locks is on the I/O path.
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
