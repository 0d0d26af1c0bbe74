#if canImport(Glibc)
import Glibc
#endif

/// CLOCK_MONOTONIC in nanoseconds, for deadlines and submit timestamps.
///
/// `clock_gettime` through the vDSO costs ~20 ns, so the I/O path does not call it per command:
/// queue pairs stamp commands with a time refreshed once per wait-loop pass (see `QueuePair.now`).
public enum MonotonicClock {
    @inlinable
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// CLOCK_MONOTONIC_COARSE in nanoseconds: the time of the last scheduler tick, read from the
    /// vDSO's data page without touching a clock device, whatever the clocksource. Under an
    /// emulator whose clocksource is the HPET, `nanoseconds()` is a system call plus an emulated
    /// MMIO read (microseconds); this is a few loads. It never runs ahead of `nanoseconds()` and
    /// lags it by at most `coarseResolution`. For pacing idle work and for deadlines, not latency.
    @inlinable
    public static func coarseNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The coarse clock's step (one tick: 1 to 10 ms), from clock_getres(2); 10 ms if it fails.
    public static let coarseResolution: UInt64 = {
        var ts = timespec()
        guard clock_getres(CLOCK_MONOTONIC_COARSE, &ts) == 0 else { return 10_000_000 }
        return max(1, UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }()
}

/// A point in monotonic time after which a wait gives up.
@frozen
public struct Deadline: Sendable {
    public let nanoseconds: UInt64

    @inlinable
    public init(milliseconds: Int) {
        nanoseconds = MonotonicClock.nanoseconds() &+ UInt64(max(0, milliseconds)) &* 1_000_000
    }

    /// A deadline `milliseconds` after `coarseStart` (a `MonotonicClock.coarseNanoseconds()`
    /// reading), plus one coarse step so that it is never earlier than the precise-clock one:
    /// the wait ends at most one tick late, and starting it reads no clock device.
    @inlinable
    public init(milliseconds: Int, coarseStart: UInt64) {
        nanoseconds = coarseStart &+ MonotonicClock.coarseResolution &+ UInt64(max(0, milliseconds)) &* 1_000_000
    }

    @inlinable public var hasPassed: Bool { MonotonicClock.nanoseconds() >= nanoseconds }

    /// Milliseconds left, at least 0.
    @inlinable
    public var remainingMilliseconds: Int {
        let now = MonotonicClock.nanoseconds()
        return now >= nanoseconds ? 0 : Int((nanoseconds - now) / 1_000_000)
    }
}

/// The sleep between polls of a register or queue that is not ready yet: short at first (the
/// emulated device in stepped mode finishes in one `service()` call; real controllers in
/// microseconds), doubling to a cap so that a slow controller (CAP.TO is up to 127 s) does not
/// cost a spinning core.
@usableFromInline
struct Backoff {
    @usableFromInline var microseconds: UInt32
    @usableFromInline let cap: UInt32

    @inlinable
    init(startMicroseconds: UInt32 = 20, capMicroseconds: UInt32 = 10_000) {
        microseconds = startMicroseconds
        cap = capMicroseconds
    }

    /// Sleeps for the current interval, then doubles it up to the cap.
    @inlinable
    mutating func sleep() {
        _ = usleep(microseconds)
        microseconds = min(cap, microseconds &* 2)
    }

    /// The current interval in milliseconds, rounded up, for `poll(2)`-style waits.
    @inlinable
    mutating func nextMilliseconds() -> Int32 {
        let ms = Int32((microseconds + 999) / 1000)
        microseconds = min(cap, microseconds &* 2)
        return ms
    }
}
