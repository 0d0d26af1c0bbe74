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

import NVMeSpec
import PCIEmulation
import VFIO

/// All of the emulated controller's state and behaviour, owned by one lock. Public only as
/// `EmulatedNVMeController`'s engine type; its members are the module's own.
///
/// Whoever holds the lock runs `step()`: the driver's thread inside `service()` in stepped mode,
/// the controller's own thread in threaded mode. Everything the driver hands over (register
/// values, doorbells, SQEs, PRPs, queue sizes) is untrusted: each is checked and answered with the
/// status the spec names, and nothing here traps on a value the host chose.
public struct ControllerEngine: EmulatedPCIEngine {
    let configuration: EmulatedNVMeConfiguration
    let layout: BARLayout
    let bar: BARMemory
    /// BAR2, the Controller Memory Buffer (ControllerMemoryBuffer.swift), when configured.
    let controllerMemory: BARMemory?
    /// CMBMSC as last seen, and the controller addresses of the buffer while CMBMSC.CMSE is set.
    var memoryBufferControl: UInt64 = 0
    var memoryBufferWindow: Range<UInt64>?
    let iommu: EmulatedIOMMU
    let capabilities: Capabilities
    /// MDTS in bytes (2^MDTS units of CAP.MPSMIN), nil for no limit.
    let maxTransferBytes: Int?
    let namespaces: [NamespaceStorage]
    /// Per namespace, its metadata (MetadataTransfer.swift), nil for a namespace without.
    let metadataStores: [NamespaceStorage?]

    /// Config space, MSI-X (table and PBA in BAR0), interrupt eventfds, the IOMMU.
    public var pci: PCIFunctionState

    // Controller registers (NVMe base 1.4, 3.1).
    var lastCC: UInt32 = 0
    var status = ControllerStatus(rawValue: 0)
    var interruptMask: UInt32 = 0
    /// When CSTS.RDY is to follow CC.EN (readyDelayNanoseconds).
    var readyAt: UInt64?
    var shutdownInProgress = false
    /// Set by a fatal error or the stop-responding fault: nothing is fetched or posted until reset.
    var halted = false
    /// Test controls for the driver's reset path (`EmulatedNVMeController.setResetBehaviour`):
    /// a CSTS.RDY delay replacing the configured one, and a controller that ignores CC.EN 1 → 0
    /// (only a function level reset resets it).
    var readyDelayOverride: UInt64?
    var ignoresDisable = false
    /// Identify data replaced by `EmulatedNVMeController.setIdentifyData`, by CNS.
    var identifyOverrides: [UInt8: [UInt8]] = [:]
    var pageSize = 4096
    var lastEnableError: String?

    // Queues, indexed by queue id (0 = admin).
    var submissionQueues: [SubmissionQueueState?]
    var completionQueues: [CompletionQueueState?]
    var pending: [[PendingCompletion]]
    /// Ids of the queues that exist, ascending, so a step costs what is in use, not the maximum.
    var liveSubmissionQueues: [Int] = []
    var liveCompletionQueues: [Int] = []
    var lost: [LostCommand] = []
    /// Data owed to the host after its completion (`FaultAction.lateData`), oldest first.
    var lateWrites: [LateWrite] = []
    /// While a command with `lateData` executes: the delay, and the transfer it captured.
    var lateDataNanoseconds: UInt64?
    var capturedLateWrite: LateWrite?
    /// While set (`FaultAction.floodAdminCompletions`), the command id every flooded entry carries.
    var floodCommandID: UInt16?
    /// Completions to post again when their command id is reused (`staleCompletionOnReuse`).
    var staleCompletions: [PendingCompletion] = []

    var features: FeatureState
    var outstandingEventRequests: [UInt16] = []
    var events: [AsynchronousEvent] = []
    /// Log pages with an event reported and not yet read; further events for them wait (5.2).
    var maskedEventLogPages: Set<UInt8> = []
    /// Attached namespaces, their sizes, and the Changed Namespace List (`NamespaceChanges.swift`).
    var attachment = NamespaceAttachmentState()
    /// SMART / Health Critical Warning bits the health log reports (`setCriticalWarning`).
    var criticalWarning: UInt8 = 0

    var errorLog: [ErrorInformationEntry] = []
    var errorCount: UInt64 = 0
    let createdAt = MonotonicClock.nanoseconds()

    var faults: FaultInjector
    var statistics = StatisticsCounters()

    // Scratch space reused by every command, so the I/O path does not allocate.
    var segments: [(iova: UInt64, length: Int)] = []
    var hostBuffers: [UnsafeMutableRawBufferPointer] = []
    /// Where bit bucket bytes of a read go (`walkSGL`).
    let discardPage = DiscardPage()

    static let errorLogEntries = 64
    static let eventRequestLimit = 4
    static let abortLimit = 4
    static let lostHistory = 4096

    init(configuration: EmulatedNVMeConfiguration, layout: BARLayout, bar: BARMemory, iommu: EmulatedIOMMU,
         namespaces: [NamespaceStorage], metadata: [NamespaceStorage?] = [], controllerMemory: BARMemory? = nil) {
        self.configuration = configuration
        self.layout = layout
        self.bar = bar
        self.controllerMemory = controllerMemory
        self.iommu = iommu
        self.namespaces = namespaces
        self.metadataStores = metadata
        var cap = Capabilities(rawValue: 0)
        cap.maxQueueEntries = configuration.maxQueueEntries
        cap.contiguousQueuesRequired = true
        cap.timeout = configuration.timeout
        cap.doorbellStride = configuration.doorbellStride
        cap.commandSetsSupported = 1
        cap.memoryPageSizeMinimum = configuration.memoryPageSizeMinimum
        cap.memoryPageSizeMaximum = configuration.memoryPageSizeMaximum
        cap.controllerMemoryBufferSupported = controllerMemory != nil
        capabilities = cap
        if configuration.maxDataTransferSize == 0 {
            maxTransferBytes = nil
        } else {
            maxTransferBytes = cap.minimumPageSize << Int(configuration.maxDataTransferSize)
        }
        pci = PCIFunctionState(config: Self.configSpace(layout, controllerMemoryBytes: controllerMemory?.region.length ?? 0), msix: layout.msixTable(in: bar.region), iommu: iommu)
        let queueSlots = layout.maxQueueID + 1
        submissionQueues = Array(repeating: nil, count: queueSlots)
        completionQueues = Array(repeating: nil, count: queueSlots)
        pending = Array(repeating: [], count: queueSlots)
        features = FeatureState(vectors: configuration.msixVectors, volatileWriteCache: configuration.volatileWriteCache)
        faults = FaultInjector(plan: configuration.faultPlan)
        segments.reserveCapacity(512)
        hostBuffers.reserveCapacity(512)
        writeResetRegisters()
    }

    /// Power-on register values: CAP and VS, everything else zero.
    mutating func writeResetRegisters() {
        bar.store64(capabilities.rawValue, ControllerRegisterOffset.capabilities.rawValue)
        bar.store32(NVMeVersion.v1_4.rawValue, ControllerRegisterOffset.version.rawValue)
        for r in [ControllerRegisterOffset.interruptMaskSet, .interruptMaskClear, .controllerConfiguration,
                  .controllerStatus, .nvmSubsystemReset, .adminQueueAttributes] {
            bar.store32(0, r.rawValue)
        }
        bar.store64(0, ControllerRegisterOffset.adminSubmissionQueueBase.rawValue)
        bar.store64(0, ControllerRegisterOffset.adminCompletionQueueBase.rawValue)
        lastCC = 0
        status = ControllerStatus(rawValue: 0)
        interruptMask = 0
        resetControllerMemoryBuffer()
    }

    // MARK: - The step

    /// Processes everything pending: register changes, doorbells, due completions, interrupts.
    mutating func step() -> DeviceWork {
        var result = DeviceWork()
        if pci.removed {
            // Register writes the driver made since land in plain memory; a missing function reads
            // all ones. Only the controller registers (CAP to ACQ, 0x00-0x37) are restored per step:
            // they are what a driver reads; the whole BAR was filled at removal.
            for offset in stride(from: 0, to: 0x38, by: 4) { bar.store32(.max, offset) }
            return result
        }
        if handleRegisters() { result.worked = true }
        if status.ready && !halted && !shutdownComplete {
            checkUnusedDoorbells()
            for qid in liveCompletionQueues { refreshHead(qid) }
            // Fetching can make room-dependent progress only after posting and vice versa; both are
            // bounded by the queues' sizes, so this loop ends.
            while true {
                var progress = false
                for qid in liveSubmissionQueues {
                    if processSubmissionQueue(qid) { progress = true }
                    if halted { break }
                }
                if halted { break }
                if postDueCompletions() { progress = true }
                if deliverAsynchronousEvents() { progress = true }
                if performDueLateWrites() { progress = true }
                guard progress else { break }
                result.worked = true
            }
        }
        if status.ready && !halted, floodCommandID != nil, floodAdminCompletionQueue() { result.worked = true }
        if serviceInterrupts() { result.worked = true }
        result.waitingOnTime = readyAt != nil || shutdownInProgress || hasTimedWork || !lateWrites.isEmpty
        return result
    }

    /// What a removed function's BAR reads: all ones. Word stores, like every other BAR access
    /// here, since the driver may be reading concurrently.
    func fillBARWithOnes() {
        for offset in stride(from: 0, to: bar.region.length & ~3, by: 4) { bar.store32(.max, offset) }
    }

    var shutdownComplete: Bool { status.shutdownStatus == .complete }

    var hasTimedWork: Bool {
        for qid in liveCompletionQueues where !pending[qid].isEmpty || completionQueues[qid]!.unsignalled > 0 { return true }
        return false
    }

    /// Called after a queue is created or deleted.
    mutating func queuesChanged() {
        liveSubmissionQueues = submissionQueues.indices.filter { submissionQueues[$0] != nil }
        liveCompletionQueues = completionQueues.indices.filter { completionQueues[$0] != nil }
    }

    // MARK: - Registers

    /// Notices CC, INTMS/INTMC and NSSR writes and keeps read-only registers read-only.
    mutating func handleRegisters() -> Bool {
        var worked = false
        if bar.load64(ControllerRegisterOffset.capabilities.rawValue) != capabilities.rawValue {
            bar.store64(capabilities.rawValue, ControllerRegisterOffset.capabilities.rawValue)
        }
        if bar.load32(ControllerRegisterOffset.version.rawValue) != NVMeVersion.v1_4.rawValue {
            bar.store32(NVMeVersion.v1_4.rawValue, ControllerRegisterOffset.version.rawValue)
        }
        if bar.load32(ControllerRegisterOffset.controllerStatus.rawValue) != status.rawValue {
            publishStatus()
        }
        // Checked before CC, so the step that saw CC.SHN leaves SHST at "occurring".
        if shutdownInProgress {
            // One step in "occurring", so a driver's wait loop sees the transition (3.1.6).
            shutdownInProgress = false
            status.shutdownStatus = .complete
            publishStatus()
            worked = true
        }
        let cc = bar.load32(ControllerRegisterOffset.controllerConfiguration.rawValue)
        if cc != lastCC {
            let old = ControllerConfiguration(rawValue: lastCC)
            lastCC = cc
            configurationChanged(from: old, to: ControllerConfiguration(rawValue: cc))
            worked = true
        }
        if let at = readyAt, MonotonicClock.nanoseconds() >= at {
            readyAt = nil
            status.ready = ControllerConfiguration(rawValue: lastCC).enable
            publishStatus()
            worked = true
        }
        // INTMS/INTMC (3.1.3, 3.1.4) only matter for INTx and MSI. Writes of 1 set/clear mask bits;
        // INTMS reads back the mask, INTMC reads 0 here (plain memory cannot keep two views of one value).
        let set = bar.load32(ControllerRegisterOffset.interruptMaskSet.rawValue)
        if set != interruptMask {
            interruptMask |= set
            bar.store32(interruptMask, ControllerRegisterOffset.interruptMaskSet.rawValue)
            worked = true
        }
        let clear = bar.load32(ControllerRegisterOffset.interruptMaskClear.rawValue)
        if clear != 0 {
            interruptMask &= ~clear
            bar.store32(interruptMask, ControllerRegisterOffset.interruptMaskSet.rawValue)
            bar.store32(0, ControllerRegisterOffset.interruptMaskClear.rawValue)
            worked = true
        }
        if controllerMemoryRegistersChanged() { worked = true }
        // NSSR (3.1.8): "NVMe" starts a subsystem reset; NSSRS is 0, so the write is ignored and cleared.
        if bar.load32(ControllerRegisterOffset.nvmSubsystemReset.rawValue) != 0 {
            bar.store32(0, ControllerRegisterOffset.nvmSubsystemReset.rawValue)
        }
        return worked
    }

    mutating func publishStatus() {
        bar.store32(status.rawValue, ControllerRegisterOffset.controllerStatus.rawValue)
    }

    /// CC.EN and CC.SHN transitions (NVMe base 1.4, 3.1.5, 7.6.1 initialization, 7.6.2 shutdown).
    mutating func configurationChanged(from old: ControllerConfiguration, to new: ControllerConfiguration) {
        if old.enable && !new.enable {
            if ignoresDisable { return }
            controllerReset()
            return
        }
        if !old.enable && new.enable {
            enable(new)
        }
        if new.shutdownNotification != .none && old.shutdownNotification == .none {
            if status.ready {
                status.shutdownStatus = .occurring
                shutdownInProgress = true
            } else {
                status.shutdownStatus = .complete
            }
            publishStatus()
        }
    }

    /// CC.EN 0 → 1: check what the host configured and create the admin queues.
    mutating func enable(_ cc: ControllerConfiguration) {
        let aqa = AdminQueueAttributes(rawValue: bar.load32(ControllerRegisterOffset.adminQueueAttributes.rawValue))
        let asq = bar.load64(ControllerRegisterOffset.adminSubmissionQueueBase.rawValue)
        let acq = bar.load64(ControllerRegisterOffset.adminCompletionQueueBase.rawValue)
        var problem: String?
        if cc.commandSetSelected != 0 {
            problem = "CC.CSS \(cc.commandSetSelected) is not the NVM command set"
        } else if cc.memoryPageSize < capabilities.memoryPageSizeMinimum || cc.memoryPageSize > capabilities.memoryPageSizeMaximum {
            problem = "CC.MPS \(cc.memoryPageSize) is outside CAP.MPSMIN...MPSMAX"
        } else if aqa.submissionQueueSize < 1 || aqa.completionQueueSize < 1 {
            problem = "AQA queue sizes must be at least 2 entries"
        } else if (cc.ioSubmissionQueueEntrySize != 0 && cc.ioSubmissionQueueEntrySize != 6)
                    || (cc.ioCompletionQueueEntrySize != 0 && cc.ioCompletionQueueEntrySize != 4) {
            problem = "CC.IOSQES/IOCQES must be 6 and 4 (64-byte SQEs, 16-byte CQEs)"
        } else if asq & UInt64(cc.memoryPageSizeBytes - 1) != 0 || acq & UInt64(cc.memoryPageSizeBytes - 1) != 0 || asq == 0 || acq == 0 {
            problem = "ASQ and ACQ must be non-zero and aligned to CC.MPS"
        }
        if let problem {
            // The spec leaves an invalid enable undefined; a fatal status makes it visible.
            lastEnableError = problem
            status.controllerFatalStatus = true
            publishStatus()
            return
        }
        lastEnableError = nil
        pageSize = cc.memoryPageSizeBytes
        status.shutdownStatus = .normal
        completionQueues[0] = CompletionQueueState(
            id: 0, base: acq, size: aqa.completionQueueEntries, interruptsEnabled: true, vector: 0)
        submissionQueues[0] = SubmissionQueueState(id: 0, base: asq, size: aqa.submissionQueueEntries, completionQueue: 0)
        completionQueues[0]!.submissionQueues = 1
        queuesChanged()
        let readyDelay = readyDelayOverride ?? configuration.readyDelayNanoseconds
        if readyDelay == 0 {
            status.ready = true
        } else {
            readyAt = MonotonicClock.nanoseconds() + readyDelay
        }
        publishStatus()
    }

    /// CC.EN 1 → 0 (7.3.2): every queue deleted, outstanding commands gone, features back to
    /// their defaults, CSTS cleared (including CFS, which only a reset recovers from), doorbells zero.
    mutating func controllerReset() {
        for qid in submissionQueues.indices {
            submissionQueues[qid] = nil
            completionQueues[qid] = nil
            pending[qid].removeAll()
            bar.store32(0, layout.submissionTailDoorbell(qid))
            bar.store32(0, layout.completionHeadDoorbell(qid))
        }
        queuesChanged()
        lost.removeAll()
        lateWrites.removeAll()
        floodCommandID = nil
        staleCompletions.removeAll()
        outstandingEventRequests.removeAll()
        events.removeAll()
        maskedEventLogPages.removeAll()
        features = FeatureState(vectors: configuration.msixVectors, volatileWriteCache: configuration.volatileWriteCache)
        halted = false
        readyAt = nil
        shutdownInProgress = false
        status = ControllerStatus(rawValue: 0)
        publishStatus()
    }

    /// A function level reset's part in the controller: the controller reset plus every register
    /// back to its power-on value.
    public mutating func resetDevice() {
        controllerReset()
        writeResetRegisters()
        publishStatus()
    }

    /// Surprise removal (`simulateSurpriseRemoval()`): the controller stops, its BAR reads all
    /// ones (refilled at every step), and nothing runs any more, not even a reset.
    public mutating func functionRemoved() {
        halted = true
        fillBARWithOnes()
    }

    /// An unmasked vector may release coalesced or held interrupts at once.
    public mutating func interruptUnmasked(vector: Int) {
        _ = serviceInterrupts()
    }

    /// Sets CSTS.CFS and stops: what a controller does when it cannot even post a completion.
    mutating func fatal() {
        status.controllerFatalStatus = true
        publishStatus()
        halted = true
    }
}
