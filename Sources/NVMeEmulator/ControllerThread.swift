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

    init(engine: consuming sending ControllerEngine, bar: MMIORegion) {
        self.engine = Mutex(engine)
        self.bar = bar
    }

    deinit { _ = shim_munmap(bar.base, bar.length) }

    /// The controller thread's loop: step while there is work; when idle, spin with the pause
    /// hint a little (a doorbell usually follows soon), then sleep in growing steps up to 200 µs
    /// so an idle emulator leaves the CPU to the driver. Something waiting on time (latency,
    /// coalescing) keeps the sleeps short.
    func run() {
        var idle = 0
        while !stopRequested.load(ordering: .acquiring) {
            let result = engine.withLock { $0.step() }
            if result.worked {
                idle = 0
                continue
            }
            idle += 1
            if idle < 2000 {
                shim_cpu_pause()
                continue
            }
            let micros = result.waitingOnTime ? 10 : min(200, 10 << min((idle - 2000) / 100, 5))
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
