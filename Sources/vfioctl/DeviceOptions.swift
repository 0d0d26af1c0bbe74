//===----------------------------------------------------------------------===//
//
// This source file is part of the swift-vfio open source project
//
// Copyright (c) 2026 the swift-vfio project authors
// Licensed under Apache License v2.0
//
// See LICENSE.txt for license information
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
import Glibc
#endif
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

    @Option(name: .customLong("emu-size"), help: "Emulated namespace size (e.g. 256M, 4G, 1T; sparse; default 1G). An existing --emu-file keeps its own size.")
    var emulatedSize: String?

    @Option(name: .customLong("emu-block-size"), help: "Emulated block size: 512 or 4096.")
    var emulatedBlockSize: Int = 512

    @Option(name: .customLong("emu-latency-us"), help: "Emulated per-command latency in microseconds.")
    var emulatedLatency: Int = 0

    @Option(name: .customLong("emu-queues"), help: "I/O queue pairs the emulated controller grants.")
    var emulatedQueues: Int = 16

    @Option(name: .customLong("emu-file"), help: "Back the emulated namespace with this sparse image file, so data outlives the process (created if missing; an existing image keeps its size; default: memory).")
    var emulatedFile: String?

    @Option(name: .customLong("emu-format"), help: "Emulated namespaces' metadata and protection, as QEMU's nvme-ns names them: ms=0|8|16|64, mset=0|1, pi=0...3, pil=0|1, pif=0|2 (e.g. ms=8,mset=1,pi=1).")
    var emulatedFormat: String?

    @Option(name: .customLong("emu-namespaces"), help: "Number of emulated namespaces (the second uses FILE.2, and so on).")
    var emulatedNamespaces: Int = 1

    @Option(name: .customLong("emu-detached"), help: "Emulated namespace (NSID) that starts detached from the controller, like QEMU's detached=on; attach it with nvme ns attach.")
    var emulatedDetached: [UInt32] = []

    @Option(name: .customLong("emu-mdts"), help: "Emulated MDTS, as QEMU's nvme mdts=: at most 2^N 4 KiB pages per command, 0...9 (default 5: 128 KiB; 2: 16 KiB).")
    var emulatedMDTS: UInt8 = 5

    @Option(name: .customLong("emu-noiob"), help: "Emulated namespaces' optimal I/O boundary (NOIOB) in blocks, 0...65535 (default 0: none).")
    var emulatedNOIOB: UInt16 = 0

    @Option(name: .customLong("io-queues"), help: "I/O queue pairs to ask the controller for (default 4; perf asks for at least what --queues needs).")
    var ioQueues: Int?

    @Flag(name: .customLong("allow-noiommu"), help: "Allow VFIO no-IOMMU mode (unsafe: the device can DMA anywhere).")
    var allowNoIOMMU = false

    @Option(name: .customLong("vfio-backend"), help: "VFIO backend: automatic (iommufd with the device cdev when the kernel offers them, else the container), container or iommufd.")
    var vfioBackend: VFIOBackendPreference = .automatic

    /// How a command uses the emulated namespaces' image files: `identify`, `read` and `smart`
    /// open them read-only, so a read-only image serves them.
    enum ImageAccess { case readOnly, readWrite }

    /// I/O queue pairs a command needs, and the options that need them, for the message when
    /// `--io-queues` asks for fewer.
    struct QueueNeed {
        var pairs: Int
        var reason: String
    }

    /// Opens the device, brings the controller up, runs the job and shuts the controller down.
    func withController(_ job: some ControllerJob, images: ImageAccess = .readWrite, needs: QueueNeed? = nil) throws {
        if let ioQueues, ioQueues < 1 { throw ValidationFailure("--io-queues \(ioQueues): ask for 1 or more I/O queue pairs") }
        if let ioQueues, let needs, ioQueues < needs.pairs {
            throw ValidationFailure("--io-queues \(ioQueues) is fewer than the \(needs.pairs) I/O queue pairs \(needs.reason) needs; raise it or leave it out")
        }
        let options = ControllerOptions(ioQueuePairs: max(ioQueues ?? 4, needs?.pairs ?? 1), logger: toolLogger("swift-vfio.nvme"))
        if device == "emulated" {
            let emulated = try EmulatedNVMeController(configuration: try emulatedConfiguration(images: images))
            defer { emulated.close() }
            for nsid in emulatedDetached { emulated.setNamespaceAttached(nsid, false, notify: false) }
            try run(job, on: emulated, options: options)
        } else {
            let address = try PCIAddress(parsing: device)
            let real = try VFIODevice(address: address, options: VFIODevice.Options(allowNoIOMMU: allowNoIOMMU, vfioBackend: vfioBackend, logger: toolLogger("swift-vfio.vfio")))
            try run(job, on: real, options: options)
        }
    }

    /// The emulated controller the `--emu-*` options describe, checked before anything is created.
    func emulatedConfiguration(images: ImageAccess) throws -> EmulatedNVMeConfiguration {
        guard emulatedBlockSize == 512 || emulatedBlockSize == 4096 else {
            throw ValidationFailure("--emu-block-size must be 512 or 4096, not \(emulatedBlockSize)")
        }
        let blockSize = UInt64(emulatedBlockSize)
        let requested = try emulatedSize.map { try parseSize($0, what: "--emu-size") }
        if let requested {
            guard requested >= blockSize else {
                throw ValidationFailure("--emu-size \(emulatedSize ?? "") is too small: the namespace must hold at least one block of \(blockSize) bytes")
            }
            guard requested <= EmulatedImage.largestSize else {
                throw ValidationFailure("--emu-size \(emulatedSize ?? "") is too large: at most \(EmulatedImage.largestSize >> 40)T")
            }
        }
        guard (0...10_000_000).contains(emulatedLatency) else {
            throw ValidationFailure("--emu-latency-us \(emulatedLatency) is out of range: 0...10000000 (10 s)")
        }
        guard (1...64).contains(emulatedNamespaces) else {
            throw ValidationFailure("--emu-namespaces \(emulatedNamespaces) is out of range: 1...64")
        }
        for nsid in emulatedDetached where nsid < 1 || nsid > UInt32(emulatedNamespaces) {
            throw ValidationFailure("--emu-detached \(nsid) is not an emulated namespace: give an NSID in 1...\(emulatedNamespaces) (see --emu-namespaces)")
        }
        guard (1...2047).contains(emulatedQueues) else {
            throw ValidationFailure("--emu-queues \(emulatedQueues) is out of range: 1...2047")
        }
        // 0 (no limit) is QEMU's too; the driver then caps a command at one PRP list page (2 MiB).
        guard emulatedMDTS <= 9 else {
            throw ValidationFailure("--emu-mdts \(emulatedMDTS) is out of range: 0...9 (2^N pages of 4 KiB; 0: no limit)")
        }
        var namespaces = try (0..<emulatedNamespaces).map { i in
            guard let file = emulatedFile else {
                return EmulatedNamespace(blockSize: emulatedBlockSize, capacityInBlocks: (requested ?? 1 << 30) / blockSize)
            }
            let image = try EmulatedImage(path: i == 0 ? file : "\(file).\(i + 1)", requestedSize: requested, sizeOption: emulatedSize,
                                          blockSize: blockSize, readOnly: images == .readOnly)
            return EmulatedNamespace(blockSize: emulatedBlockSize, capacityInBlocks: image.size / blockSize,
                                     backing: .sparseFile(path: image.path, readOnly: images == .readOnly))
        }
        if let emulatedFormat {
            for i in namespaces.indices { try parseEmulatedFormat(emulatedFormat, into: &namespaces[i]) }
        }
        for i in namespaces.indices { namespaces[i].optimalIOBoundary = emulatedNOIOB }
        let configuration = EmulatedNVMeConfiguration(
            namespaces: namespaces, maxDataTransferSize: emulatedMDTS,
            maxIOQueuePairs: emulatedQueues, msixVectors: emulatedQueues + 1,
            commandLatencyNanoseconds: UInt64(emulatedLatency) * 1000, mode: .threaded)
        if let problem = configuration.validationErrors().first { throw ValidationFailure("emulated controller: \(problem)") }
        var faulty = configuration
        if let n = emulatedRemovalAfter() {
            faulty.faultPlan.rules.append(FaultRule(queue: .anyIO, trigger: .nth(n + 1), action: .surpriseRemoval, limit: 1))
        }
        return faulty
    }

    private func run<Device: PCIFunction>(_ job: some ControllerJob, on device: Device, options: ControllerOptions) throws {
        let controller = try Controller(device: device, options: options)
        do {
            try job.run(controller)
        } catch {
            try? controller.close()
            throw error
        }
        try controller.close()
    }
}

extension VFIOBackendPreference: ExpressibleByArgument {}

/// The VFIO backend a device is driven through, for `identify` and `net info`: its kind and a
/// one-line summary, or "emulated".
func vfioBackendDescription(of device: some PCIFunction) -> (kind: String, summary: String) {
    guard let real = device as? VFIODevice else { return ("emulated", "emulated device (no VFIO)") }
    return (real.backend.kind.rawValue, real.backend.summary)
}

/// An `--emu-file` image: an existing one is the namespace, so it keeps its size (a conflicting
/// `--emu-size` is an error, never a resize); a missing or empty one is created at `--emu-size`.
struct EmulatedImage {
    /// The largest namespace: its byte size must fit in `off_t` for the backing file.
    static let largestSize = UInt64(Int64.max) & ~UInt64(4095)

    let path: String
    let size: UInt64

    init(path: String, requestedSize: UInt64?, sizeOption: String?, blockSize: UInt64, readOnly: Bool) throws {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else {
            guard errno == ENOENT else { throw ValidationFailure("cannot open \(path): \(VFIOError.errnoText(errno))") }
            if readOnly {
                throw ValidationFailure("\(path) does not exist; create it first with nvme write (or give --emu-size with a writing command)")
            }
            size = requestedSize ?? 1 << 30
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ValidationFailure("\(path) is not a regular file; give --emu-file a path to an image file")
        }
        if !readOnly, access(path, W_OK) != 0 {
            throw ValidationFailure("\(path) is read-only (\(VFIOError.errnoText(errno))): nvme identify, read and smart open it read-only, the other commands need write access; make it writable (chmod u+w; chattr -i if immutable) or use another file")
        }
        let existing = UInt64(max(0, st.st_size))
        guard existing > 0 else {
            // An empty file (from touch or mktemp) has no size to keep: it is created at --emu-size.
            if readOnly { throw ValidationFailure("\(path) is empty; write to it first (nvme write) so it has a size") }
            size = requestedSize ?? 1 << 30
            return
        }
        if let requestedSize, requestedSize != existing {
            throw ValidationFailure("--emu-size \(sizeOption ?? "") conflicts with \(path), which is \(existing) bytes (\(humanBytes(existing))): an existing image keeps its size; leave out --emu-size or use another file")
        }
        guard existing % blockSize == 0 else {
            let fix = existing % 512 == 0 ? "give --emu-block-size 512 or use another file" : "use another file (an image is whole 512-byte blocks)"
            throw ValidationFailure("\(path) is \(existing) bytes, not a multiple of the \(blockSize)-byte block size; \(fix)")
        }
        guard existing <= Self.largestSize else {
            throw ValidationFailure("\(path) is \(existing) bytes, more than the emulated namespace can hold")
        }
        size = existing
    }
}

/// "0", "512", "4k", "64K", "1M", "2G", "1T" → bytes. Zero parses; each caller says what is too
/// small for it.
func parseSize(_ text: String, what: String) throws -> UInt64 {
    let lower = text.lowercased()
    var digits = Substring(lower)
    var shift: UInt64 = 0
    if let last = digits.last, let unit = "kmgt".firstIndex(of: last) {
        shift = 10 * UInt64("kmgt".distance(from: "kmgt".startIndex, to: unit) + 1)
        digits = digits.dropLast()
    } else if digits.hasSuffix("b") {
        digits = digits.dropLast()
    }
    guard let value = UInt64(digits) else {
        throw ValidationFailure("\(what) '\(text)' is not a size; use a number with an optional k, m, g or t suffix (e.g. 4k)")
    }
    guard value <= (UInt64.max >> shift) else { throw ValidationFailure("\(what) \(text) is too large") }
    return value << shift
}

/// "10s", "500ms", "2m", "3" (seconds) → seconds, greater than 0 and finite.
func parseDuration(_ text: String, what: String) throws -> Double {
    var value: Double?
    for (suffix, scale) in [("ms", 0.001), ("s", 1), ("m", 60)] as [(String, Double)] where text.hasSuffix(suffix) {
        value = Double(text.dropLast(suffix.count)).map { $0 * scale }
        break
    }
    guard let seconds = value ?? Double(text), seconds.isFinite else {
        throw ValidationFailure("\(what) '\(text)' is not a duration; use e.g. 10s, 500ms or 1m")
    }
    guard seconds > 0 else { throw ValidationFailure("\(what) \(text) is too short; give a duration greater than 0, e.g. 10s") }
    return seconds
}

/// A test hook, not an option: `VFIOCTL_EMU_REMOVE_AFTER=N` makes the emulated device leave the
/// bus (with the request interrupt) when it fetches its I/O command (NVMe) or frame (NIC) N + 1,
/// so the tests of the built binary can remove a device during a run.
func emulatedRemovalAfter() -> Int? {
    guard let raw = getenv("VFIOCTL_EMU_REMOVE_AFTER"), let n = Int(String(cString: raw)), n >= 0 else { return nil }
    return n
}
