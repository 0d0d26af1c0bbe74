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

import NVMe
import NVMeEmulator
import Testing
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// The user-facing errors that no other test raises or reads, each raised the way a user meets it
/// where that is possible without hardware, and its message checked (docs/errors.md lists every
/// error and the test that covers it).
@Suite struct ReliabilityErrorMessageTests {
    // MARK: NVMeError

    @Test func everyCommandIDInFlightIsBackpressureNamingTheQueue() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair(entries: 8)
        let buffer = try rig.device.dma.allocate(length: 4096)
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .always, .dropCompletion)]))
        for i in 0..<7 {
            try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 1, into: buffer.whole, token: UInt64(i))
        }
        pair.ringSubmissionDoorbell()
        rig.device.service()
        // The device reports the SQ drained (head 7) in the completion of command 0: the ring has
        // room again, but six ids are still in flight; one more takes the last id.
        #expect(rig.device.postForgedCompletion(queue: pair.id, CompletionQueueEntry(submissionQueueHead: 7, submissionQueueID: pair.id, commandID: 0, statusAndPhase: 0)))
        #expect(pair.reap { _ in } == 1)
        try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.whole, token: 99)
        #expect(pair.outstanding == 7)
        #expect(throws: NVMeError.noFreeCommandID(queue: pair.id)) {
            try pair.submitRead(namespace: rig.namespace, lba: 0, blocks: 1, into: buffer.whole, token: 100)
        }
        #expect(NVMeError.noFreeCommandID(queue: pair.id).description == "all command ids of queue \(pair.id) are in flight; reap completions before submitting more")
    }

    @Test func bufferSmallerThanTheBlocksSaysBothSizes() throws {
        let rig = try Rig()
        let buffer = try rig.device.dma.allocate(length: 4096)
        let error = NVMeError.bufferTooSmall(needed: 8192, actual: 4096)
        #expect(throws: error) { try rig.controller.namespace(1).read(lba: 0, blocks: 16, into: buffer.whole) }
        #expect(error.description == "buffer holds 4096 bytes but the transfer needs 8192; pass a larger DMA slice")
    }

    @Test func invalidQueueSizeNamesTheAllowedRange() throws {
        let rig = try Rig()
        let limit = min(Int(rig.controller.capabilities.maxQueueEntryCount), 65536)
        let error = NVMeError.invalidArgument("queue size 1 is outside 2...\(limit) (CAP.MQES + 1)")
        #expect(throws: error) { _ = try rig.controller.makeQueuePair(entries: 1) }
        #expect(error.description == "invalid argument: queue size 1 is outside 2...\(limit) (CAP.MQES + 1); correct the call")
    }

    @Test func vfioFailureDuringBringUpIsWrappedAndReleasesEverything() throws {
        let device = try DeviceRefusingMSIX()
        #expect(throws: NVMeError.vfio(.interruptsUnavailable(kind: "MSI-X", requested: 5, available: 0))) {
            _ = try Controller(device: device)
        }
        #expect(device.inner.dma.liveMappings == 0)
        #expect(NVMeError.vfio(.interruptsUnavailable(kind: "MSI-X", requested: 5, available: 0)).description
            == "device offers 0 MSI-X vectors, 5 requested; use fewer queues or another interrupt type")
    }

    @Test func recoveryMessagesNameCauseAndFix() {
        let failed = NVMeError.recoveryFailed(reason: "reset after CSTS.CFS failed: timed out")
        #expect(failed.description == "controller recovery failed: reset after CSTS.CFS failed: timed out; close the controller, then reset or power-cycle the device (or rebind it) before opening it again")
        let timeout = NVMeError.timedOut(what: "Get Features", milliseconds: 300)
        #expect(timeout.description.contains("timed out after 300 ms waiting for Get Features") && timeout.description.contains("Controller.reset()"))
        #expect(NVMeStatus.abortedByHost.description == "Command Aborted By Host (SCT 0x3, SC 0x71)")
        #expect(NVMeError.commandFailed(command: "Read", status: .abortedByHost).description
            == "Read failed with Command Aborted By Host (SCT 0x3, SC 0x71); the command may succeed if retried")
    }

    /// A mapper that pins memory, like VFIO type1: the allocator checks RLIMIT_MEMLOCK first.
    final class PinningMapper: DMAMapper {
        var iovaRanges: [Range<UInt64>] { [0x10_0000..<(1 << 40)] }
        var mappingLimit: Int? { nil }
        var pinsMemory: Bool { true }
        func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {}
        func unmap(iova: IOVA, length: Int) throws(VFIOError) {}
    }

    @Test func pinningBeyondTheMemlockLimitSaysHowToRaiseIt() throws {
        let resource = __rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue)
        var saved = rlimit()
        guard getrlimit(resource, &saved) == 0 else { return }
        // Only pinning mappers read the limit (the emulated IOMMU does not), so lowering it for a
        // moment does not disturb tests running beside this one.
        var low = saved
        low.rlim_cur = 64 << 10
        guard setrlimit(resource, &low) == 0 else { return }
        defer { _ = setrlimit(resource, &saved) }
        let allocator = DMAAllocator(mapper: PinningMapper(), policy: DMAMemoryPolicy(hugepages: .never))
        let error = VFIOError.memlockTooLow(current: 64 << 10, needed: 1 << 20)
        #expect(throws: error) { _ = try allocator.allocate(length: 1 << 20) }
        #expect(error.description == "RLIMIT_MEMLOCK is 64 KiB but DMA mappings need 1 MiB; raise it: ulimit -l unlimited (or memlock in /etc/security/limits.conf)")
        #expect(allocator.liveMappings == 0)
    }

    // MARK: EmulatorError

    @Test func emulatorConfigurationAndBackingErrorsAreOneLine() throws {
        #expect {
            _ = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(namespaces: [], maxIOQueuePairs: 0))
        } throws: { error in
            (error as? EmulatorError)?.description
                == "invalid emulated NVMe configuration: at least one namespace is needed; max I/O queue pairs must be 1...4096"
        }
        let path = "/nonexistent-swift-vfio-dir/ns.img"
        #expect {
            _ = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(
                namespaces: [EmulatedNamespace(capacityInBlocks: 8, backing: .sparseFile(path: path))]))
        } throws: { error in
            (error as? EmulatorError)?.description
                == "namespace backing file \(path): open failed: No such file or directory (errno 2); choose a writable path on a file system with sparse files"
        }
        #expect(EmulatorError.barAllocation(bytes: 65536, errno: 12).description
            == "could not map 65536 bytes for the emulated BAR0: Cannot allocate memory; lower the queue or vector count")
        #expect(EmulatorError.threadStart(errno: 11).description
            == "could not start the emulated controller thread: Resource temporarily unavailable; use .stepped mode or raise the thread limit")
    }

    // MARK: vfioctl's own messages

    /// Runs the built vfioctl with stdin from `stdin` (a path) and stdout to `stdout`; returns the
    /// exit status and stderr.
    static func vfioctl(_ arguments: [String], stdin: String = "/dev/null", stdout: String = "/dev/null") throws -> (status: Int32, stderr: String) {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw VFIOError.system(operation: "pipe", errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        let path = builtVfioctl!
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        guard rc == 0 else { throw VFIOError.system(operation: "posix_spawn \(path)", errno: rc) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(pipeFDs[0], &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += chunk[0..<n]
        }
        return (ReliabilityResourceTests.waitForExit(pid), String(decoding: output, as: UTF8.self))
    }

    @Test(.enabled(if: builtVfioctl != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
    func vfioctlUsageErrorsAreOneLineEach() throws {
        let dir = "/tmp/swift-vfio-rel-msg-\(getpid())"
        mkdir(dir, 0o755)
        defer { rmdir(dir) }
        let cases: [([String], String, String)] = [
            (["nvme", "identify", "--emu-block-size", "1024"], "/dev/null", "--emu-block-size must be 512 or 4096, not 1024"),
            (["nvme", "identify", "--emu-size", "256"], "/dev/null", "--emu-size 256 is too small: the namespace must hold at least one block of 512 bytes"),
            (["nvme", "identify", "--emu-latency-us=-5"], "/dev/null", "--emu-latency-us -5 is out of range: 0...10000000 (10 s)"),
            (["nvme", "identify", "--emu-queues", "0"], "/dev/null", "--emu-queues 0 is out of range: 1...2047"),
            (["nvme", "identify", "--emu-size", "3x"], "/dev/null", "--emu-size '3x' is not a size; use a number with an optional k, m, g or t suffix (e.g. 4k)"),
            (["nvme", "read", "--lba", "0", "--count", "1", "--file", dir + "/missing/out"], "/dev/null", "cannot create \(dir)/missing/out: No such file or directory"),
            (["nvme", "write", "--lba", "0", "--count", "1", "--file", dir + "/missing"], "/dev/null", "cannot open \(dir)/missing: No such file or directory"),
            (["nvme", "write", "--lba", "0", "--count", "4"], "/dev/null", "stdin ended after 0 blocks and 0 bytes; 2048 bytes were needed (earlier blocks were written)"),
            (["nvme", "write", "--lba", "0", "--count", "1"], dir, "reading input failed: Is a directory"),
            (["nvme", "perf", "--bs", "2g"], "/dev/null", "--bs 2g is too large"),
            (["nvme", "perf", "--ios", "0"], "/dev/null", "--ios must be greater than 0"),
            (["nvme", "perf", "--rwmix-read", "101"], "/dev/null", "--rwmix-read must be 0...100"),
            (["nvme", "perf", "--namespace", "9", "--time", "1ms"], "/dev/null", "no active namespace 9 (active: 1); pick one of those"),
            (["nvme", "perf", "--bs", "1g", "--time", "1ms"], "/dev/null", "--bs 1073741824 needs up to 8193 commands per I/O (MDTS 131072 bytes)"),
            (["nvme", "perf", "--emu-queues", "4", "--queues", "9", "--time", "1ms"], "/dev/null", "--queues 9 needs 9 I/O queue pairs and the controller granted 4; use --queues 4 or fewer"),
            (["nvme", "perf", "--offset", "1000", "--time", "1ms"], "/dev/null", "--offset 1000 is not a multiple of --bs 4096"),
            (["nvme", "perf", "--offset", "1g", "--time", "1ms"], "/dev/null", "--offset 1073741824 leaves no room for one I/O in namespace 1"),
        ]
        for (arguments, stdin, needle) in cases {
            let (status, stderr) = try Self.vfioctl(arguments, stdin: stdin)
            #expect(status == 1 << 8, "\(arguments): wait status \(status)")
            let lines = stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(stderr)")
            #expect(stderr.hasPrefix("vfioctl: ") && stderr.contains(needle), "\(arguments): \(stderr)")
        }
    }

    @Test(.enabled(if: builtVfioctl != nil && access("/dev/full", W_OK) == 0, "needs the built vfioctl and /dev/full"))
    func vfioctlReportsAFullOutput() throws {
        let (status, stderr) = try Self.vfioctl(["nvme", "read", "--lba", "0", "--count", "1"], stdout: "/dev/full")
        #expect(status == 1 << 8)
        #expect(stderr == "vfioctl: writing stdout failed: No space left on device\n")
    }
}

/// The emulated controller, except that enabling MSI-X fails as `VFIO_DEVICE_SET_IRQS` can.
final class DeviceRefusingMSIX: PCIFunction {
    let inner: EmulatedNVMeController
    init() throws { inner = try EmulatedNVMeController() }
    var name: String { inner.name }
    var dma: DMAAllocator { inner.dma }
    var numaNode: Int? { nil }
    func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 { try inner.readConfig32(at: offset) }
    func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError) { try inner.writeConfig32(value, at: offset) }
    func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 { try inner.readConfig16(at: offset) }
    func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError) { try inner.writeConfig16(value, at: offset) }
    func enableBusMaster() throws(VFIOError) { try inner.enableBusMaster() }
    func region(bar: Int) throws(VFIOError) -> MMIORegion { try inner.region(bar: bar) }
    func interruptCount(_ kind: InterruptKind) -> Int { inner.interruptCount(kind) }
    func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) {
        throw .interruptsUnavailable(kind: kind.description, requested: count, available: 0)
    }
    func disableInterrupts() throws(VFIOError) { try inner.disableInterrupts() }
    func interruptEventFD(vector: Int) -> Int32? { inner.interruptEventFD(vector: vector) }
    var removalRequestEventFD: Int32? { inner.removalRequestEventFD }
    func setInterruptMasked(vector: Int, _ masked: Bool) { inner.setInterruptMasked(vector: vector, masked) }
    func unmaskINTx() throws(VFIOError) { try inner.unmaskINTx() }
    func reset() throws(VFIOError) { try inner.reset() }
    func service() { inner.service() }
}
