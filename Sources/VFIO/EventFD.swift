import CShims
#if canImport(Glibc)
import Glibc
#endif

/// An owned eventfd: the kernel (or the emulated device) adds to its counter when an interrupt
/// fires, and a waiter sleeps in `poll`/`epoll` until it is non-zero. Non-blocking, so draining
/// never sleeps.
public struct EventFD: ~Copyable, Sendable {
    public let descriptor: FileDescriptor

    public init() throws(VFIOError) {
        let fd = shim_eventfd(0, 1)
        guard fd >= 0 else { throw .system(operation: "eventfd", errno: shim_errno()) }
        descriptor = FileDescriptor(owning: fd)
    }

    @inlinable public var rawValue: Int32 { descriptor.rawValue }

    /// Adds one to the counter, waking a waiter (what an interrupt does).
    public func signal() { _ = shim_eventfd_signal(descriptor.rawValue) }

    /// Reads and resets the counter: the number of signals since the last drain (0 if none).
    @discardableResult
    public func drain() -> UInt64 {
        var value: UInt64 = 0
        return shim_eventfd_read(descriptor.rawValue, &value) == 1 ? value : 0
    }

    /// Sleeps until signalled or `timeoutMilliseconds` pass (-1: forever). True when signalled.
    /// Does not drain.
    public func wait(timeoutMilliseconds: Int32) -> Bool {
        while true {
            let n = shim_poll_in(descriptor.rawValue, timeoutMilliseconds)
            if n < 0 && shim_errno() == EINTR { continue }
            return n > 0
        }
    }
}
