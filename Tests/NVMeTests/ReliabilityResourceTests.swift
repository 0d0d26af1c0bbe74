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

/// Open file descriptors of this process (entries of /proc/self/fd, minus the one reading it).
func openFileDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    return count - 1
}

/// File descriptor counts are process-wide, and Swift Testing runs other suites in parallel, so
/// the fd checks run only when this suite runs alone (`scripts/reliability.sh` sets the variable
/// and filters to the suite). The DMA mapping checks are per device and always run.
let fileDescriptorChecksIsolated = getenv("SWIFT_VFIO_FD_CHECKS").map { String(cString: $0) == "1" } ?? false

/// The `vfioctl` binary next to the test bundle (`swift build --build-tests` builds it), found
/// from /proc/self/exe without Foundation.
let builtVfioctl: String? = {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    var dir = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    for _ in 0..<5 {
        guard let slash = dir.lastIndex(of: "/") else { return nil }
        dir = String(dir[..<slash])
        let candidate = dir + "/vfioctl"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}()

/// Every mapping, eventfd, file descriptor and DMA buffer is released on every path: normal
/// close, bring-up failing part-way, queue pairs dropped with commands in flight, failed
/// controllers, and a process killed in the middle of I/O.
@Suite(.serialized) struct ReliabilityResourceTests {
    /// One bring-up, some I/O on a pair and on the internal pair, and close.
    static func cycle(_ device: EmulatedNVMeController, mode: CompletionMode) throws {
        let controller = try Controller(device: device, options: ControllerOptions(ioQueuePairs: 2, ioQueueEntries: 16))
        var pair = try controller.makeQueuePair()
        let ns = try controller.namespace(1)
        let buffer = try patternBuffer(device.dma, bytes: 8192, seed: 1)
        try ns.write(lba: 0, blocks: 16, from: buffer.whole, mode: mode)
        try ns.read(lba: 0, blocks: 16, into: buffer.whole, using: &pair, mode: mode)
        _ = consume pair
        try controller.close()
    }

    @Test(arguments: [EmulationMode.stepped, .threaded])
    func bringUpAndCloseCyclesReleaseEveryMapping(mode: EmulationMode) throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: mode))
        for i in 0..<10 {
            try Self.cycle(device, mode: i % 2 == 0 ? .poll : .interrupt)
            #expect(device.dma.liveMappings == 0 && device.dma.mappedBytes == 0, "cycle \(i)")
            #expect(device.iommu.mappingCount == 0, "cycle \(i)")
            // MSI-X is off again: its eventfds are closed.
            #expect(device.interruptEventFD(vector: 0) == nil, "cycle \(i)")
        }
    }

    @Test(.enabled(if: fileDescriptorChecksIsolated, "fd counts need the suite to run alone: scripts/reliability.sh"))
    func bringUpAndCloseCyclesLeakNoFileDescriptors() throws {
        // Warm-up: the first cycle may open things that stay (the logger, the runtime).
        try Self.cycle(try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: .threaded)), mode: .interrupt)
        let before = openFileDescriptorCount()
        // The counter sees a descriptor come and go.
        let probe = open("/dev/null", O_RDONLY)
        #expect(openFileDescriptorCount() == before + 1)
        close(probe)
        #expect(openFileDescriptorCount() == before)
        for i in 0..<10 {
            let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: i % 2 == 0 ? .stepped : .threaded))
            try Self.cycle(device, mode: .interrupt)
            let pool = try Controller(device: device).startWorkers(2, mode: .hybrid)
            pool.stop()
        }
        #expect(openFileDescriptorCount() == before)
    }

    /// Where a bring-up can fail after it has allocated something.
    enum BringUpFailure: String, CaseIterable, Sendable {
        case identifyController, numberOfQueues, activeNamespaceList, adminTimeout, readyTimeout

        func configure(_ c: inout EmulatedNVMeConfiguration) {
            switch self {
            case .identifyController:
                c.faultPlan = FaultPlan(rules: [.admin(.identify, .nth(1), .completeWithStatus(.internalError))])
            case .numberOfQueues:
                c.faultPlan = FaultPlan(rules: [.admin(.setFeatures, .nth(1), .completeWithStatus(.internalError.withDoNotRetry()))])
            case .activeNamespaceList:
                // Identify 1: controller, 2: active namespace list. (A failing Identify Namespace
                // only makes its namespace unusable.)
                c.faultPlan = FaultPlan(rules: [.admin(.identify, .nth(2), .completeWithStatus(.internalError))])
            case .adminTimeout:
                c.faultPlan = FaultPlan(rules: [.admin(.identify, .nth(2), .dropCompletion)])
            case .readyTimeout:
                c.timeout = 1  // CAP.TO 500 ms
                c.readyDelayNanoseconds = 2_000_000_000
            }
        }
    }

    @Test(arguments: BringUpFailure.allCases)
    func bringUpFailingPartWayReleasesEverythingAndTheDeviceReopens(failure: BringUpFailure) throws {
        var configuration = EmulatedNVMeConfiguration(mode: .stepped)
        failure.configure(&configuration)
        let device = try EmulatedNVMeController(configuration: configuration)
        let fds = openFileDescriptorCount()
        #expect(throws: NVMeError.self) {
            _ = try Controller(device: device, options: ControllerOptions(adminTimeoutMilliseconds: 200))
        }
        #expect(device.dma.liveMappings == 0 && device.iommu.mappingCount == 0)
        #expect(device.interruptEventFD(vector: 0) == nil)
        if fileDescriptorChecksIsolated { #expect(openFileDescriptorCount() == fds) }
        // The same device comes up once the fault is gone (a reset at bring-up clears what is left).
        device.setFaultPlan(.none)
        device.setResetBehaviour(readyDelayNanoseconds: 0)
        let controller = try Controller(device: device)
        let ns = try controller.namespace(1)
        let buffer = try patternBuffer(device.dma, bytes: 4096, seed: 2)
        try ns.write(lba: 0, blocks: 8, from: buffer.whole)
        try controller.close()
    }

    @Test func pairDroppedWithCommandsOutstandingDeletesItsQueuesAndUnmaps() throws {
        let rig = try Rig(entries: 16)
        let baseline = rig.device.dma.liveMappings
        let buffer = try rig.device.dma.allocate(length: 16 * 4096)
        let mappingsWithBuffer = rig.device.dma.liveMappings
        rig.device.setFaultPlan(FaultPlan(rules: [.io(.read, .every(3), .dropCompletion)]))
        let id: UInt16
        do {
            var pair = try rig.controller.makeQueuePair(entries: 16)
            id = pair.id
            #expect(rig.device.dma.liveMappings == mappingsWithBuffer + 3)  // SQ, CQ, PRP list slab
            for i in 0..<pair.depth {
                try pair.submitRead(namespace: rig.namespace, lba: UInt64(i), blocks: 8, into: buffer.slice(offset: i * 4096, length: 4096), token: UInt64(i))
            }
            pair.ringSubmissionDoorbell()
            rig.device.service()
            #expect(pair.outstanding == pair.depth)
        }
        // Delete SQ (its owed completions posted as aborted), delete CQ, then the memory went.
        #expect(rig.device.statistics.admin(AdminOpcode.deleteIOSubmissionQueue.rawValue).commands == 1)
        #expect(rig.device.statistics.admin(AdminOpcode.deleteIOCompletionQueue.rawValue).commands == 1)
        #expect(rig.device.dma.liveMappings == mappingsWithBuffer)
        rig.device.setFaultPlan(.none)
        var again = try rig.controller.makeQueuePair(entries: 16)
        #expect(again.id == id)
        try rig.controller.namespace(1).read(lba: 0, blocks: 8, into: buffer.whole, using: &again)
        _ = consume again
        _ = consume buffer
        #expect(rig.device.dma.liveMappings == baseline)
        #expect(rig.device.dmaFaults.isEmpty)
    }

    @Test func pairNotRebuiltAfterAResetIsDroppedWithoutDeletingQueuesTwice() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: .stepped))
        do {
            let controller = try Controller(device: device)
            let baseline = device.dma.liveMappings
            do {
                let pair = try controller.makeQueuePair()
                _ = pair.id
                try controller.reset()
            }
            // The reset removed its queues; dropping it must not send Delete commands that would fail.
            #expect(device.statistics.admin(AdminOpcode.deleteIOSubmissionQueue.rawValue).commands == 0)
            #expect(device.statistics.admin(AdminOpcode.deleteIOCompletionQueue.rawValue).commands == 0)
            #expect(device.dma.liveMappings == baseline)
            try controller.close()
        }
        // The admin queue's memory goes with the last reference to the controller.
        #expect(device.dma.liveMappings == 0)
    }

    @Test func failedControllerStillReleasesEverythingAtClose() throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(mode: .threaded))
        do {
            let controller = try Controller(device: device, options: ControllerOptions(adminTimeoutMilliseconds: 200))
            var pair = try controller.makeQueuePair()
            let buffer = try device.dma.allocate(length: 4096)
            try pair.submitRead(namespace: controller.namespaces[0], lba: 0, blocks: 8, into: buffer.whole, token: 0)
            device.simulateSurpriseRemoval()
            pair.ringSubmissionDoorbell()
            #expect(throws: NVMeError.deviceRemoved) { _ = try pair.waitForCompletions(timeoutMilliseconds: 5000) { _ in } }
            try? controller.close()
            // Proven by its config space, not by a reset read back (the emulator's thread would race it).
            #expect(controller.lastQuietProof == .functionGone)
        }
        #expect(device.dma.liveMappings == 0 && device.iommu.mappingCount == 0)
        #expect(device.interruptEventFD(vector: 0) == nil)
    }

    @Test func workerPoolStoppedWithRequestsInFlightReleasesItsPairs() async throws {
        let rig = try Rig(mode: .threaded)
        let baseline = rig.device.dma.liveMappings
        let buffer = try rig.device.dma.allocate(length: 64 * 1024)
        let pool = try rig.controller.startWorkers(2)
        let info = rig.namespace
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                let slice = buffer.slice(offset: i * 8192, length: 8192)
                group.addTask { try await pool.write(info, lba: UInt64(i * 16), blocks: 16, from: slice) }
            }
            try await group.waitForAll()
        }
        pool.stop()
        _ = consume buffer
        #expect(rig.device.dma.liveMappings == baseline)
        #expect(pool.queueIDs.allSatisfy { $0 == nil })
    }

    // MARK: A process killed in the middle of I/O

    /// Starts `vfioctl` with `arguments`; its output goes to /dev/null.
    static func spawn(_ path: String, _ arguments: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw VFIOError.system(operation: "posix_spawn \(path)", errno: rc) }
        return pid
    }

    static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    @Test(.enabled(if: builtVfioctl != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
    func childKilledMidIOLeavesTheDeviceReopenableAndOtherDataIntact() throws {
        let path = "/tmp/swift-vfio-rel-kill-\(getpid()).img"
        defer { unlink(path) }
        let size: UInt64 = 64 << 20
        let namespaces = [EmulatedNamespace(blockSize: 512, capacityInBlocks: size / 512, backing: .sparseFile(path: path))]
        // Data written and acknowledged before the child runs: the first MiB.
        let pattern = try patternBuffer(try EmulatedNVMeController().dma, bytes: 1 << 20, seed: 77)
        do {
            let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(namespaces: namespaces, mode: .threaded))
            let controller = try Controller(device: device)
            let staged = try device.dma.allocate(length: 1 << 20)
            staged.bytes.copyMemory(from: UnsafeRawBufferPointer(pattern.bytes))
            try controller.namespace(1).write(lba: 0, blocks: 2048, from: staged.whole)
            try controller.namespace(1).flush()
            try controller.close()
        }
        // A child doing random writes at queue depth 32 to [16 MiB, 48 MiB), killed mid-run.
        let pid = try Self.spawn(builtVfioctl!, [
            "nvme", "perf", "--emu-file", path, "--emu-size", "64M", "--rw", "randwrite", "--qd", "32",
            "--offset", "16M", "--size", "32M", "--time", "60s",
        ])
        var st = stat()
        var waited = 0
        // Until it has written something (the file gains blocks), at most 20 s on a loaded machine.
        repeat {
            usleep(50_000)
            waited += 50
            _ = stat(path, &st)
        } while st.st_blocks * 512 <= 1 << 20 && waited < 20_000
        #expect(st.st_blocks * 512 > 1 << 20, "the child wrote nothing in \(waited) ms")
        kill(pid, SIGKILL)
        let status = Self.waitForExit(pid)
        #expect(status & 0x7F == SIGKILL, "wait status \(status)")

        // The next process (here: this one) opens the same backing, brings the controller up,
        // finds the data outside the killed I/O intact, and can write where the child was writing.
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(namespaces: namespaces, mode: .threaded))
        let controller = try Controller(device: device)
        let back = try device.dma.allocate(length: 1 << 20)
        try controller.namespace(1).read(lba: 0, blocks: 2048, into: back.whole)
        #expect(equalBytes(pattern.whole, back.whole))
        let fresh = try patternBuffer(device.dma, bytes: 65536, seed: 78)
        try controller.namespace(1).write(lba: 40_000, blocks: 128, from: fresh.whole)
        let check = try device.dma.allocate(length: 65536)
        try controller.namespace(1).read(lba: 40_000, blocks: 128, into: check.whole)
        #expect(equalBytes(fresh.whole, check.whole))
        try controller.close()
        // And so does vfioctl itself.
        let again = try Self.spawn(builtVfioctl!, ["nvme", "read", "--emu-file", path, "--emu-size", "64M", "--lba", "0", "--count", "8"])
        #expect(Self.waitForExit(again) == 0)
    }
}
