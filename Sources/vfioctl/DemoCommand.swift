import ArgumentParser
import NVMe
import NVMeWorkload
import VFIO

/// `vfioctl demo`: the README's first command. Identify, a verified write and read-back, and a
/// short perf run in each completion mode, on the emulated controller unless a device is given.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Identify, a verified write/read, and a short perf run in each completion mode.")
    @OptionGroup var target: DeviceOptions
    @Option(help: "Seconds per perf run.") var seconds: Double = 2

    struct Job: ControllerJob {
        let seconds: Double
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            try Identify.Job(json: false).run(c)
            guard let info = c.namespaces.first else { throw ValidationFailure("the controller has no usable namespace") }
            let ns = try c.namespace(info.id)

            // A verified write and read-back of 1 MiB (or the namespace, if smaller), crossing PRP lists.
            let blocks = Int(min(UInt64((1 << 20) / ns.blockSize), ns.blockCount))
            let bytes = blocks * ns.blockSize
            let out = try c.device.dma.allocate(length: bytes)
            let back = try c.device.dma.allocate(length: bytes)
            DataPattern.fill(out.bytes, lba: 0, blockSize: ns.blockSize, blocks: blocks, seed: 42)
            try ns.write(lba: 0, blocks: blocks, from: out.whole)
            try ns.read(lba: 0, blocks: blocks, into: back.whole)
            guard DataPattern.firstMismatch(UnsafeRawBufferPointer(back.bytes), lba: 0, blockSize: ns.blockSize, blocks: blocks, seed: 42) == nil else {
                throw ValidationFailure("write/read-back mismatch on namespace \(ns.id): data corrupted")
            }
            print("\nwrite + read-back: \(bytes) bytes at LBA 0 of namespace \(ns.id), every byte verified")

            let runner = WorkloadRunner(controller: c)
            for mode in [CompletionMode.poll, .interrupt, .hybrid] where !mode.usesInterrupts || c.interruptVectors > 0 {
                let spec = WorkloadSpec(pattern: .randread, blockSize: 4096 / ns.blockSize * ns.blockSize, queueDepth: min(32, c.ioQueueEntries - 1),
                                        queuePairs: 1, seconds: seconds, mode: mode, verify: true, namespaceID: ns.id,
                                        workingSetBytes: min(ns.info.bytes, 16 << 20))
                let r = try runner.run(spec)
                print("perf randread 4k qd\(spec.queueDepth) \(mode.description.padded(9)): \(Int(r.iops.rounded())) IOPS, p50 \(micro(r.latencyP50)) µs, p99 \(micro(r.latencyP99)) µs, driver CPU \(Int(r.driverCPUPerIO.rounded())) ns/I/O, \(r.verifiedBytes >> 20) MiB verified")
            }
        }
    }

    func run() throws { try reportingErrors { try target.withController(Job(seconds: seconds)) } }
}
