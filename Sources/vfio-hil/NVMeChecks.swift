#if canImport(Glibc)
import Glibc
#endif
import NVMe
import VFIO

/// Checks of the NVMe driver against QEMU's controller through vfio-pci: the same driver code the
/// emulated controller's tests run, unchanged, on a real VFIO device with a real IOMMU and real
/// MSI-X. Each check opens the device and brings the controller up itself, and closes it (normal
/// shutdown) before returning. Scratch I/O goes to the second half of each namespace, away from
/// the host-written pattern at HIL_PATTERN_LBA.
let nvmeChecks: [HILCheck] = [
    HILCheck("nvme-bringup-identify", "bring-up, Identify Controller (serial, MDTS), Set Features Number of Queues, namespaces as QEMU was configured") { context in
        let rig = try NVMeRig(context)
        let c = rig.controller
        context.log("\(c.identity.modelNumber) sn \(c.identity.serialNumber) fr \(c.identity.firmwareRevision) VS \(c.version); CAP \(hex(c.capabilities.rawValue)); MDTS \(c.identity.mdts) -> \(c.maximumTransferBytes) B/command; \(c.grantedQueuePairs) I/O queue pairs; \(c.interruptVectors) MSI-X vectors; namespaces \(c.namespaces.map { "\($0.id):\($0.blockSize):\($0.blockCount)" })")
        if let serial = context.environment["HIL_SERIAL"] {
            try expect(c.identity.serialNumber == serial, "serial \(c.identity.serialNumber), QEMU was given \(serial)")
        }
        if let text = context.environment["HIL_MDTS"], let mdts = Int(text) {
            let expected = mdts == 0 ? PRPBuilder.maximumTransferBytes : min(4096 << mdts, PRPBuilder.maximumTransferBytes)
            try expect(c.maximumTransferBytes == expected, "maximum transfer \(c.maximumTransferBytes), expected \(expected) for MDTS \(mdts)")
        }
        let expected = rig.expectedNamespaces
        if !expected.isEmpty {
            let seen = c.namespaces.map { "\($0.id):\($0.blockSize):\($0.blockCount)" }
            try expect(seen == expected, "namespaces \(seen), expected \(expected)")
        }
        try expect(c.grantedQueuePairs >= 1 && c.interruptVectors >= 2, "\(c.grantedQueuePairs) queue pairs, \(c.interruptVectors) vectors")
        try c.close()
        return .pass
    },

    HILCheck("nvme-shutdown", "close(): queues deleted, CC.SHN normal shutdown completes, CC.EN cleared; the controller comes up again") { context in
        do {
            let rig = try NVMeRig(context)
            var pair = try rig.controller.makeQueuePair()
            try rig.roundTrip(&pair, mode: .poll, bytes: 16 << 10, offset: 0)
            try rig.controller.close()
            let status = rig.controller.status
            try expect(!status.ready, "CSTS.RDY still set after close (CSTS \(hex(status.rawValue)))")
        }
        let again = try NVMeRig(context)
        try expect(again.controller.status.ready, "second bring-up not ready")
        try again.controller.close()
        return .pass
    },

    HILCheck("nvme-read-host-pattern", "reads the blocks the host wrote at HIL_PATTERN_LBA of every namespace and compares them byte for byte") { context in
        guard let dir = context.environment["HIL_PATTERN_DIR"], let lbaText = context.environment["HIL_PATTERN_LBA"],
              let lba = UInt64(lbaText), let countText = context.environment["HIL_PATTERN_BLOCKS"], let blocks = Int(countText)
        else { return .skip("no HIL_PATTERN_DIR/LBA/BLOCKS") }
        let rig = try NVMeRig(context)
        var checked = 0
        for info in rig.controller.namespaces {
            guard let expected = readWholeFile("\(dir)/pattern-ns\(info.id).bin") else { continue }
            let ns = try rig.controller.namespace(info.id)
            let buffer = try rig.device.dma.allocate(length: blocks * info.blockSize + 4096)
            // From a mid-page offset, to read through PRP1 with an offset.
            let slice = buffer.slice(offset: 512, length: blocks * info.blockSize)
            try ns.read(lba: lba, blocks: blocks, into: slice)
            try expect(expected.count == slice.length, "pattern-ns\(info.id).bin has \(expected.count) bytes, read \(slice.length)")
            try expect(slice.bytes.elementsEqual(expected), "namespace \(info.id): blocks at \(lba) differ from what the host wrote")
            checked += 1
        }
        try rig.controller.close()
        return checked == 0 ? .skip("no pattern files in \(dir)") : .pass
    },

    HILCheck("nvme-poll-mode", "write/read-back in poll mode (spin on the phase tag), queue filled to its depth") { context in
        let rig = try NVMeRig(context)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: false)
        try rig.fillQueue(&pair, mode: .poll)
        try rig.roundTrip(&pair, mode: .poll, bytes: 256 << 10, offset: 12)
        context.log("poll: \(pair.statistics)")
        try rig.controller.close()
        return .pass
    },

    HILCheck("nvme-interrupt-mode", "write/read-back in interrupt mode: the CQ's MSI-X vector fires its eventfd and wakes the reaper") { context in
        let rig = try NVMeRig(context)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: true)
        try rig.fillQueue(&pair, mode: .interrupt)
        try rig.roundTrip(&pair, mode: .interrupt, bytes: 256 << 10, offset: 100 * 4)
        // A reaper sleeps only when the CQ is still empty as it looks; single reads make that
        // near certain (QEMU completes in microseconds, not nanoseconds), so repeat until one
        // wake-up by the interrupt is seen.
        let buffer = try rig.device.dma.allocate(length: rig.info.blockSize)
        for i in 0..<50 where pair.statistics.interruptWakeups == 0 {
            try pair.submitRead(namespace: rig.info, lba: UInt64(i), blocks: 1, into: buffer.whole, token: 0)
            pair.ringSubmissionDoorbell()
            _ = try pair.waitForCompletions(atLeast: 1, mode: .interrupt, timeoutMilliseconds: 5000) { _ in }
        }
        let stats = pair.statistics
        context.log("interrupt: vector \(pair.interruptVector.map(String.init) ?? "none"), \(stats)")
        try expect(stats.interrupts > 0 && stats.interruptWakeups > 0, "no MSI-X interrupt was seen (\(stats.interrupts) signals, \(stats.interruptWakeups) wake-ups)")
        try rig.controller.close()
        return .pass
    },

    HILCheck("nvme-hybrid-mode", "write/read-back in hybrid (NAPI) mode: an interrupt wakes the reaper, which polls with the vector masked, then re-arms") { context in
        let rig = try NVMeRig(context)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: true)
        try rig.fillQueue(&pair, mode: .hybrid(idlePolls: 500))
        try rig.roundTrip(&pair, mode: .hybrid(idlePolls: 500), bytes: 256 << 10, offset: 2048)
        let stats = pair.statistics
        context.log("hybrid: \(stats)")
        try expect(stats.pollingPhases > 0, "never entered a polling phase")
        try expect(stats.interrupts > 0, "no MSI-X interrupt was seen")
        try rig.controller.close()
        return .pass
    },

    HILCheck("nvme-four-queue-pairs", "four I/O queue pairs (or all QEMU grants), each with its own vector, doing interleaved I/O on disjoint ranges") { context in
        let rig = try NVMeRig(context)
        let count = min(4, rig.controller.grantedQueuePairs)
        var pairs: [UInt16] = []
        // Each pair writes, then all read back: completions of different queues interleave.
        var a = try rig.controller.makeQueuePair(entries: 16)
        var b = try rig.controller.makeQueuePair(entries: 16)
        pairs += [a.id, b.id]
        try rig.roundTrip(&a, mode: .interrupt, bytes: 64 << 10, offset: 4, slot: 0)
        try rig.roundTrip(&b, mode: .hybrid, bytes: 64 << 10, offset: 8, slot: 1)
        if count >= 4 {
            var c = try rig.controller.makeQueuePair(entries: 16)
            var d = try rig.controller.makeQueuePair(entries: 16)
            pairs += [c.id, d.id]
            try rig.roundTrip(&c, mode: .poll, bytes: 64 << 10, offset: 16, slot: 2)
            try rig.roundTrip(&d, mode: .interrupt, bytes: 64 << 10, offset: 32, slot: 3)
            try expect(Set([a.interruptVector, b.interruptVector, c.interruptVector, d.interruptVector].compactMap { $0 }).count == 4,
                       "queue pairs do not have four distinct vectors")
        }
        context.log("queue pairs \(pairs) of \(rig.controller.grantedQueuePairs) granted")
        defer { try? rig.controller.close() }
        if let text = context.environment["HIL_MAX_IOQPAIRS"], let limit = Int(text), limit < 4 {
            // QEMU was limited on purpose: the driver must use exactly what it grants.
            try expect(rig.controller.grantedQueuePairs == limit, "granted \(rig.controller.grantedQueuePairs), QEMU allows \(limit)")
            return .pass
        }
        try expect(pairs.count == 4, "only \(pairs.count) queue pairs")
        return .pass
    },

    HILCheck("nvme-prp-lists-over-mdts", "one command with a PRP list from a mid-page buffer, and a request of several MDTS split by the Namespace API") { context in
        let rig = try NVMeRig(context)
        var pair = try rig.controller.makeQueuePair()
        let info = rig.info
        // Largest single command from offset 0x204: PRP1 partial page plus a list.
        let single = min(rig.controller.maximumTransferBytes, 64 << 10) / info.blockSize * info.blockSize
        try rig.roundTrip(&pair, mode: .poll, bytes: single, offset: 0x204, slot: 0)
        // Several MDTS worth in one call: split into commands, pipelined.
        let big = min(3 * rig.controller.maximumTransferBytes + 5 * info.blockSize, 2 << 20)
        try rig.roundTrip(&pair, mode: .interrupt, bytes: big, offset: 0x40, slot: 1)
        let commands = pair.statistics.submitted
        context.log("single command \(single) B, split request \(big) B; \(commands) commands")
        try expect(Int(commands) >= 2 + 2 * ((big + rig.controller.maximumTransferBytes - 1) / rig.controller.maximumTransferBytes),
                   "only \(commands) commands for the split request")
        try rig.controller.close()
        return .pass
    },

    HILCheck("nvme-lba-out-of-range", "a read past the end fails with the device's LBA Out of Range status; the Namespace API refuses it on the host") { context in
        let rig = try NVMeRig(context)
        var pair = try rig.controller.makeQueuePair()
        let info = rig.info
        let buffer = try rig.device.dma.allocate(length: info.blockSize)
        try pair.submitRead(namespace: info, lba: info.blockCount, blocks: 1, into: buffer.whole, token: 1)
        pair.ringSubmissionDoorbell()
        var status: NVMeStatus?
        _ = try pair.waitForCompletions(atLeast: 1, timeoutMilliseconds: 5000) { status = $0.status }
        context.log("device: \(status.map { "\($0)" } ?? "no completion")")
        try expect(status?.matches(.lbaOutOfRange) == true, "status \(status.map { "\($0)" } ?? "none"), expected LBA Out of Range")
        let ns = try rig.controller.namespace(info.id)
        do {
            try ns.read(lba: info.blockCount - 1, blocks: 2, into: buffer.whole)
            throw HILFailure("the Namespace API read past the end")
        } catch let error as NVMeError {
            try expect(error == .lbaOutOfRange(namespace: info.id, lba: info.blockCount - 1, blocks: 2, capacity: info.blockCount), "got \(error)")
            context.log("host: \(error)")
        }
        try rig.controller.close()
        return .pass
    },

    HILCheck("nvme-admin-logs-features", "SMART / Health log, error log, Get Features (Number of Queues), Abort of a completed command") { context in
        let rig = try NVMeRig(context)
        let smart = try rig.controller.smartHealthLog()
        let errors = try rig.controller.errorLog()
        let queues = NumberOfQueues(dword: try rig.controller.feature(.numberOfQueues))
        context.log("SMART: temperature \(smart.compositeTemperature) K, spare \(smart.availableSpare)%, host writes \(smart.hostWriteCommands); error log entries \(errors.count); queues \(queues.submissionQueues)/\(queues.completionQueues)")
        try expect(smart.compositeTemperature > 200, "composite temperature \(smart.compositeTemperature) K")
        try expect(queues.submissionQueues >= rig.controller.grantedQueuePairs, "Get Features Number of Queues \(queues)")
        // Aborting a command that is not outstanding: the controller says it did not abort.
        let pair = try rig.controller.makeQueuePair()
        let aborted = try rig.controller.abort(queue: pair.id, commandID: 7)
        context.log("abort of an idle command id: aborted = \(aborted)")
        try rig.controller.close()
        return .pass
    },

    HILCheck("nvme-recovery-reset", "controller reset (CC.EN off and on) with 16 reads outstanding: the pair rebuilds its queues at its next wait, every read ends (Aborted By Host or done), acknowledged data survives, a feature the caller set is set again") { context in
        let rig = try NVMeRig(context)
        defer { try? rig.controller.close() }
        let info = rig.info
        let ns = try rig.controller.namespace(info.id)
        var pair = try rig.controller.makeQueuePair(entries: 32, interrupts: true)
        // Acknowledged before the reset: must read back the same after it.
        // Three quarters into the namespace: past the other checks' scratch areas (which start at
        // the middle), inside the smallest namespace of the configurations (8192 blocks).
        let blocks = Int(min(UInt64(max(1, (64 << 10) / info.blockSize)), info.blockCount / 16))
        let lba = info.blockCount / 4 * 3
        let written = try rig.device.dma.allocate(length: blocks * info.blockSize)
        fillPattern(written.whole, seed: 0x5EED_4E5E7)
        try ns.write(lba: lba, blocks: blocks, from: written.whole, using: &pair, mode: .interrupt)
        // Temperature Threshold (5.21.1.4, composite sensor, over-temperature): a feature QEMU keeps.
        let threshold: UInt32 = 351
        try rig.controller.setFeature(.temperatureThreshold, value: threshold)

        let scratch = try rig.device.dma.allocate(length: 16 * info.blockSize)
        for i in 0..<16 {
            try pair.submitRead(namespace: info, lba: UInt64(i), blocks: 1, into: scratch.slice(offset: i * info.blockSize, length: info.blockSize), token: UInt64(i))
        }
        pair.ringSubmissionDoorbell()
        try rig.controller.reset()

        var ended = 0, abortedByHost = 0, failed: [String] = []
        while ended < 16 {
            let n = try pair.waitForCompletions(atLeast: 16 - ended, mode: .interrupt, timeoutMilliseconds: 20_000) { c in
                if c.status.isEndedByHost { abortedByHost += 1 } else if !c.status.isSuccess { failed.append("\(c.status)") }
            }
            try expect(n > 0, "only \(ended) of 16 outstanding reads ended after the reset")
            ended += n
        }
        context.log("reset with 16 reads submitted: \(abortedByHost) ended by the host, \(16 - abortedByHost - failed.count) completed by QEMU before the reset")
        try expect(failed.isEmpty, "reads failed with \(failed)")
        try expect(rig.controller.resetCount == 1, "resets \(rig.controller.resetCount)")

        // QEMU often completes all 16 before the reset; then the pair learns of the reset at
        // the first wait of this read, rebuilds, and the Namespace API resubmits what it lost.
        let back = try rig.device.dma.allocate(length: blocks * info.blockSize)
        try ns.read(lba: lba, blocks: blocks, into: back.whole, using: &pair, mode: .interrupt)
        let stats = pair.statistics
        context.log("after the read-back: rebuilds \(stats.rebuilds), ended by reset \(stats.endedByReset)")
        try expect(stats.rebuilds == 1, "the pair rebuilt its queues \(stats.rebuilds) times after one reset")
        try expect(memcmp(written.address, back.address, blocks * info.blockSize) == 0, "data written before the reset reads back different")
        let now = try rig.controller.feature(.temperatureThreshold) & 0xFFFF
        try expect(now == threshold, "Temperature Threshold is \(now) K after the reset, the caller set \(threshold) K")
        return .pass
    },

    HILCheck("nvme-write-handoff", "writes a pattern through our driver and leaves it in HIL_HANDOFF_DIR for the kernel driver to read back") { context in
        guard let dir = context.environment["HIL_HANDOFF_DIR"] else { return .skip("no HIL_HANDOFF_DIR") }
        let rig = try NVMeRig(context)
        for info in rig.controller.namespaces {
            let ns = try rig.controller.namespace(info.id)
            let blocks = max(1, 32768 / info.blockSize)
            let lba = info.blockCount / 2 + 77
            let buffer = try rig.device.dma.allocate(length: blocks * info.blockSize)
            fillPattern(buffer.whole, seed: UInt64(info.id) &* 0x9E37 &+ lba)
            try ns.write(lba: lba, blocks: blocks, from: buffer.whole)
            try ns.flush()
            let written = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<(blocks * info.blockSize)])
            try expect(writeWholeFile("\(dir)/ns\(info.id)-lba\(lba).bin", written), "cannot write \(dir)/ns\(info.id)-lba\(lba).bin")
        }
        try rig.controller.close()
        return .pass
    },
]

/// A controller brought up on the device under test, plus scratch I/O helpers.
struct NVMeRig {
    let device: VFIODevice
    let controller: Controller<VFIODevice>
    let expectedNamespaces: [String]

    init(_ context: HILContext) throws {
        device = try VFIODevice(address: context.address)
        controller = try Controller(device: device, options: ControllerOptions(ioQueuePairs: 4, ioQueueEntries: 64, ioTimeoutMilliseconds: 20_000))
        expectedNamespaces = (context.environment["HIL_NAMESPACES"] ?? "").split(separator: " ").map(String.init)
    }

    var info: NamespaceInfo { controller.namespaces[0] }

    /// Writes `bytes` (whole blocks) of a seeded pattern at a scratch LBA from a buffer starting
    /// `offset` bytes into its page, reads it back into another buffer, compares.
    func roundTrip(_ pair: inout QueuePair<VFIODevice>, mode: CompletionMode, bytes: Int, offset: Int, slot: Int = 0) throws {
        let info = self.info
        let blocks = max(1, bytes / info.blockSize)
        let length = blocks * info.blockSize
        let lba = info.blockCount / 2 + UInt64(slot) * UInt64((4 << 20) / info.blockSize)
        let out = try device.dma.allocate(length: length + offset)
        let back = try device.dma.allocate(length: length + offset)
        let outSlice = out.slice(offset: offset, length: length)
        let backSlice = back.slice(offset: offset, length: length)
        fillPattern(outSlice, seed: UInt64(slot) &+ UInt64(bytes))
        let ns = try controller.namespace(info.id)
        try ns.write(lba: lba, blocks: blocks, from: outSlice, using: &pair, mode: mode)
        try ns.read(lba: lba, blocks: blocks, into: backSlice, using: &pair, mode: mode)
        try expect(memcmp(outSlice.address, backSlice.address, length) == 0,
                   "data read back from LBA \(lba) (\(length) B, \(mode)) differs from what was written")
    }

    /// Submits reads until the queue is full (its depth), rings once, and reaps them all.
    func fillQueue(_ pair: inout QueuePair<VFIODevice>, mode: CompletionMode) throws {
        let info = self.info
        let buffer = try device.dma.allocate(length: pair.depth * info.blockSize)
        var submitted = 0
        while pair.canSubmit {
            try pair.submitRead(namespace: info, lba: UInt64(submitted), blocks: 1, into: buffer.slice(offset: submitted * info.blockSize, length: info.blockSize), token: UInt64(submitted))
            submitted += 1
        }
        pair.ringSubmissionDoorbell()
        try expect(submitted == pair.depth, "queue took \(submitted) commands, depth \(pair.depth)")
        var completed = 0
        while completed < submitted {
            completed += try pair.waitForCompletions(atLeast: submitted - completed, mode: mode, timeoutMilliseconds: 20_000) { c in
                if !c.status.isSuccess { completed = -1_000_000 }
            }
        }
        try expect(completed == submitted, "a read of the full queue failed")
    }
}

/// A seeded xorshift pattern, so a mismatch is reproducible.
func fillPattern(_ slice: DMASlice, seed: UInt64) {
    var state = seed | 1
    var i = 0
    while i + 8 <= slice.length {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        slice.address.storeBytes(of: state, toByteOffset: i, as: UInt64.self)
        i += 8
    }
}

func readWholeFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return n == 0 ? result : nil }
        result += chunk[0..<n]
    }
}

func writeWholeFile(_ path: String, _ bytes: UnsafeMutableRawBufferPointer) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return false }
        done += n
    }
    return true
}
