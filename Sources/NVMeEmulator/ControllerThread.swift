import CShims
import Synchronization
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// The engine, its BAR memory and the stop flag: what the controller thread shares with the
/// controller object. The BAR is unmapped when the last of the two lets go, so the thread can
/// never touch freed register memory.
final class ControllerCore: Sendable {
    let engine: Mutex<ControllerEngine>
    let bar: MMIORegion
    let stopRequested = Atomic<Bool>(false)
    /// Makes the lock's ordering visible to ThreadSanitizer. Under contention `Mutex` on Linux
    /// hands over through the kernel (FUTEX_LOCK_PI / FUTEX_UNLOCK_PI), where ThreadSanitizer sees
    /// no acquire or release, and reports the engine's accesses as races. An acquire load on entry
    /// and a release add on exit, both inside the critical section, chain each holder to the next.
    private let handoff = Atomic<UInt64>(0)

    init(engine: consuming sending ControllerEngine, bar: MMIORegion) {
        self.engine = Mutex(engine)
        self.bar = bar
    }

    deinit { _ = shim_munmap(bar.base, bar.length) }

    /// Runs `body` with the engine locked. Everything that touches the engine goes through here.
    func withEngine<R: Sendable>(_ body: (inout ControllerEngine) -> R) -> R {
        engine.withLock { engine in
            _ = handoff.load(ordering: .acquiring)
            defer { handoff.add(1, ordering: .releasing) }
            return body(&engine)
        }
    }

    /// The controller thread's loop: step while there is work. When idle, keep stepping with the
    /// pause hint for 20 ms (a doorbell usually follows soon, and on a loaded machine a thread that
    /// sleeps waits for the scheduler: measured here, a 1 ms spin gave 2 ms round trips under load,
    /// a long spin 0.4 ms), then sleep in steps that grow with the idle time: 20 µs up to 200 ms,
    /// 200 µs up to 2 s, then 1 ms, so an idle emulator costs almost no CPU. Something waiting on time (latency, a delay, coalescing) keeps sleeps at 10 µs.
    func run() {
        var lastWork = MonotonicClock.now()
        while !stopRequested.load(ordering: .acquiring) {
            let result = withEngine { $0.step() }
            let now = MonotonicClock.now()
            if result.worked {
                lastWork = now
                continue
            }
            let idle = now - lastWork
            if idle < 20_000_000 {
                shim_cpu_pause()
                continue
            }
            let micros = result.waitingOnTime ? 10 : idle < 200_000_000 ? 20 : idle < 2_000_000_000 ? 200 : 1000
            var ts = timespec(tv_sec: 0, tv_nsec: micros * 1000)
            nanosleep(&ts, nil)
        }
    }
}

/// A started controller thread; dropping it asks the thread to finish and joins it.
struct ControllerThread: ~Copyable {
    private let thread: pthread_t
    private let core: ControllerCore

    init(core: ControllerCore) throws(EmulatorError) {
        self.core = core
        let context = Unmanaged.passRetained(core).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            let core = Unmanaged<ControllerCore>.fromOpaque(context!).takeRetainedValue()
            core.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ControllerCore>.fromOpaque(context).release()
            throw .threadStart(errno: rc)
        }
        self.thread = thread
    }

    deinit {
        core.stopRequested.store(true, ordering: .releasing)
        pthread_join(thread, nil)
    }
}
