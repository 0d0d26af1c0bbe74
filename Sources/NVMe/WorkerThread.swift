#if canImport(Glibc)
import Glibc
#endif

/// A joinable POSIX thread running a closure: the home of one queue pair in the async API.
/// (No Foundation `Thread` in library targets.)
public struct WorkerThread: ~Copyable, Sendable {
    private let thread: pthread_t

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts the thread. Fails only when the system is out of threads.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(NVMeError) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw .vfio(.system(operation: "pthread_create for \(name)", errno: result))
        }
        thread = handle
    }

    /// Waits for the thread to return.
    public consuming func join() {
        _ = pthread_join(thread, nil)
        discard self
    }

    deinit {
        _ = pthread_join(thread, nil)
    }
}
