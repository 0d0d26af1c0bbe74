import CShims
import NVMe
import Synchronization
import VFIO

/// An NVMe controller in software, presented as a PCI function: the peer of `VFIODevice` that
/// drivers run against when there is no hardware (NVMe base 1.4 subset; see the issue for the list).
///
/// The driver reaches BAR0 through the same `MMIORegion` accessors as a real BAR, DMA memory
/// through `dma` (mapped in the emulated IOMMU, which every controller access goes through), and
/// interrupts through real eventfds. The controller notices register and doorbell writes by
/// reading BAR memory:
/// - `.stepped`: only inside `service()`, on the caller's thread, which processes everything
///   pending. Deterministic; the driver's wait loops call it.
/// - `.threaded`: on the controller's own thread; `service()` does nothing.
///
/// Thread-safe: all state is behind one lock (`Mutex`), the BAR is shared through atomic accesses.
public final class EmulatedNVMeController: PCIFunction {
    public let name = "emulated"
    public let configuration: EmulatedNVMeConfiguration
    /// The IOMMU the controller's DMA goes through; its fault list is what tests check.
    public let iommu: EmulatedIOMMU
    public let dma: DMAAllocator
    public var numaNode: Int? { nil }

    let core: ControllerCore
    private let thread: Mutex<ControllerThread?>

    public init(configuration: EmulatedNVMeConfiguration = EmulatedNVMeConfiguration()) throws(EmulatorError) {
        let problems = configuration.validationErrors()
        guard problems.isEmpty else { throw .invalidConfiguration(problems) }
        let layout = BARLayout(
            doorbellStrideExponent: Int(configuration.doorbellStride), maxIOQueuePairs: configuration.maxIOQueuePairs,
            msixVectors: configuration.msixVectors)
        var storage: [NamespaceStorage] = []
        for namespace in configuration.namespaces { storage.append(try NamespaceStorage(namespace)) }
        guard let memory = shim_mmap_anonymous(layout.size, 0) else {
            throw .barAllocation(bytes: layout.size, errno: shim_errno())
        }
        let region = MMIORegion(base: memory, length: layout.size)
        let iommu = EmulatedIOMMU()
        let engine = ControllerEngine(
            configuration: configuration, layout: layout, bar: BARMemory(region: region), iommu: iommu, namespaces: storage)
        let core = ControllerCore(engine: engine, bar: region)
        self.configuration = configuration
        self.iommu = iommu
        self.core = core
        self.dma = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        if configuration.mode == .threaded {
            thread = Mutex(try ControllerThread(core: core))
        } else {
            thread = Mutex(nil)
        }
    }

    /// Stops the controller thread (threaded mode). The object stays usable in the sense that its
    /// registers can be read, but nothing is processed any more. Idempotent; `deinit` does it too.
    public func close() {
        thread.withLock { $0 = nil }
    }

    // MARK: - PCIFunction

    public func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 {
        try checkConfig(offset, 4)
        return core.withEngine { $0.removed ? .max : $0.pciConfig.read32(at: offset) }
    }

    public func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 {
        try checkConfig(offset, 2)
        return core.withEngine { $0.removed ? .max : $0.pciConfig.read16(at: offset) }
    }

    public func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError) {
        try checkConfig(offset, 4)
        core.withEngine { $0.writeConfig(value, at: offset, width: 4) }
    }

    public func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError) {
        try checkConfig(offset, 2)
        core.withEngine { $0.writeConfig(UInt32(value), at: offset, width: 2) }
    }

    private func checkConfig(_ offset: Int, _ width: Int) throws(VFIOError) {
        guard offset >= 0, offset + width <= PCIConfigSpace.size, offset % width == 0 else {
            throw .outOfRange(what: "config space offset", value: UInt64(truncatingIfNeeded: offset), limit: UInt64(PCIConfigSpace.size))
        }
    }

    public func enableBusMaster() throws(VFIOError) {
        core.withEngine { e in
            let command = e.pciConfig.command | PCIConfigSpace.commandMemory | PCIConfigSpace.commandBusMaster
            e.writeConfig(UInt32(command), at: 0x04, width: 2)
        }
    }

    public func region(bar: Int) throws(VFIOError) -> MMIORegion {
        guard bar == 0 else { throw .outOfRange(what: "BAR index (the emulated controller has BAR0 only)", value: UInt64(truncatingIfNeeded: bar), limit: 0) }
        return core.bar
    }

    public func interruptCount(_ kind: InterruptKind) -> Int {
        switch kind {
        case .msix: return configuration.msixVectors
        case .intx: return 1
        case .msi: return 0
        }
    }

    /// Creates `count` eventfds and enables them, as `VFIO_DEVICE_SET_IRQS` with
    /// `VFIO_IRQ_SET_ACTION_TRIGGER` does: for MSI-X, the capability's enable bit is set and the
    /// first `count` table entries are unmasked (the kernel programs and unmasks them).
    public func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) {
        let available = interruptCount(kind)
        guard count >= 1, count <= available else {
            throw .interruptsUnavailable(kind: kind.description, requested: count, available: available)
        }
        var fds: [VectorEventFD] = []
        for _ in 0..<count { fds.append(VectorEventFD(try EventFD())) }
        let old = core.withEngine { e in
            let old = e.interrupts.eventFDs
            e.enableInterrupts(kind, eventFDs: fds)
            return old
        }
        _ = old  // closed here, outside the lock
    }

    public func disableInterrupts() throws(VFIOError) {
        let old = core.withEngine { e in
            let old = e.interrupts.eventFDs
            e.disableInterrupts()
            return old
        }
        _ = old
    }

    public func interruptEventFD(vector: Int) -> Int32? {
        core.withEngine { e in
            guard vector >= 0, vector < e.interrupts.eventFDs.count else { return nil }
            return e.interrupts.eventFDs[vector].eventFD.rawValue
        }
    }

    /// Sets or clears the MSI-X table entry's mask bit (INTx: the vfio automask). A message held
    /// while masked is delivered at unmask, and its PBA bit cleared (PCI 3.0, 6.8.2.9).
    public func setInterruptMasked(vector: Int, _ masked: Bool) {
        core.withEngine { $0.setVectorMasked(vector, masked) }
    }

    public func unmaskINTx() throws(VFIOError) {
        core.withEngine { $0.setVectorMasked(0, false) }
    }

    /// Function level reset: the controller returns to its power-on state (CC, AQA, ASQ, ACQ,
    /// queues, features). Config space and MSI-X, which vfio-pci saves and restores around a
    /// reset, are kept.
    public func reset() throws(VFIOError) {
        core.withEngine { $0.functionLevelReset() }
    }

    public func service() {
        guard configuration.mode == .stepped else { return }
        _ = core.withEngine { $0.step() }
    }

    // MARK: - Inspection and fault control (tests, benchmarks, the tool)

    public var statistics: ControllerStatistics { core.withEngine { $0.statistics.snapshot } }

    public var faultCounters: FaultCounters { core.withEngine { $0.faults.counters } }

    /// DMA faults the IOMMU recorded (shorthand for `iommu.faults`).
    public var dmaFaults: [DMAFault] { iommu.faults }

    /// Replaces the fault plan; rule counters and the generator start over.
    public func setFaultPlan(_ plan: FaultPlan) {
        core.withEngine { $0.faults = FaultInjector(plan: plan) }
    }

    /// Queues an asynchronous event (NVMe base 1.4, 5.2): type (0 error, 1 SMART/health,
    /// 2 notice, ...), information, and the log page that clears it.
    public func raiseAsynchronousEvent(type: UInt8, info: UInt8, logPage: UInt8) {
        core.withEngine { $0.events.append(AsynchronousEvent(type: type, info: info, logPage: logPage)) }
    }

    /// Surprise removal (a hot-unplug or a dead link): from now on every BAR0 and config space read
    /// returns all ones, as reads of a missing PCIe function complete; the driver's writes are
    /// wiped at the next step, and the controller does nothing, whatever is written. Not undoable.
    public func simulateSurpriseRemoval() {
        core.withEngine { e in
            e.removed = true
            e.halted = true
            e.fillBARWithOnes()
        }
    }

    /// Changes how the controller takes a reset, to test a driver's recovery: `readyDelayNanoseconds`
    /// replaces the configured CSTS.RDY delay for later enables (nil: back to the configured one);
    /// `ignoresDisable` makes it ignore CC.EN 1 → 0 (CSTS.RDY stays 1), so only a function level
    /// reset helps, as with a wedged controller.
    public func setResetBehaviour(readyDelayNanoseconds: UInt64? = nil, ignoresDisable: Bool = false) {
        core.withEngine { e in
            e.readyDelayOverride = readyDelayNanoseconds
            e.ignoresDisable = ignoresDisable
        }
    }

    /// Why the last CC.EN 0 → 1 failed (CSTS.CFS was set), or nil.
    public var lastEnableError: String? { core.withEngine { $0.lastEnableError } }

    /// True after a fatal error or a stop-responding fault, until a controller reset.
    public var isHalted: Bool { core.withEngine { $0.halted } }

    /// Completions owed and not yet posted (latency, delays, a full CQ), over all queues.
    public var owedCompletions: Int { core.withEngine { $0.pending.reduce(0) { $0 + $1.count } } }

    /// Bytes of backing storage a namespace uses (memory chunks or file blocks), nil for an unknown NSID.
    public func allocatedBytes(namespace nsid: UInt32) -> UInt64? {
        core.withEngine { e in e.activeNamespaceIndex(nsid).map { e.namespaces[$0].allocatedBytes } }
    }

    /// BAR0 offsets of the MSI-X table and PBA (also in the MSI-X capability).
    public var msixTableOffset: Int { core.withEngine { $0.layout.msixTableOffset } }
    public var msixPBAOffset: Int { core.withEngine { $0.layout.msixPBAOffset } }
}

extension ControllerEngine {
    /// A config space write and its side effects: an FLR request through PCIe Device Control.
    mutating func writeConfig(_ value: UInt32, at offset: Int, width: Int) {
        pciConfig.write(value, at: offset, width: width)
        if pciConfig.functionLevelResetRequested {
            pciConfig.clearFunctionLevelReset()
            functionLevelReset()
        }
    }

    mutating func enableInterrupts(_ kind: InterruptKind, eventFDs: [VectorEventFD]) {
        disableInterrupts()
        interrupts.kind = kind
        interrupts.eventFDs = eventFDs
        switch kind {
        case .msix:
            pciConfig.write(UInt32(pciConfig.msixControl | PCIConfigSpace.msixEnable), at: PCIConfigSpace.msixOffset + 2, width: 2)
            for v in 0..<eventFDs.count {
                // What the kernel writes: the x86 MSI address and a vector-numbered message.
                bar.store32(0xFEE0_0000, layout.msixMessageAddress(v))
                bar.store32(UInt32(v), layout.msixMessageData(v))
                bar.store32(0, layout.msixVectorControl(v))
            }
        case .intx:
            pciConfig.write(UInt32(pciConfig.command & ~PCIConfigSpace.commandINTxDisable), at: 0x04, width: 2)
        case .msi:
            break
        }
    }

    mutating func disableInterrupts() {
        if interrupts.kind == .msix {
            pciConfig.write(UInt32(pciConfig.msixControl & ~PCIConfigSpace.msixEnable), at: PCIConfigSpace.msixOffset + 2, width: 2)
            for v in 0..<layout.msixVectors { bar.store32(1, layout.msixVectorControl(v)) }
            for v in interrupts.pendingVectors { setPending(v, false) }
        }
        interrupts = InterruptState(vectors: configuration.msixVectors)
    }

    mutating func setVectorMasked(_ vector: Int, _ masked: Bool) {
        switch interrupts.kind {
        case .msix:
            guard vector >= 0, vector < layout.msixVectors else { return }
            bar.store32(masked ? 1 : 0, layout.msixVectorControl(vector))
            if !masked { _ = serviceInterrupts() }
        case .intx:
            guard vector == 0 else { return }
            interrupts.intxMaskedUntilUnmask = masked
            if !masked { _ = serviceInterrupts() }
        case .msi, nil:
            return
        }
    }
}
