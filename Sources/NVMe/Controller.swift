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

import Logging
import Synchronization
import VFIO

/// An NVMe controller driven from userspace: bring-up, the admin queue, I/O queue pairs,
/// namespaces, and shutdown.
///
/// Generic over the device (`PCIFunction`): a VFIO device, QEMU's controller in a VM, or an
/// emulated one; calls are specialised, never through an existential.
///
/// **Threading model.**
/// - The controller is `Sendable` and shared by reference. Its admin queue is shared by all threads
///   and serialised by a lock (admin commands are rare and never on the I/O path).
/// - I/O goes through `QueuePair`s, each owned by one thread or task (`~Copyable`, moved, never
///   shared), created with `makeQueuePair()` up to the number the controller granted.
/// - The blocking `Namespace` API uses either a queue pair the caller passes in, or one internal
///   pair behind a lock; the async API runs one worker thread per queue pair.
///
/// **Lifetime.** `close()` (or the last reference going away) deletes the remaining I/O queues,
/// performs a normal shutdown (CC.SHN, wait for CSTS.SHST complete, NVMe base 1.4, 7.6.2),
/// disables the controller and its interrupts, and releases the DMA memory. Queue pairs keep the
/// controller alive, so its memory is never released under them.
public final class Controller<Device: PCIFunction>: Sendable {
    public let device: Device
    /// CAP, validated at bring-up.
    public let capabilities: Capabilities
    /// VS.
    public let version: NVMeVersion
    /// Identify Controller data (model, serial, firmware, MDTS, VWC, ONCS, SGLS, NN).
    public let identity: IdentifyController
    /// Largest data transfer of one command: MDTS, capped at 2 MiB so one PRP list page suffices.
    public let maximumTransferBytes: Int
    /// I/O queue pairs granted by Set Features Number of Queues (and requested).
    public let grantedQueuePairs: Int
    /// Default entries per I/O queue (options, capped by CAP.MQES + 1).
    public let ioQueueEntries: Int
    /// MSI-X vectors enabled: vector 0 for the admin queue, the others for the I/O queues, shared
    /// when there are fewer than queues (`interruptVector(forQueue:)`). 0: none.
    public let interruptVectors: Int
    /// Active namespaces the driver can do I/O to, by increasing NSID (as of bring-up or the last
    /// rescan: a Namespace Attribute Changed event or `rescanNamespaces()`).
    public var namespaces: [NamespaceInfo] { namespaceTable.withLock { $0.usable } }
    /// Active namespaces it cannot use, and why (e.g. extended-LBA metadata).
    public var unusableNamespaces: [UInt32: String] { namespaceTable.withLock { $0.unusable } }
    public let options: ControllerOptions

    let registers: MMIORegion
    let doorbells: DoorbellStride
    let admin: TSanVisibleMutex<AdminQueue>
    let lifecycle: TSanVisibleMutex<Lifecycle>
    let shared: TSanVisibleMutex<SharedQueuePair<Device>>
    /// The async API's default worker pool, created on first use.
    let defaultPool = TSanVisibleMutex<IOWorkerPool<Device>?>(nil)
    /// The namespaces as last scanned. A leaf lock: taken alone, or inside the admin lock by a rescan.
    let namespaceTable: TSanVisibleMutex<NamespaceTable>
    /// The vectors several I/O queues interrupt on (InterruptVectorSharing.swift).
    let sharedVectors: [Int: SharedInterruptVector]
    /// The Controller Memory Buffer, validated and mapped (ControllerMemoryBuffer.swift).
    let memoryBuffer: ControllerMemoryBuffer?
    /// The Controller Memory Buffer as reported and checked; nil when there is none to use.
    public var controllerMemoryBuffer: ControllerMemoryBufferInfo? { memoryBuffer?.info }
    /// Why the controller's CMB (CAP.CMBS) is not used, when it is not.
    public let controllerMemoryBufferUnusable: String?
    /// PMRCAP, when the controller has a Persistent Memory Region (CAP.PMRS); reported only.
    public let persistentMemoryCapabilities: PersistentMemoryCapabilities?
    /// Set once by `close()`; read by wait loops, outside the I/O path.
    let closedFlag = Atomic<Bool>(false)
    /// Bumped by every controller reset (after the device's queues are gone). A queue pair
    /// compares it with its own in its idle checks and rebuilds its rings when they differ; the
    /// submit and reap paths never read it.
    @usableFromInline let resetGeneration = Atomic<UInt64>(0)
    /// Set when recovery failed for good (or the device vanished); `recovery.failure` says why.
    let failedFlag = Atomic<Bool>(false)
    /// Set by a quiesce, cleared by the next successful reset; `recovery.quiesced` says why.
    let quiescedFlag = Atomic<Bool>(false)
    /// Resets done and the terminal failure, serialising resets with each other and with `close()`.
    ///
    /// Lock order: `shared`, then `recovery`, then `admin`, then `lifecycle`; never `recovery` while
    /// holding `admin`. (Taking it there once deadlocked a reset against a queue pair's rebuild,
    /// which the kernel's PI-futex deadlock check turned into "Recursive call to lock Mutex".)
    let recovery: TSanVisibleMutex<RecoveryState>
    /// I/O queue pairs the controller grants since the last reset (Number of Queues is asked
    /// again after each). An atomic, so queue creation can read it under the admin lock.
    let recreatableQueuePairs: Atomic<Int>

    /// `ControllerOptions.logger`: where the controller and its queue pairs log.
    public var logger: Logger { options.logger }

    struct Lifecycle {
        /// I/O queue ids in use (SQ id == CQ id), reserved by a queue pair.
        var liveQueues: Set<UInt16> = []
        /// Of those, the ones whose SQ and CQ exist on the device now: a reset empties it, and each
        /// pair's rebuild puts its id back. Only these are deleted by `close()` and pair drops.
        var onDevice: Set<UInt16> = []
        var closed = false
        /// Queue pairs that cache their vector's eventfd; MSI-X is disabled only once none does.
        var vectorUsers: Set<UInt16> = []
        var vectorsReleased = false
    }

    // MARK: - Bring-up (NVMe base 1.4, 7.6.1 "Initialization")

    /// Brings the controller up: validate CAP, disable, set up the admin queue, enable, Identify
    /// Controller, Set Features Number of Queues, enable MSI-X, Identify the active namespaces.
    public init(device: Device, options: ControllerOptions = ControllerOptions()) throws(NVMeError) {
        do {
            try device.enableBusMaster()
        } catch {
            throw .vfio(error)
        }
        let registers: MMIORegion
        do {
            registers = try device.region(bar: 0)
        } catch {
            throw .vfio(error)
        }
        // Registers up to ACQ and the admin doorbells (0x1000, 0x1004 at the smallest stride).
        guard registers.length >= 0x1008 else {
            throw .deviceMisbehaved("BAR0 is \(registers.length) bytes, smaller than the NVMe register set (0x1008)")
        }
        let capabilities = registers.read(ControllerRegister.capabilities)
        guard capabilities.rawValue != .max else { throw .deviceRemoved }
        try Self.validate(capabilities)
        let doorbells = DoorbellStride(registers: registers, exponent: Int(capabilities.doorbellStride))
        guard doorbells.highestQueueID >= 1 else {
            throw .deviceMisbehaved(
                "CAP.DSTRD \(capabilities.doorbellStride) puts the I/O doorbells beyond BAR0's \(registers.length) bytes")
        }
        let readyTimeout = max(500, capabilities.timeoutMilliseconds)

        try Self.disable(registers: registers, device: device, timeoutMilliseconds: readyTimeout)
        let (memoryBuffer, memoryBufferUnusable) = ControllerMemoryBuffer.discover(
            device: device, registers: registers, capabilities: capabilities)
        if let memoryBufferUnusable {
            options.logger.notice("NVMe \(device.name): controller memory buffer not used: \(memoryBufferUnusable)")
        }

        let adminEntries = max(2, min(options.adminQueueEntries, 4096, capabilities.maxQueueEntryCount))
        var admin = try AdminQueue(entries: adminEntries, allocator: device.dma, doorbells: doorbells)
        Self.programAdminQueue(admin, registers: registers)

        var vectorsEnabled = 0
        let identity: IdentifyController
        let maximumTransfer: Int
        let granted: Int
        var table = NamespaceTable()
        do throws(NVMeError) {
            try Self.enable(registers: registers, device: device, timeoutMilliseconds: readyTimeout)

            let timeout = options.adminTimeoutMilliseconds
            identity = try Self.identifyController(
                admin: &admin, device: device, registers: registers, timeout: timeout, logger: options.logger)
            try Self.validate(identity)
            _ = try options.dataPointers.usesSGL(identity.sglSupport)
            maximumTransfer = min(
                identity.maximumDataTransferSize(minimumPageSize: capabilities.minimumPageSize) ?? .max,
                PRPBuilder.maximumTransferBytes)

            // Number of Queues (5.21.1.7): ask, then use what is granted (zero-based in DW0).
            let requested = max(1, min(options.ioQueuePairs, 65535, doorbells.highestQueueID))
            let answer = try admin.execute(
                .setFeatures(.numberOfQueues, cdw11: NumberOfQueues(submissionQueues: requested, completionQueues: requested).dword),
                data: nil, name: "Set Features (Number of Queues)", device: device, registers: registers,
                timeoutMilliseconds: timeout)
            let allocated = NumberOfQueues(dword: answer.commandSpecific)
            granted = min(requested, allocated.submissionQueues, allocated.completionQueues)

            let available = options.interrupts ? device.interruptCount(.msix) : 0
            if available > 0 {
                let count = min(available, granted + 1)
                do {
                    try device.enableInterrupts(.msix, count: count)
                } catch {
                    throw .vfio(error)
                }
                vectorsEnabled = count
            }

            let ids = try Self.activeNamespaceIDs(
                admin: &admin, device: device, registers: registers, timeout: timeout, identity: identity, logger: options.logger)
            try Self.scanNamespaces(
                ids, into: &table, admin: &admin, device: device, registers: registers, timeout: timeout,
                maximumTransferBytes: maximumTransfer, identity: identity, logger: options.logger)
        } catch {
            // Quiet before the admin queue's memory goes (it goes when this initialiser returns).
            _ = Self.quiesceDevice(
                registers: registers, device: device, readyTimeout: readyTimeout, reason: "bring-up failed (\(error))",
                logger: options.logger)
            if vectorsEnabled > 0 { try? device.disableInterrupts() }
            throw error
        }

        self.device = device
        self.capabilities = capabilities
        self.version = registers.read(ControllerRegister.version)
        self.identity = identity
        self.maximumTransferBytes = maximumTransfer
        self.grantedQueuePairs = granted
        self.ioQueueEntries = max(2, min(options.ioQueueEntries, capabilities.maxQueueEntryCount, 65536))
        self.interruptVectors = vectorsEnabled
        self.namespaceTable = TSanVisibleMutex(table)
        self.sharedVectors = Self.sharedVectors(device: device, vectors: vectorsEnabled, queuePairs: granted)
        self.memoryBuffer = memoryBuffer
        self.controllerMemoryBufferUnusable = memoryBufferUnusable
        self.persistentMemoryCapabilities = capabilities.persistentMemoryRegionSupported
            ? registers.read(ControllerMemoryRegister.persistentCapabilities) : nil
        self.options = options
        self.registers = registers
        self.doorbells = doorbells
        self.admin = TSanVisibleMutex(admin)
        self.lifecycle = TSanVisibleMutex(Lifecycle())
        self.shared = TSanVisibleMutex(SharedQueuePair())
        self.recovery = TSanVisibleMutex(RecoveryState())
        self.recreatableQueuePairs = Atomic(granted)
        options.logger.info(
            "NVMe \(device.name): \(identity.modelNumber) fw \(identity.firmwareRevision), \(granted) I/O queue pairs, \(table.usable.count) namespaces, max transfer \(maximumTransfer) B")
    }

    deinit {
        do {
            try close()
        } catch {
            logger.warning("NVMe \(device.name): shutdown at release failed: \(error)")
        }
        // No queue pair is left to use a vector (the ones that keep the controller alive are gone).
        releaseVectors()
    }

    /// CAP is device data: check every field the driver sizes or waits with.
    static func validate(_ cap: Capabilities) throws(NVMeError) {
        guard cap.maxQueueEntries >= 1 else {
            throw .deviceMisbehaved("CAP.MQES is 0; queues need at least 2 entries (NVMe base 1.4, 3.1.1)")
        }
        guard cap.supportsNVMCommandSet else {
            throw .unsupported("CAP.CSS 0x\(String(cap.commandSetsSupported, radix: 16)) lacks the NVM command set")
        }
        guard cap.memoryPageSizeMinimum == 0 else {
            throw .unsupported("CAP.MPSMIN requires pages of at least \(cap.minimumPageSize) bytes; the driver uses 4 KiB host pages")
        }
        guard cap.memoryPageSizeMaximum >= cap.memoryPageSizeMinimum else {
            throw .deviceMisbehaved("CAP.MPSMAX \(cap.memoryPageSizeMaximum) is below CAP.MPSMIN \(cap.memoryPageSizeMinimum)")
        }
    }

    /// Identify Controller is device data: the entry sizes must allow 64/16 bytes, and MDTS must
    /// not make a transfer smaller than one page.
    static func validate(_ identity: IdentifyController) throws(NVMeError) {
        // SQES/CQES bits 3:0 required (minimum), 7:4 maximum; 0 means not reported (pre-1.2 controllers).
        if identity.sqes != 0 {
            let minimum = Int(identity.sqes & 0xF), maximum = Int(identity.sqes >> 4)
            guard minimum <= 6, maximum >= 6 else {
                throw .unsupported("Identify SQES 0x\(String(identity.sqes, radix: 16)) does not allow 64-byte SQ entries")
            }
        }
        if identity.cqes != 0 {
            let minimum = Int(identity.cqes & 0xF), maximum = Int(identity.cqes >> 4)
            guard minimum <= 4, maximum >= 4 else {
                throw .unsupported("Identify CQES 0x\(String(identity.cqes, radix: 16)) does not allow 16-byte CQ entries")
            }
        }
    }

    // MARK: - Enable / disable (CC.EN, CSTS.RDY)

    /// Clears CC.EN and waits for CSTS.RDY to follow within CAP.TO (NVMe base 1.4, 3.1.5): this
    /// resets the controller's queues, so nothing from a previous owner is left running.
    static func disable(registers: MMIORegion, device: Device, timeoutMilliseconds: Int) throws(NVMeError) {
        var configuration = registers.read(ControllerRegister.configuration)
        if configuration.rawValue == .max { throw .deviceRemoved }
        if configuration.enable {
            configuration.enable = false
            registers.write(ControllerRegister.configuration, configuration)
        }
        try waitForReady(false, registers: registers, device: device, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Points the controller at the admin queue (AQA, ASQ, ACQ; NVMe base 1.4, 3.1.7-3.1.9).
    static func programAdminQueue(_ admin: borrowing AdminQueue, registers: MMIORegion) {
        registers.write(
            ControllerRegister.adminQueueAttributes,
            AdminQueueAttributes(submissionQueueEntries: admin.entries, completionQueueEntries: admin.entries))
        registers.write(ControllerRegister.adminSubmissionQueueBase, admin.submissionMemory.iova.rawValue)
        registers.write(ControllerRegister.adminCompletionQueueBase, admin.completionMemory.iova.rawValue)
    }

    /// Writes CC (NVM command set, 4 KiB host pages (MPS 0), 64-byte SQEs, 16-byte CQEs; 3.1.5)
    /// with EN clear, then sets EN and waits for CSTS.RDY within CAP.TO.
    static func enable(registers: MMIORegion, device: Device, timeoutMilliseconds: Int) throws(NVMeError) {
        var configuration = ControllerConfiguration(
            enable: false, commandSetSelected: 0, memoryPageSize: 0, arbitrationMechanism: 0,
            shutdownNotification: .none, ioSubmissionQueueEntrySize: 6, ioCompletionQueueEntrySize: 4)
        registers.write(ControllerRegister.configuration, configuration)
        configuration.enable = true
        registers.write(ControllerRegister.configuration, configuration)
        try waitForReady(true, registers: registers, device: device, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Waits for CSTS.RDY to become `ready`, calling `device.service()` before each read and
    /// sleeping with backoff in between. CSTS.CFS while enabling is fatal (the enable failed).
    static func waitForReady(_ ready: Bool, registers: MMIORegion, device: Device, timeoutMilliseconds: Int) throws(NVMeError) {
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        var backoff = Backoff(startMicroseconds: 10, capMicroseconds: 10_000)
        while true {
            device.service()
            let status = registers.read(ControllerRegister.status)
            if status.looksDisconnected { throw .deviceRemoved }
            if status.ready == ready { return }
            if ready && status.controllerFatalStatus { throw .controllerFatal(during: "enable (waiting for CSTS.RDY = 1)") }
            if deadline.hasPassed {
                throw .timedOut(what: "CSTS.RDY to become \(ready ? 1 : 0) (CAP.TO)", milliseconds: timeoutMilliseconds)
            }
            backoff.sleep()
        }
    }

    // MARK: - Identify during bring-up (before `self` exists)

    static func identifyController(
        admin: inout AdminQueue, device: Device, registers: MMIORegion, timeout: Int, logger: Logger
    ) throws(NVMeError) -> IdentifyController {
        try identify(
            .identify(cns: .controller), name: "Identify Controller", admin: &admin, device: device, registers: registers,
            timeout: timeout, logger: logger)
    }

    static func identifyNamespace(
        _ id: UInt32, admin: inout AdminQueue, device: Device, registers: MMIORegion, timeout: Int, logger: Logger
    ) throws(NVMeError) -> IdentifyNamespace {
        try identify(
            .identify(cns: .namespace, namespaceID: id), name: "Identify Namespace \(id)", admin: &admin, device: device,
            registers: registers, timeout: timeout, logger: logger)
    }

    /// Active NSIDs (CNS 02h, 1024 per page, following pages start after the last id); for
    /// controllers older than 1.1 that lack it, every NSID up to NN whose NSZE is not zero.
    static func activeNamespaceIDs(
        admin: inout AdminQueue, device: Device, registers: MMIORegion, timeout: Int, identity: IdentifyController, logger: Logger
    ) throws(NVMeError) -> [UInt32] {
        var ids: [UInt32] = []
        var after: UInt32 = 0
        do throws(NVMeError) {
            while true {
                let page: ActiveNamespaceList = try identify(
                    .identify(cns: .activeNamespaceList, namespaceID: after), name: "Identify Active Namespace List",
                    admin: &admin, device: device, registers: registers, timeout: timeout, logger: logger)
                // Device data: ids must increase and exceed the one asked for (5.15.2.2), or a
                // page repeating itself would keep this loop going forever.
                var previous = after
                for id in page.namespaceIDs {
                    guard id > previous else {
                        throw .deviceMisbehaved(
                            "Identify Active Namespace List after NSID \(after) lists \(id) after \(previous); NSIDs must increase")
                    }
                    previous = id
                }
                ids += page.namespaceIDs
                // The last page is the one not full; NSIDs above NN are not valid, so stop there too,
                // and at a bound on bring-up work whatever the device claims.
                guard page.namespaceIDs.count == ActiveNamespaceList.capacity, let last = page.namespaceIDs.last,
                    last < 0xFFFF_FFFE, last < identity.numberOfNamespaces, ids.count < maximumNamespaces
                else { break }
                after = last
            }
        } catch {
            guard case .commandFailed(_, let status) = error, status.matches(.invalidFieldInCommand) else { throw error }
            // Before 1.1 (no CNS 02h): every NSID up to NN, where an inactive one may be refused
            // (Invalid Namespace or Format) or read as all zeroes; either way it is skipped.
            for id in 1...UInt32(max(1, min(identity.numberOfNamespaces, 1024))) {
                do throws(NVMeError) {
                    let data = try identifyNamespace(id, admin: &admin, device: device, registers: registers, timeout: timeout, logger: logger)
                    if data.size != 0 { ids.append(id) }
                } catch {
                    guard case .commandFailed = error else { throw error }
                    logger.debug("\(device.name): NSID \(id) skipped as inactive: \(error)")
                }
            }
        }
        // NSIDs are 1...NN (NVMe base 1.4, 6.1.2); ids beyond NN are device garbage.
        let limit = identity.numberOfNamespaces
        let valid = ids.filter { $0 <= limit }.prefix(maximumNamespaces).map { $0 }
        if valid.count != ids.count {
            logger.warning("\(device.name): ignoring active NSIDs above NN \(limit): \(ids.filter { $0 > limit })")
        }
        return valid
    }

    /// Namespaces the driver brings up at most (one Identify each): far beyond real controllers,
    /// small enough that a device claiming billions cannot stall bring-up.
    static var maximumNamespaces: Int { 1 << 14 }

    /// Runs one 4 KiB Identify into a temporary DMA page and decodes it.
    /// A command that did not complete may still write the page: the controller is quiesced
    /// before the page is released.
    static func identify<T: NVMeDataStructure>(
        _ command: SubmissionQueueEntry, name: String, admin: inout AdminQueue, device: Device, registers: MMIORegion, timeout: Int,
        logger: Logger
    ) throws(NVMeError) -> T {
        let page: DMABuffer
        do {
            page = try device.dma.allocate(length: 4096)
        } catch {
            throw .vfio(error)
        }
        do {
            _ = try admin.execute(command, data: page.whole, name: name, device: device, registers: registers, timeoutMilliseconds: timeout)
        } catch {
            if case .commandFailed = error { throw error }
            _ = quiesceDevice(
                registers: registers, device: device, readyTimeout: max(500, registers.read(ControllerRegister.capabilities).timeoutMilliseconds),
                reason: "\(name): \(error)", logger: logger)
            throw error
        }
        do {
            return try T(bytes: UnsafeRawBufferPointer(page.bytes))
        } catch {
            throw .malformedData("\(name): \(error)")
        }
    }
}
