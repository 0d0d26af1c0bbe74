// INTERIM: the pthread wrapper and clock that used to be ControllerThread/DeviceThread and the
// emulators' MonotonicClock copies, kept here only until the support layer (OSThread,
// MonotonicClock in VFIO/Support) lands; then this file is deleted.
import VFIO
#if canImport(Glibc)
import Glibc
#endif

enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

struct OSThread: ~Copyable, Sendable {
    private let thread: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    init(name: String, _ body: @escaping @Sendable () -> Void) throws(VFIOError) {
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

    deinit { _ = pthread_join(thread, nil) }
}
