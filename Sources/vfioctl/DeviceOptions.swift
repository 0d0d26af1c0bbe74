import ArgumentParser
import NVMe
import NVMeEmulator
import VFIO

/// Something to do with an open controller, whatever its device: the generic entry point that
/// lets one command body run on a real VFIO device or the emulated controller, specialised.
protocol ControllerJob {
    func run<Device: PCIFunction>(_ controller: Controller<Device>) throws
}

/// `--device` and the emulated controller's knobs, shared by every `nvme` subcommand.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "PCI address bound to vfio-pci, or `emulated`.")
    var device: String = "emulated"

    @Option(name: .customLong("emu-size"), help: "Emulated namespace size (e.g. 256M, 4G, 1T; sparse).")
    var emulatedSize: String = "1G"

    @Option(name: .customLong("emu-block-size"), help: "Emulated block size: 512 or 4096.")
    var emulatedBlockSize: Int = 512

    @Option(name: .customLong("emu-latency-us"), help: "Emulated per-command latency in microseconds.")
    var emulatedLatency: Int = 0

    @Option(name: .customLong("emu-queues"), help: "I/O queue pairs the emulated controller grants.")
    var emulatedQueues: Int = 16

    @Option(name: .customLong("emu-file"), help: "Back the emulated namespace with this sparse file, so data outlives the process (default: memory).")
    var emulatedFile: String?

    @Option(name: .customLong("emu-namespaces"), help: "Number of emulated namespaces.")
    var emulatedNamespaces: Int = 1

    @Option(name: .customLong("io-queues"), help: "I/O queue pairs to ask the controller for.")
    var ioQueues: Int = 4

    @Flag(name: .customLong("allow-noiommu"), help: "Allow VFIO no-IOMMU mode (unsafe: the device can DMA anywhere).")
    var allowNoIOMMU = false

    /// Opens the device, brings the controller up, runs the job and shuts the controller down.
    func withController(_ job: some ControllerJob) throws {
        if device == "emulated" {
            let size = try parseSize(emulatedSize, what: "--emu-size")
            guard emulatedBlockSize == 512 || emulatedBlockSize == 4096 else {
                throw ValidationFailure("--emu-block-size must be 512 or 4096, not \(emulatedBlockSize)")
            }
            guard size >= UInt64(emulatedBlockSize) else { throw ValidationFailure("--emu-size must hold at least one block") }
            guard emulatedLatency >= 0 else { throw ValidationFailure("--emu-latency-us must be 0 or more") }
            let namespaces = (0..<max(1, emulatedNamespaces)).map { i in
                EmulatedNamespace(
                    blockSize: emulatedBlockSize, capacityInBlocks: size / UInt64(emulatedBlockSize),
                    backing: emulatedFile.map { .sparseFile(path: i == 0 ? $0 : "\($0).\(i + 1)") } ?? .memory)
            }
            var configuration = EmulatedNVMeConfiguration(
                namespaces: namespaces,
                maxIOQueuePairs: emulatedQueues, msixVectors: emulatedQueues + 1,
                commandLatencyNanoseconds: UInt64(emulatedLatency) * 1000, mode: .threaded)
            if let problem = configuration.validationErrors().first { throw ValidationFailure("emulated controller: \(problem)") }
            configuration.mode = .threaded
            let emulated = try EmulatedNVMeController(configuration: configuration)
            defer { emulated.close() }
            try run(job, on: emulated)
        } else {
            let address = try PCIAddress(parsing: device)
            let real = try VFIODevice(address: address, options: VFIODevice.Options(allowNoIOMMU: allowNoIOMMU))
            try run(job, on: real)
        }
    }

    private func run<Device: PCIFunction>(_ job: some ControllerJob, on device: Device) throws {
        let controller = try Controller(device: device, options: ControllerOptions(ioQueuePairs: max(1, ioQueues)))
        do {
            try job.run(controller)
        } catch {
            try? controller.close()
            throw error
        }
        try controller.close()
    }
}

/// "512", "4k", "64K", "1M", "2G", "1T" → bytes.
func parseSize(_ text: String, what: String) throws -> UInt64 {
    let lower = text.lowercased()
    var digits = Substring(lower)
    var shift: UInt64 = 0
    if let last = digits.last, "kmgt".contains(last) {
        shift = ["k": 10, "m": 20, "g": 30, "t": 40][String(last)]!
        digits = digits.dropLast()
    } else if digits.hasSuffix("b") {
        digits = digits.dropLast()
    }
    guard let value = UInt64(digits), value > 0, value <= (UInt64.max >> shift) else {
        throw ValidationFailure("\(what) '\(text)' is not a size; use a number with an optional k, m, g or t suffix (e.g. 4k)")
    }
    return value << shift
}
