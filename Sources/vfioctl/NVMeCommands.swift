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
import NVMeWorkload
import VFIO

/// `vfioctl nvme ...`: drive an NVMe controller from userspace.
struct NVMeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nvme",
        abstract: "Drive an NVMe controller through VFIO (or the emulated one).",
        subcommands: [Identify.self, Read.self, Write.self, Perf.self, Smart.self, Events.self, NamespaceCommand.self, Serve.self])
}

// MARK: - identify

struct Identify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Identify the controller and its namespaces.")
    @OptionGroup var target: DeviceOptions
    @Flag(help: "Print JSON.") var json = false

    struct Job: ControllerJob {
        let json: Bool
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            let id = c.identity
            let namespaces = c.namespaces
            let backend = vfioBackendDescription(of: c.device)
            if json {
                print(JSON.object([
                    ("device", .string(c.device.name)),
                    ("vfio_backend", .string(backend.kind)), ("vfio_backend_detail", .string(backend.summary)),
                    ("model", .string(id.modelNumber)), ("serial", .string(id.serialNumber)),
                    ("firmware", .string(id.firmwareRevision)), ("version", .string(c.version.description)),
                    ("vendor_id", .string(hex4(id.vendorID))), ("controller_id", .int(Int(id.controllerID))),
                    ("max_transfer_bytes", .int(c.maximumTransferBytes)), ("max_queue_entries", .int(Int(c.capabilities.maxQueueEntryCount))),
                    ("doorbell_stride_bytes", .int(c.capabilities.doorbellStrideBytes)),
                    ("io_queue_pairs", .int(c.grantedQueuePairs)), ("interrupt_vectors", .int(c.interruptVectors)),
                    ("volatile_write_cache", .bool(id.volatileWriteCachePresent)),
                    ("controller_memory_buffer", c.memoryBufferJSON), ("persistent_memory_region", .optional(c.persistentMemoryDescription)),
                    ("number_of_namespaces", .int(Int(id.numberOfNamespaces))),
                    ("namespaces", .array(namespaces.map { ns in
                        .object([("id", .int(Int(ns.id))), ("block_size", .int(ns.blockSize)),
                                 ("blocks", .uint(ns.blockCount)), ("bytes", .uint(ns.bytes))] + formatFields(ns))
                    })),
                ]).render())
                return
            }
            print("device:            \(c.device.name)")
            print("VFIO backend:      \(backend.summary)")
            print("model:             \(id.modelNumber)")
            print("serial:            \(id.serialNumber)")
            print("firmware:          \(id.firmwareRevision)")
            print("NVMe version:      \(c.version)")
            print("max transfer:      \(c.maximumTransferBytes) bytes (MDTS)")
            print("queues:            \(c.grantedQueuePairs) I/O pairs of \(c.ioQueueEntries) entries, MQES \(c.capabilities.maxQueueEntryCount), doorbell stride \(c.capabilities.doorbellStrideBytes) B")
            print("interrupts:        \(c.interruptVectors) MSI-X vectors")
            print("memory buffer:     \(c.memoryBufferDescription)")
            if let pmr = c.persistentMemoryDescription { print("persistent memory: \(pmr)") }
            print("write cache:       \(id.volatileWriteCachePresent ? "volatile, present" : "none")")
            print("namespaces:        \(id.numberOfNamespaces) supported, \(namespaces.count) active")
            for ns in namespaces {
                print("  nsid \(ns.id): \(ns.blockCount) blocks x \(ns.blockSize) B = \(humanBytes(ns.bytes))\(formatSummary(ns))")
            }
            for (id, reason) in c.unusableNamespaces.sorted(by: { $0.key < $1.key }) {
                print("  nsid \(id): unusable: \(reason)")
            }
        }
    }

    func run() throws { try reportingErrors { try target.withController(Job(json: json), images: .readOnly) } }
}

// MARK: - read / write

/// `--lba`, `--count`, `--namespace`, `--file`, shared by read and write.
struct TransferOptions: ParsableArguments {
    @Option(help: "First logical block.") var lba: UInt64
    @Option(help: "Number of logical blocks.") var count: Int
    @Option(name: .long, help: "Namespace id.") var namespace: UInt32 = 1
    @Option(help: "File to read data from (write) or to write data to (read); default stdin/stdout.") var file: String?

    /// Checks what can be checked before the device is opened.
    func check() throws {
        guard count >= 1 else { throw ValidationFailure("--count \(count): give 1 or more blocks") }
    }
}

struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Read blocks to stdout or a file.")
    @OptionGroup var target: DeviceOptions
    @OptionGroup var transfer: TransferOptions
    @OptionGroup var metadata: MetadataOptions

    struct Job: ControllerJob {
        let t: TransferOptions
        let m: MetadataOptions
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            let ns = try c.namespace(t.namespace)
            try ns.info.check(lba: t.lba, blocks: t.count)
            let plan = try MetadataTransfer(ns, options: m)
            let metadataFile = try m.openFile(forWriting: true)
            defer { if let metadataFile { close(metadataFile) } }
            let out: Int32
            if let file = t.file {
                out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard out >= 0 else { throw ValidationFailure("cannot create \(file): \(VFIOError.errnoText(errno))") }
            } else {
                out = 1
            }
            defer { if out != 1 { close(out) } }
            if ns.info.metadataSize > 0 {
                return try plan.read(
                    lba: t.lba, count: t.count, to: out, name: t.file ?? "stdout", metadataFile: metadataFile, metadataName: m.metadata ?? "")
            }
            try forEachChunk(ns, lba: t.lba, count: t.count) { lba, blocks, slice in
                try ns.read(lba: lba, blocks: blocks, into: slice)
                try writeAll(out, slice.bytes, to: t.file ?? "stdout")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            try transfer.check()
            try target.withController(Job(t: transfer, m: metadata), images: .readOnly)
        }
    }
}

struct Write: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write blocks from stdin or a file.")
    @OptionGroup var target: DeviceOptions
    @OptionGroup var transfer: TransferOptions
    @OptionGroup var metadata: MetadataOptions

    struct Job: ControllerJob {
        let t: TransferOptions
        let m: MetadataOptions
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            let ns = try c.namespace(t.namespace)
            try ns.info.check(lba: t.lba, blocks: t.count)
            let plan = try MetadataTransfer(ns, options: m)
            let metadataFile = try m.openFile(forWriting: false)
            defer { if let metadataFile { close(metadataFile) } }
            let needed = UInt64(t.count) * UInt64(ns.blockSize)
            let input: Int32
            if let file = t.file {
                input = open(file, O_RDONLY | O_CLOEXEC)
                guard input >= 0 else { throw ValidationFailure("cannot open \(file): \(VFIOError.errnoText(errno))") }
                var st = stat()
                if fstat(input, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, UInt64(st.st_size) < needed {
                    close(input)
                    throw ValidationFailure("\(file) is too short: \(st.st_size) bytes, \(t.count) blocks of \(ns.blockSize) B need \(needed); nothing was written")
                }
            } else {
                input = 0
            }
            defer { if input != 0 { close(input) } }
            if ns.info.metadataSize > 0 {
                return try plan.write(
                    lba: t.lba, count: t.count, from: input, name: t.file ?? "stdin", metadataFile: metadataFile, metadataName: m.metadata ?? "")
            }
            try forEachChunk(ns, lba: t.lba, count: t.count) { lba, blocks, slice in
                let got = try readFully(input, slice.bytes)
                guard got == slice.length else {
                    throw ValidationFailure("\(t.file ?? "stdin") ended after \(lba - t.lba) blocks and \(got) bytes; \(needed) bytes were needed (earlier blocks were written)")
                }
                try ns.write(lba: lba, blocks: blocks, from: slice)
            }
        }
    }

    func run() throws {
        try reportingErrors {
            try transfer.check()
            try target.withController(Job(t: transfer, m: metadata))
        }
    }
}

/// Moves `count` blocks at `lba` through one DMA buffer of up to 1 MiB.
func forEachChunk<Device: PCIFunction>(
    _ ns: Namespace<Device>, lba: UInt64, count: Int, _ body: (UInt64, Int, DMASlice) throws -> Void
) throws {
    let chunkBlocks = max(1, min(count, (1 << 20) / ns.blockSize))
    let buffer = try ns.controller.device.dma.allocate(length: chunkBlocks * ns.blockSize)
    var done = 0
    while done < count {
        let blocks = min(chunkBlocks, count - done)
        try body(lba + UInt64(done), blocks, buffer.slice(offset: 0, length: blocks * ns.blockSize))
        done += blocks
    }
}

func writeAll(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer, to name: String) throws {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw ValidationFailure("writing \(name) failed: \(VFIOError.errnoText(errno))") }
        offset += n
    }
}

func readFully(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer) throws -> Int {
    var offset = 0
    while offset < bytes.count {
        let n = read(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw ValidationFailure("reading input failed: \(VFIOError.errnoText(errno))") }
        if n == 0 { break }
        offset += n
    }
    return offset
}

// MARK: - smart

struct Smart: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the SMART / health log.")
    @OptionGroup var target: DeviceOptions
    @Flag(help: "Print JSON.") var json = false

    struct Job: ControllerJob {
        let json: Bool
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            let log = try c.smartHealthLog()
            let fields: [(String, JSON, String)] = [
                ("critical_warning", .int(Int(log.criticalWarning.rawValue)), "0x" + String(log.criticalWarning.rawValue, radix: 16)),
                ("temperature_kelvin", .int(Int(log.compositeTemperature)), "\(log.compositeTemperature) K (\(Int(log.compositeTemperature) - 273) °C)"),
                ("available_spare_percent", .int(Int(log.availableSpare)), "\(log.availableSpare) %"),
                ("available_spare_threshold_percent", .int(Int(log.availableSpareThreshold)), "\(log.availableSpareThreshold) %"),
                ("percentage_used", .int(Int(log.percentageUsed)), "\(log.percentageUsed) %"),
                ("data_units_read", .uint(log.dataUnitsRead.saturatingUInt64), "\(log.dataUnitsRead.saturatingUInt64) (x 512000 B)"),
                ("data_units_written", .uint(log.dataUnitsWritten.saturatingUInt64), "\(log.dataUnitsWritten.saturatingUInt64) (x 512000 B)"),
                ("host_read_commands", .uint(log.hostReadCommands.saturatingUInt64), "\(log.hostReadCommands.saturatingUInt64)"),
                ("host_write_commands", .uint(log.hostWriteCommands.saturatingUInt64), "\(log.hostWriteCommands.saturatingUInt64)"),
                ("power_cycles", .uint(log.powerCycles.saturatingUInt64), "\(log.powerCycles.saturatingUInt64)"),
                ("power_on_hours", .uint(log.powerOnHours.saturatingUInt64), "\(log.powerOnHours.saturatingUInt64)"),
                ("unsafe_shutdowns", .uint(log.unsafeShutdowns.saturatingUInt64), "\(log.unsafeShutdowns.saturatingUInt64)"),
                ("media_errors", .uint(log.mediaErrors.saturatingUInt64), "\(log.mediaErrors.saturatingUInt64)"),
                ("error_log_entries", .uint(log.numberOfErrorLogEntries.saturatingUInt64), "\(log.numberOfErrorLogEntries.saturatingUInt64)"),
            ]
            if json {
                print(JSON.object(fields.map { ($0.0, $0.1) }).render())
            } else {
                for (name, _, text) in fields { print(name.replacingUnderscores().padded(34) + text) }
            }
        }
    }

    func run() throws { try reportingErrors { try target.withController(Job(json: json), images: .readOnly) } }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? " " : $0 }) }
    func padded(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}

func humanBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format1(value)) + " " + units[unit]
}

/// One decimal, without Foundation's String(format:). Never traps: a value beyond Int's range
/// (`--time 1e308s`) or not finite is printed as Swift prints the Double; a negative one keeps its sign.
func format1(_ v: Double) -> String {
    let scaled = (v * 10).rounded()
    guard scaled.magnitude < 1e18 else { return "\(v)" }
    let tenths = Int(scaled)
    return "\(tenths < 0 ? "-" : "")\(tenths.magnitude / 10).\(tenths.magnitude % 10)"
}
