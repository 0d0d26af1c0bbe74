#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC, for the deadlines of waits and bring-up steps (never read per packet: the
/// wait loops look at it once every many empty polls).
@usableFromInline
enum NICClock {
    @inlinable
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The monotonic time `milliseconds` from now.
    @inlinable
    static func deadline(milliseconds: Int) -> UInt64 {
        nanoseconds() &+ UInt64(max(0, milliseconds)) &* 1_000_000
    }

    /// Milliseconds left until `deadline`, at least 0.
    @inlinable
    static func remainingMilliseconds(until deadline: UInt64) -> Int {
        let now = nanoseconds()
        return now >= deadline ? 0 : Int((deadline - now) / 1_000_000)
    }
}
