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
import DriverScenarios
import Logging
import NVMe
import VFIO

/// Issue 17 against QEMU's controller behind a hotplug-capable root port (the hotplug boot,
/// scripts/hil/hotplug.sh). Run only when named (`--check`): they need the host to unplug and
/// re-add the function around them.
///
/// `nvme-hot-remove-writer` writes a known pattern until the function is taken away, then
/// releases it and leaves the list of writes the device acknowledged; after the re-add,
/// `nvme-acknowledged-writes-readable` reads each of them back through the kernel's nvme driver.
/// Environment: HIL_HOTPLUG_MODE (poll, interrupt, hybrid), HIL_HOTPLUG_READY (a file created
/// once I/O runs: the guest then asks the host for device_del), HIL_HOTPLUG_ACKED (the list),
/// HIL_HOTPLUG_BLOCK (the kernel's block device, for the read-back), HIL_HOTPLUG_SECONDS (how
/// long the writer waits for the removal, 120 by default).
let hotRemoveChecks: [HILCheck] = [
    HILCheck("nvme-hot-remove-writer", "writes a pattern at queue depth 8 until the function is removed; the wait ends with deviceRemoved, the function is released, the acknowledged writes are listed") { context in
        let setup = try HotRemoveSetup(context.environment)
        var writer = HotRemoveWriter()
        do {
            let device = try context.openDevice()
            let options = ControllerOptions(ioQueuePairs: 1, ioQueueEntries: 32, logger: Logger(label: "vfio-hil.hot-remove"))
            let controller = try Controller(device: device, options: options)
            try writer.run(controller, setup)
            // Releasing: the pair went with `run`; close quiesces (or finds the function gone)
            // and the device's descriptors close as it goes out of scope, which lets the
            // kernel finish the removal.
            try? controller.close()
        }
        let released = HotRemoveClock.uptime()
        try writer.writeList(setup)
        resultInfo("\(setup.mode): \(writer.acknowledged.count) writes acknowledged before the removal; deviceRemoved at uptime \(format(writer.failedAt)) s, released at \(format(released)) s (\(Int(((released - writer.failedAt) * 1000).rounded())) ms later)")
        try expect(writer.error == .deviceRemoved, "the writer ended with \(writer.error.map { "\($0)" } ?? "no error") instead of deviceRemoved")
        try expect(!writer.acknowledged.isEmpty, "no write was acknowledged before the removal")
        return .pass
    },
    HILCheck("nvme-acknowledged-writes-readable", "after the re-add, the kernel's nvme driver reads back every write the hot-remove writer reported acknowledged") { context in
        let env = context.environment
        guard let path = env["HIL_HOTPLUG_ACKED"], let block = env["HIL_HOTPLUG_BLOCK"] else {
            throw ScenarioFailure("needs HIL_HOTPLUG_ACKED and HIL_HOTPLUG_BLOCK")
        }
        let list = try AcknowledgedList(path: path)
        let (checked, bad) = try list.readBack(block)
        resultInfo("\(list.mode): \(checked) acknowledged writes read back through \(block)")
        try expect(bad.isEmpty, "\(bad.count) of \(checked) acknowledged writes differ through \(block), first at LBA \(bad.first ?? 0)")
        return .pass
    },
]

private func format(_ seconds: Double) -> String {
    let ms = Int((seconds * 1000).rounded())
    return "\(ms / 1000).\(String(repeating: "0", count: 3 - String(ms % 1000).count))\(ms % 1000)"
}

/// The guest's boot clock (CLOCK_BOOTTIME): the scale of /proc/uptime and, near enough, of the
/// kernel log's timestamps, so the guest can set the driver's moments against the kernel's
/// "Relaying device request" line.
enum HotRemoveClock {
    static func uptime() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// The writer's facts from the environment.
struct HotRemoveSetup {
    let mode: CompletionMode
    let modeName: String
    let readyPath: String
    let listPath: String
    let seconds: Int

    init(_ env: [String: String]) throws {
        let modes: [String: CompletionMode] = ["poll": .poll, "interrupt": .interrupt, "hybrid": .hybrid]
        guard let name = env["HIL_HOTPLUG_MODE"], let mode = modes[name] else {
            throw ScenarioFailure("HIL_HOTPLUG_MODE must be poll, interrupt or hybrid")
        }
        guard let ready = env["HIL_HOTPLUG_READY"], let list = env["HIL_HOTPLUG_ACKED"] else {
            throw ScenarioFailure("needs HIL_HOTPLUG_READY and HIL_HOTPLUG_ACKED")
        }
        self.mode = mode
        modeName = name
        readyPath = ready
        listPath = list
        seconds = env["HIL_HOTPLUG_SECONDS"].flatMap { Int($0) } ?? 120
    }
}

/// The content of block `lba` in a run of `mode`: a text naming both, repeated, so a block read
/// from the wrong place or left from another run does not match.
func hotRemovePattern(mode: String, lba: UInt64, blockSize: Int) -> [UInt8] {
    let text = Array("swift-vfio hot-remove \(mode) lba \(lba) ".utf8)
    return (0..<blockSize).map { text[$0 % text.count] }
}

/// 4 KiB writes at queue depth 8 over the first 4 MiB of namespace 1, round and round, until a
/// wait throws; which writes the device acknowledged (by their first LBA).
struct HotRemoveWriter {
    static let depth = 8
    static let bytesPerWrite = 4096
    static let spanBytes: UInt64 = 4 << 20
    var acknowledged: Set<UInt64> = []
    var error: NVMeError?
    var failedAt = 0.0
    var blockSize = 512

    mutating func run(_ controller: Controller<VFIODevice>, _ setup: HotRemoveSetup) throws {
        let info = controller.namespaces[0]
        blockSize = info.blockSize
        let blocks = Self.bytesPerWrite / blockSize
        let span = min(Self.spanBytes / UInt64(blockSize), info.blockCount) / UInt64(blocks) * UInt64(blocks)
        try expect(blocks >= 1 && span >= UInt64(blocks), "namespace 1 (\(info.blockCount) blocks of \(blockSize) B) is too small for the writer")
        var pair = try controller.makeQueuePair(interrupts: setup.mode.usesInterrupts)
        let buffers = try controller.device.dma.allocate(length: Self.depth * Self.bytesPerWrite)
        var free = Array(0..<Self.depth)
        var lbaOfSlot = [UInt64](repeating: 0, count: Self.depth)
        var next: UInt64 = 0
        var signalled = false
        let deadline = Deadline(milliseconds: setup.seconds * 1000)
        while !deadline.hasPassed {
            while let slot = free.popLast() {
                let lba = next % span
                next += UInt64(blocks)
                let slice = buffers.slice(offset: slot * Self.bytesPerWrite, length: Self.bytesPerWrite)
                for k in 0..<blocks {
                    let pattern = hotRemovePattern(mode: setup.modeName, lba: lba + UInt64(k), blockSize: blockSize)
                    pattern.withUnsafeBytes { slice.bytes.baseAddress!.advanced(by: k * blockSize).copyMemory(from: $0.baseAddress!, byteCount: blockSize) }
                }
                lbaOfSlot[slot] = lba
                _ = try pair.submitWrite(namespace: info, lba: lba, blocks: blocks, from: slice, token: UInt64(slot))
            }
            pair.ringSubmissionDoorbell()
            do {
                _ = try pair.waitForCompletions(atLeast: 1, mode: setup.mode, timeoutMilliseconds: 10_000) { c in
                    let slot = Int(c.token)
                    if c.status.isSuccess { acknowledged.insert(lbaOfSlot[slot]) }
                    free.append(slot)
                }
            } catch {
                self.error = error
                failedAt = HotRemoveClock.uptime()
                // The pair goes first (its queues deleted, or the function quiesced), then the
                // buffers the device may still be writing into.
                _ = consume pair
                return
            }
            if !signalled && acknowledged.count >= 64 {
                signalled = true
                let fd = open(setup.readyPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                try expect(fd >= 0, "cannot create \(setup.readyPath): errno \(errno)")
                close(fd)
            }
        }
        throw ScenarioFailure("no removal within \(setup.seconds) s of writing (\(acknowledged.count) writes acknowledged)")
    }

    /// `mode MODE block-size N blocks-per-write N`, then one first LBA per line; written whole
    /// (temporary file, then rename), so a reader never sees half of it.
    func writeList(_ setup: HotRemoveSetup) throws {
        var text = "mode \(setup.modeName) block-size \(blockSize) blocks-per-write \(Self.bytesPerWrite / blockSize)\n"
        for lba in acknowledged.sorted() { text += "\(lba)\n" }
        let temporary = setup.listPath + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try expect(fd >= 0, "cannot create \(temporary): errno \(errno)")
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try expect(written == bytes.count && rename(temporary, setup.listPath) == 0, "cannot write \(setup.listPath): errno \(errno)")
    }
}

/// The writer's list, read back for the check after the re-add.
struct AcknowledgedList {
    let mode: String
    let blockSize: Int
    let blocksPerWrite: Int
    let lbas: [UInt64]

    init(path: String) throws {
        guard let data = readWholeFile(path) else { throw ScenarioFailure("no list of acknowledged writes at \(path)") }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let header = lines.first?.split(separator: " ") ?? []
        guard header.count == 6, header[0] == "mode", header[2] == "block-size", header[4] == "blocks-per-write",
              let blockSize = Int(header[3]), [512, 4096].contains(blockSize), let perWrite = Int(header[5]), (1...8).contains(perWrite)
        else { throw ScenarioFailure("\(path) does not start with the writer's header") }
        mode = String(header[1])
        self.blockSize = blockSize
        blocksPerWrite = perWrite
        lbas = try lines.dropFirst().map { line in
            guard let lba = UInt64(line) else { throw ScenarioFailure("\(path): '\(line)' is not an LBA") }
            return lba
        }
    }

    /// Reads every listed write through `block` with O_DIRECT (from the device, not a cache) and
    /// returns how many it compared and the first LBAs of those that differ.
    func readBack(_ block: String) throws -> (checked: Int, bad: [UInt64]) {
        // O_DIRECT: 040000 on x86-64, 0200000 on arm64; Glibc hides the name without _GNU_SOURCE.
        #if arch(x86_64)
        let direct: Int32 = 0o40000
        #else
        let direct: Int32 = 0o200000
        #endif
        let fd = open(block, O_RDONLY | direct | O_CLOEXEC)
        try expect(fd >= 0, "cannot open \(block): errno \(errno)")
        defer { close(fd) }
        let length = blockSize * blocksPerWrite
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 4096)
        defer { buffer.deallocate() }
        var bad: [UInt64] = []
        for lba in lbas {
            let n = pread(fd, buffer, length, off_t(lba) * off_t(blockSize))
            try expect(n == length, "reading LBA \(lba) of \(block) returned \(n) (errno \(errno))")
            var expected: [UInt8] = []
            for k in 0..<blocksPerWrite { expected += hotRemovePattern(mode: mode, lba: lba + UInt64(k), blockSize: blockSize) }
            if !expected.withUnsafeBytes({ memcmp($0.baseAddress!, buffer, length) == 0 }) { bad.append(lba) }
        }
        return (lbas.count, bad)
    }
}
