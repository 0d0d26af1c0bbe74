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
import CNullDevice
import NVMe
import NullDMA
import VFIO

/// A null NVMe controller: a `PCIFunction` whose I/O queues complete every command at once,
/// successfully, without touching data. It exists so that a benchmark measures the driver's
/// cost per I/O and as little device work as possible.
///
/// - Bring-up is a minimal, spec-shaped controller (NVMe base 1.4, 7.6.1): CC.EN → CSTS.RDY,
///   Identify Controller/Namespace/Active Namespace List, Set Features Number of Queues, Create
///   and Delete I/O queues, CC.SHN → CSTS.SHST complete. No interrupts (poll mode only).
/// - The I/O path is `null_device_service` (C, `CNullDevice`), the same code the C reference
///   driver's benchmark calls, so both figures carry the same device work. For each new SQE it
///   writes a CQE with the command id, SQ id, new SQ head and phase tag; nothing else.
///
/// Stepped only: everything happens inside `service()` on the caller's thread. `@unchecked
/// Sendable` because `PCIFunction` requires `Sendable`; the contract is one thread at a time
/// (the thread that owns the controller and its one queue pair in a benchmark).
public final class NullNVMeController: NullFunction, @unchecked Sendable {
    public let identifiers: UInt32 = 0x0010_1B36
    public let name = "null"
    public let dma: DMAAllocator
    public let iommu: NullIOMMU
    /// Blocks of 512 bytes in namespace 1.
    public let namespaceBlocks: UInt64

    /// I/O queue pairs the controller grants.
    public static let maxQueuePairs = Int(NULL_DEVICE_MAX_QUEUES)
    static let barSize = 16 * 1024
    static let maxQueueEntries: UInt16 = 1023

    public let bar: MMIORegion
    /// The C engine's state (stable address: the doorbell and ring pointers live in it).
    let engine: UnsafeMutablePointer<null_device>
    let capabilities: Capabilities
    var admin: AdminState?
    var lastConfiguration: UInt32 = 0
    /// The admin SQ tail doorbell as last serviced.
    var lastAdminTail: UInt32 = 0
    var completionQueues: [UInt16: (memory: UnsafeMutableRawPointer, size: Int)] = [:]
    var busMaster = false

    struct AdminState {
        let sq: UnsafeMutableRawPointer
        let cq: UnsafeMutableRawPointer
        let sqSize: Int
        let cqSize: Int
        var sqHead = 0
        var cqTail = 0
        var phase = true
    }

    /// Namespace 1's size unless told otherwise: 1 GiB.
    public static let defaultNamespaceBlocks: UInt64 = 1 << 21

    public init(namespaceBlocks: UInt64 = defaultNamespaceBlocks) {
        let memory = mmap(nil, Self.barSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let memory, memory != MAP_FAILED else {
            fatalError("null device: mmap of its \(Self.barSize)-byte BAR failed (errno \(errno))")
        }
        bar = MMIORegion(base: memory, length: Self.barSize)
        iommu = NullIOMMU()
        dma = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        engine = .allocate(capacity: 1)
        engine.initialize(to: null_device())
        self.namespaceBlocks = namespaceBlocks
        var cap = Capabilities(rawValue: 0)
        cap.maxQueueEntries = Self.maxQueueEntries
        cap.contiguousQueuesRequired = true
        cap.timeout = 2
        cap.doorbellStride = 0
        cap.commandSetsSupported = 1
        cap.memoryPageSizeMinimum = 0
        cap.memoryPageSizeMaximum = 0
        capabilities = cap
        writeResetRegisters()
    }

    deinit {
        engine.deallocate()
        _ = munmap(bar.base, Self.barSize)
    }

    /// Completions the null engine has posted on I/O queues (for the benchmark's own checks).
    public var ioCompletions: UInt64 {
        var total: UInt64 = 0
        withUnsafeBytes(of: &engine.pointee.queues) { raw in
            let queues = raw.bindMemory(to: null_queue.self)
            for i in 0..<Int(engine.pointee.count) { total += queues[i].completed }
        }
        return total
    }

    // MARK: - The step

    /// I/O first (the hot path: one call into C), then two loads to notice a CC write or a new
    /// admin command; anything else is out of line.
    public func service() {
        if engine.pointee.count != 0 { _ = null_device_service(engine) }
        let cc = null_load32_acquire(bar.base + ControllerRegisterOffset.controllerConfiguration.rawValue)
        let adminTail = null_load32_acquire(bar.base + ControllerRegisterOffset.doorbellBase.rawValue)
        if cc != lastConfiguration || adminTail != lastAdminTail { serviceRegistersAndAdmin(cc) }
    }

    @inline(never)
    func serviceRegistersAndAdmin(_ cc: UInt32) {
        if cc != lastConfiguration { configurationChanged(to: cc) }
        if admin != nil { serviceAdmin() }
        lastAdminTail = null_load32_acquire(bar.base + ControllerRegisterOffset.doorbellBase.rawValue)
    }

    // MARK: - Registers

    func writeResetRegisters() {
        bar.store64(capabilities.rawValue, at: ControllerRegisterOffset.capabilities.rawValue)
        bar.store32(NVMeVersion.v1_4.rawValue, at: ControllerRegisterOffset.version.rawValue)
        bar.store32(0, at: ControllerRegisterOffset.controllerStatus.rawValue)
    }

    func configurationChanged(to raw: UInt32) {
        let old = ControllerConfiguration(rawValue: lastConfiguration)
        let new = ControllerConfiguration(rawValue: raw)
        lastConfiguration = raw
        var status = ControllerStatus(rawValue: bar.load32(at: ControllerRegisterOffset.controllerStatus.rawValue))
        if old.enable && !new.enable {
            resetQueues()
            status = ControllerStatus(rawValue: 0)
        } else if !old.enable && new.enable {
            if enableAdminQueues() {
                status.ready = true
            } else {
                status.controllerFatalStatus = true
            }
        }
        if new.shutdownNotification != .none && old.shutdownNotification == .none {
            status.shutdownStatus = .complete
        }
        bar.store32(status.rawValue, at: ControllerRegisterOffset.controllerStatus.rawValue)
    }

    func enableAdminQueues() -> Bool {
        let aqa = AdminQueueAttributes(rawValue: bar.load32(at: ControllerRegisterOffset.adminQueueAttributes.rawValue))
        let asq = bar.load64(at: ControllerRegisterOffset.adminSubmissionQueueBase.rawValue)
        let acq = bar.load64(at: ControllerRegisterOffset.adminCompletionQueueBase.rawValue)
        guard aqa.submissionQueueEntries >= 2, aqa.completionQueueEntries >= 2,
            let sq = iommu.translate(asq, length: aqa.submissionQueueEntries * 64),
            let cq = iommu.translate(acq, length: aqa.completionQueueEntries * 16)
        else { return false }
        admin = AdminState(sq: sq, cq: cq, sqSize: aqa.submissionQueueEntries, cqSize: aqa.completionQueueEntries)
        return true
    }

    /// CC.EN 1 → 0: every queue gone, doorbells zero.
    func resetQueues() {
        admin = nil
        completionQueues.removeAll()
        engine.pointee.count = 0
        for qid in 0...UInt16(Self.maxQueuePairs) {
            bar.store32(0, at: ControllerRegisterOffset.doorbellOffset(queue: qid, completion: false, stride: 0))
            bar.store32(0, at: ControllerRegisterOffset.doorbellOffset(queue: qid, completion: true, stride: 0))
        }
    }

    // MARK: - Admin queue

    func serviceAdmin() {
        guard var state = admin else { return }
        let tail = Int(bar.load32(at: ControllerRegisterOffset.doorbellBase.rawValue))
        guard tail < state.sqSize else { return }
        while state.sqHead != tail {
            let sqe = (state.sq + state.sqHead * 64).loadUnaligned(as: SubmissionQueueEntry.self)
            state.sqHead = (state.sqHead + 1) % state.sqSize
            // Asynchronous Event Requests stay outstanding: the null device has no events.
            if sqe.opcode == AdminOpcode.asynchronousEventRequest.rawValue { continue }
            let (status, result) = execute(sqe)
            let cqe = CompletionQueueEntry(
                commandSpecific: result, submissionQueueHead: UInt16(state.sqHead), submissionQueueID: 0,
                commandID: sqe.commandID, status: status, phase: state.phase)
            let slot = state.cq + state.cqTail * 16
            slot.storeBytes(of: cqe.commandSpecific, as: UInt32.self)
            slot.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            slot.storeBytes(of: cqe.submissionQueueHead, toByteOffset: 8, as: UInt16.self)
            slot.storeBytes(of: cqe.submissionQueueID, toByteOffset: 10, as: UInt16.self)
            slot.storeBytes(of: cqe.commandID, toByteOffset: 12, as: UInt16.self)
            null_store16_release(slot + 14, cqe.statusAndPhase)
            state.cqTail += 1
            if state.cqTail == state.cqSize {
                state.cqTail = 0
                state.phase.toggle()
            }
        }
        admin = state
    }

    func execute(_ sqe: SubmissionQueueEntry) -> (NVMeStatus, UInt32) {
        guard let opcode = AdminOpcode(rawValue: sqe.opcode) else { return (.invalidCommandOpcode, 0) }
        let qid = UInt16(truncatingIfNeeded: sqe.cdw10)
        let size = Int(sqe.cdw10 >> 16) + 1
        switch opcode {
        case .identify:
            return (identify(sqe), 0)
        case .setFeatures where sqe.cdw10 & 0xFF == UInt32(FeatureIdentifier.numberOfQueues.rawValue):
            let n = Self.maxQueuePairs
            return (.success, NumberOfQueues(submissionQueues: n, completionQueues: n).dword)
        case .createIOCompletionQueue:
            guard qid >= 1, Int(qid) <= Self.maxQueuePairs, completionQueues[qid] == nil else { return (.invalidQueueIdentifier, 0) }
            guard size >= 2, size <= Int(Self.maxQueueEntries) + 1 else { return (.invalidQueueSize, 0) }
            guard let memory = iommu.translate(sqe.prp1, length: size * 16) else { return (.dataTransferError, 0) }
            completionQueues[qid] = (memory, size)
            return (.success, 0)
        case .createIOSubmissionQueue:
            // One SQ per CQ, same id: what this driver creates, and all the null engine supports.
            guard let cq = completionQueues[qid], UInt16(truncatingIfNeeded: sqe.cdw11 >> 16) == qid else {
                return (.completionQueueInvalid, 0)
            }
            guard size == cq.size else { return (.invalidQueueSize, 0) }
            guard let memory = iommu.translate(sqe.prp1, length: size * 64) else { return (.dataTransferError, 0) }
            let sqDoorbell = bar.base + ControllerRegisterOffset.doorbellOffset(queue: qid, completion: false, stride: 0)
            let cqDoorbell = bar.base + ControllerRegisterOffset.doorbellOffset(queue: qid, completion: true, stride: 0)
            let added = null_device_add(
                engine, qid, UInt32(size), memory, cq.memory,
                sqDoorbell.assumingMemoryBound(to: UInt32.self), cqDoorbell.assumingMemoryBound(to: UInt32.self))
            return (added == 0 ? .success : .invalidQueueIdentifier, 0)
        case .deleteIOSubmissionQueue:
            guard null_device_remove(engine, qid) == 0 else { return (.invalidQueueIdentifier, 0) }
            bar.store32(0, at: ControllerRegisterOffset.doorbellOffset(queue: qid, completion: false, stride: 0))
            return (.success, 0)
        case .deleteIOCompletionQueue:
            guard completionQueues.removeValue(forKey: qid) != nil else { return (.invalidQueueIdentifier, 0) }
            bar.store32(0, at: ControllerRegisterOffset.doorbellOffset(queue: qid, completion: true, stride: 0))
            return (.success, 0)
        default:
            return (.success, 0)
        }
    }

    func identify(_ sqe: SubmissionQueueEntry) -> NVMeStatus {
        let page = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { page.deallocate() }
        page.initializeMemory(as: UInt8.self, repeating: 0)
        do throws(NVMeDataStructureError) {
            switch sqe.cdw10 & 0xFF {
            case UInt32(IdentifyCNS.controller.rawValue):
                try identifyController().encode(into: page)
            case UInt32(IdentifyCNS.namespace.rawValue):
                guard sqe.namespaceID == 1 else { return .invalidNamespaceOrFormat }
                try identifyNamespace().encode(into: page)
            case UInt32(IdentifyCNS.activeNamespaceList.rawValue):
                try ActiveNamespaceList(namespaceIDs: sqe.namespaceID < 1 ? [1] : []).encode(into: page)
            default:
                return .invalidFieldInCommand
            }
        } catch {
            return .invalidFieldInCommand
        }
        return copyToHost(sqe, UnsafeRawBufferPointer(page))
    }

    func identifyController() -> IdentifyController {
        var id = IdentifyController()
        id.vendorID = 0x1B36
        id.serialNumber = "NULL0001"
        id.modelNumber = "swift-vfio null device (benchmark)"
        id.firmwareRevision = "1.0"
        id.mdts = 0
        // SGLs without alignment rules, so that the benchmark can measure both data pointer forms
        // (the null device moves no data, so it reads neither PRPs nor SGLs).
        id.sgls = SGLSupport.supportedUnaligned.rawValue
        id.controllerID = 1
        id.version = .v1_4
        id.sqes = 0x66
        id.cqes = 0x44
        id.numberOfNamespaces = 1
        return id
    }

    func identifyNamespace() -> IdentifyNamespace {
        var ns = IdentifyNamespace()
        ns.size = namespaceBlocks
        ns.capacity = namespaceBlocks
        ns.utilization = 0
        var formats = ns.lbaFormats
        formats[0] = LBAFormat(lbaDataSize: 9)
        ns.lbaFormats = formats
        return ns
    }

    /// Copies `bytes` to the PRP1/PRP2 pages of `sqe` (at most two pages: Identify's 4 KiB).
    func copyToHost(_ sqe: SubmissionQueueEntry, _ bytes: UnsafeRawBufferPointer) -> NVMeStatus {
        let first = min(bytes.count, 4096 - Int(sqe.prp1 & 0xFFF))
        guard let p1 = iommu.translate(sqe.prp1, length: first) else { return .dataTransferError }
        p1.copyMemory(from: bytes.baseAddress!, byteCount: first)
        if first < bytes.count {
            guard let p2 = iommu.translate(sqe.prp2, length: bytes.count - first) else { return .dataTransferError }
            p2.copyMemory(from: bytes.baseAddress! + first, byteCount: bytes.count - first)
        }
        return .success
    }

    // MARK: - PCIFunction (the rest is NullFunction's)

    public func enableBusMaster() throws(VFIOError) { busMaster = true }

    public func reset() throws(VFIOError) {
        resetQueues()
        lastConfiguration = 0
        bar.store32(0, at: ControllerRegisterOffset.controllerConfiguration.rawValue)
        writeResetRegisters()
    }
}
