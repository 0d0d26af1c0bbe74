import CShims
import NIC
import NetFrames
import Synchronization
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// An Intel 82574L Gigabit Ethernet controller in software, presented as a PCI function: the peer
/// of `VFIODevice` that the NIC driver runs against on a host with no NIC to spare. It models what
/// QEMU 7.2's `-device e1000e` implements and a polled or MSI-X userspace driver uses, so the same
/// driver then runs unchanged against QEMU in a VM.
///
/// - BAR0 (128 KiB of registers) is trapped: every driver load and store through `MMIORegion`
///   runs the register's behaviour at once, read side effects included (`MMIOTrap`). BAR3 holds
///   the MSI-X table and PBA as plain memory.
/// - DMA goes through `iommu` (`dma` allocates mapped memory); refused accesses are recorded,
///   and the device never touches memory that is not mapped.
/// - Interrupts are eventfds, as vfio-pci delivers them; a masked MSI-X vector holds its message
///   (PBA bit) until unmasked.
/// - The wire: `inject(frame:)` puts a frame on the receive side, `takeTransmittedFrames()` takes
///   what was sent, `cable(_:_:)` connects two devices back to back, `loopback` turns transmit
///   back into receive.
/// - `.stepped`: transmissions, received frames and throttled interrupts are processed only in
///   `service()`, on the caller's thread (register accesses act at once, on the accessing thread).
///   `.threaded`: a device thread does that work and `service()` does nothing.
///
/// Where it differs from QEMU 7.2's model, on purpose (a driver correct on both is the aim):
/// - The link comes up only once the driver sets CTRL.SLU (QEMU: up from reset).
/// - CTRL.RST resets every MAC register (QEMU 7.2 reloads only RAL0/RAH0); a driver that
///   initialises everything after its reset behaves the same on both.
/// - A frame with no posted descriptor is dropped and counted in MPC and RNBC, with RXO (QEMU
///   holds it in its net queue until RDT moves).
/// - MPC clears on read; GPRC/GORC/GPTC/GOTC count on their own (QEMU 7.2 copies TPR/TOR/TPT/TOT
///   into them, so there only reading both keeps totals right).
/// - A throttled MSI-X message re-arms the EITR interval when it is finally sent.
/// Not emulated: RDTR/RADV/TIDV/TADV delays (legacy-mode interrupt moderation), packet-split
/// receive descriptors, transmit offloads (context descriptors are consumed, nothing is inserted
/// or segmented), VLAN tagging and filtering, MSI (INTx and MSI-X only), flow control, EEPROM
/// writes, time sync, and PHY registers beyond control, status and identifiers.
///
/// Thread-safe: all state is behind one lock.
public final class EmulatedE1000E: PCIFunction {
    public let name: String
    public let configuration: EmulatedE1000EConfiguration
    /// The IOMMU every DMA goes through; its faults are what tests check.
    public let iommu: EmulatedIOMMU
    public let dma: DMAAllocator
    public var numaNode: Int? { nil }

    let core: NICCore
    private let registers: MMIORegion
    private let msixMemory: MMIORegion
    private let thread: Mutex<DeviceThread?>

    /// Why the emulated NIC cannot run in this process, or nil when it can: tests of it use this
    /// to skip (with the reason) rather than hang or crash.
    public static var unavailableReason: NICEmulatorError? {
        #if !arch(x86_64)
        return .unsupportedArchitecture
        #else
        return MMIOTrap.underThreadSanitizer ? .underThreadSanitizer : nil
        #endif
    }

    public init(configuration: EmulatedE1000EConfiguration = EmulatedE1000EConfiguration()) throws(NICEmulatorError) {
        #if !arch(x86_64)
        throw .unsupportedArchitecture
        #else
        if MMIOTrap.underThreadSanitizer { throw .underThreadSanitizer }
        let problems = configuration.validationErrors()
        guard problems.isEmpty else { throw .invalidConfiguration(problems) }
        guard let msixBase = shim_mmap_anonymous(E1000EConfigSpace.msixBARSize, 0) else {
            throw .mapping(bytes: E1000EConfigSpace.msixBARSize, errno: shim_errno())
        }
        let msix = MMIORegion(base: msixBase, length: E1000EConfigSpace.msixBARSize)
        let iommu = EmulatedIOMMU()
        let engine = NICEngine(configuration: configuration, iommu: iommu, msix: msix)
        let core = NICCore(engine: engine, inboxLimit: configuration.inboxLimit)
        guard let base = MMIOTrap.mapWindow(length: Offset.barLength, file: core) else {
            let e = shim_errno()
            _ = shim_munmap(msixBase, E1000EConfigSpace.msixBARSize)
            throw .mapping(bytes: Offset.barLength, errno: e)
        }
        self.name = configuration.name
        self.configuration = configuration
        self.iommu = iommu
        self.core = core
        self.registers = MMIORegion(base: base, length: Offset.barLength)
        self.msixMemory = msix
        self.dma = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        if configuration.mode == .threaded {
            thread = Mutex(try DeviceThread(core: core))
        } else {
            thread = Mutex(nil)
        }
        #endif
    }

    deinit {
        thread.withLock { $0 = nil }
        MMIOTrap.unmapWindow(registers.base, length: registers.length)
        _ = shim_munmap(msixMemory.base, msixMemory.length)
    }

    /// Stops the device thread (threaded mode). Idempotent; `deinit` does it too.
    public func close() {
        thread.withLock { $0 = nil }
    }

    // MARK: - PCIFunction

    public func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 {
        try checkConfig(offset, 4)
        return core.withEngine { $0.pciConfig.read32(at: offset) }
    }

    public func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 {
        try checkConfig(offset, 2)
        return core.withEngine { $0.pciConfig.read16(at: offset) }
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
        guard offset >= 0, offset + width <= E1000EConfigSpace.size, offset % width == 0 else {
            throw .outOfRange(what: "config space offset", value: UInt64(truncatingIfNeeded: offset), limit: UInt64(E1000EConfigSpace.size))
        }
    }

    public func enableBusMaster() throws(VFIOError) {
        core.withEngine { e in
            let command = e.pciConfig.command | E1000EConfigSpace.commandMemory | E1000EConfigSpace.commandBusMaster
            e.writeConfig(UInt32(command), at: 0x04, width: 2)
        }
    }

    /// BAR0: the trapped registers; BAR3: the MSI-X table and PBA.
    public func region(bar: Int) throws(VFIOError) -> MMIORegion {
        switch bar {
        case 0: return registers
        case E1000EConfigSpace.msixBAR: return msixMemory
        default:
            throw .outOfRange(what: "BAR index (the emulated e1000e backs BAR0 and BAR3)", value: UInt64(truncatingIfNeeded: bar), limit: 3)
        }
    }

    public func interruptCount(_ kind: InterruptKind) -> Int {
        switch kind {
        case .msix: return NICEngine.vectorCount
        case .intx: return 1
        case .msi: return 0
        }
    }

    /// Creates `count` eventfds and enables them as `VFIO_DEVICE_SET_IRQS` with
    /// `VFIO_IRQ_SET_ACTION_TRIGGER` does: for MSI-X the capability's enable bit is set and the
    /// first `count` table entries are programmed and unmasked.
    public func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) {
        let available = interruptCount(kind)
        guard count >= 1, count <= available else {
            throw .interruptsUnavailable(kind: kind.description, requested: count, available: available)
        }
        var fds: [VectorEventFD] = []
        for _ in 0..<count { fds.append(VectorEventFD(try EventFD())) }
        let old = core.withEngine { e -> [VectorEventFD] in
            let old = e.eventFDs
            e.enableInterrupts(kind, eventFDs: fds)
            return old
        }
        _ = old  // closed here, outside the lock
    }

    public func disableInterrupts() throws(VFIOError) {
        let old = core.withEngine { e -> [VectorEventFD] in
            let old = e.eventFDs
            e.disableInterrupts()
            return old
        }
        _ = old
    }

    public func interruptEventFD(vector: Int) -> Int32? {
        core.withEngine { e -> Int32? in
            guard vector >= 0, vector < e.eventFDs.count else { return nil }
            return e.eventFDs[vector].eventFD.rawValue
        }
    }

    /// Sets or clears the MSI-X table entry's mask bit; a message held while masked is sent at
    /// unmask and its PBA bit cleared (PCI 3.0, 6.8.2.9). INTx: masks the line as vfio's automask.
    public func setInterruptMasked(vector: Int, _ masked: Bool) {
        core.withEngine { $0.setVectorMasked(vector, masked) }
    }

    public func unmaskINTx() throws(VFIOError) {
        core.withEngine { $0.unmaskINTx() }
    }

    /// Function level reset: registers to power-on values; config space command and MSI-X
    /// control cleared.
    public func reset() throws(VFIOError) {
        core.withEngine { $0.functionLevelReset() }
    }

    public func service() {
        guard configuration.mode == .stepped else { return }
        _ = core.serviceOnce()
    }

    // MARK: - The wire

    /// A frame arrives from the wire (destination address first, no FCS). It is received at the
    /// next `service()` (stepped) or by the device thread. False when the inbox is full.
    @discardableResult
    public func inject(frame: [UInt8]) -> Bool {
        core.deliver(frame)
    }

    /// Frames sent since the last call while no cable led anywhere, oldest first.
    public func takeTransmittedFrames() -> [TransmittedFrame] {
        core.outbox.withLock { (frames: inout sending [TransmittedFrame]) -> sending [TransmittedFrame] in
            let taken = frames
            frames = []
            return taken
        }
    }

    /// Connects two devices back to back: what one sends, the other receives.
    public static func cable(_ a: EmulatedE1000E, _ b: EmulatedE1000E) {
        a.core.peer.withLock { $0.core = b.core }
        b.core.peer.withLock { $0.core = a.core }
    }

    /// Removes this device's cable to a peer (both ends); sent frames go to the outbox again.
    public func unplugPeer() {
        let other = core.peer.withLock { (p: inout sending WeakCore) -> NICCore? in
            let other = p.core
            p.core = nil
            return other
        }
        other?.peer.withLock { $0.core = nil }
    }

    /// Every transmitted frame comes back into this device's receiver (a loopback plug), whatever
    /// RCTL.LBM says.
    public var loopback: Bool {
        get { core.wireLoopback.load(ordering: .relaxed) }
        set { core.wireLoopback.store(newValue, ordering: .relaxed) }
    }

    /// Plugs or pulls the cable (the PHY's link partner): STATUS.LU follows with CTRL.SLU set,
    /// and a change raises LSC.
    public func setCable(connected: Bool) {
        core.withEngine { e in
            e.updateNow()
            e.cableConnected = connected
            e.updateLink()
        }
    }

    // MARK: - Inspection and control (tests, the tool)

    /// Moves the manual clock (configuration `.manual`) forward; throttled interrupts whose
    /// interval has passed are sent at the next `service()`.
    public func advanceClock(nanoseconds: UInt64) {
        core.withEngine { $0.manualNow &+= nanoseconds }
    }

    public var statistics: NICEmulatorStatistics {
        var s = core.withEngine { $0.statistics }
        s.framesDroppedAtInbox = core.inboxDrops.load(ordering: .relaxed)
        return s
    }

    /// A register's value without any side effect (no clear on read), as the device holds it.
    public func peekRegister(_ offset: Int) -> UInt32 {
        guard offset >= 0, offset + 4 <= Offset.barLength, offset % 4 == 0 else { return 0 }
        return core.withEngine { $0.load(offset) }
    }

    /// Replaces the fault plan; rule counters and the generator start over.
    public func setFaultPlan(_ plan: NICFaultPlan) {
        core.withEngine { $0.faults = NICFaultInjector(plan: plan) }
    }

    /// DMA faults the IOMMU recorded (shorthand for `iommu.faults`).
    public var dmaFaults: [DMAFault] { iommu.faults }

    /// Whether MSI-X vector `vector`'s pending bit is set (a message held while masked).
    public func isVectorPending(_ vector: Int) -> Bool {
        guard vector >= 0, vector < NICEngine.vectorCount else { return false }
        return core.withEngine { $0.isPending(vector) }
    }

    /// The MAC address the device was built with (EEPROM words 0-2, RAL0/RAH0 after reset).
    public var permanentAddress: MACAddress { configuration.macAddress }
}

extension NICEngine {
    /// A config space write and its side effects: an FLR request through PCIe Device Control.
    mutating func writeConfig(_ value: UInt32, at offset: Int, width: Int) {
        pciConfig.write(value, at: offset, width: width)
        if pciConfig.functionLevelResetRequested {
            pciConfig.clearFunctionLevelReset()
            functionLevelReset()
        }
    }

    mutating func enableInterrupts(_ kind: InterruptKind, eventFDs fds: [VectorEventFD]) {
        disableInterrupts()
        interruptKind = kind
        eventFDs = fds
        switch kind {
        case .msix:
            pciConfig.write(UInt32(pciConfig.msixControl | E1000EConfigSpace.msixEnable), at: E1000EConfigSpace.msixOffset + 2, width: 2)
            for v in 0..<fds.count {
                // What the kernel writes: the x86 MSI address and a vector-numbered message.
                msix.store32(0xFEE0_0000, at: v * 16)
                msix.store32(UInt32(v), at: v * 16 + 8)
                msix.store32(0, at: v * 16 + 12)
            }
        case .intx:
            pciConfig.write(UInt32(pciConfig.command & ~E1000EConfigSpace.commandINTxDisable), at: 0x04, width: 2)
            intxMaskedUntilUnmask = false
        case .msi:
            break
        }
    }

    mutating func disableInterrupts() {
        if interruptKind == .msix {
            pciConfig.write(UInt32(pciConfig.msixControl & ~E1000EConfigSpace.msixEnable), at: E1000EConfigSpace.msixOffset + 2, width: 2)
            for v in 0..<Self.vectorCount {
                msix.store32(1, at: v * 16 + 12)
                setPending(v, false)
            }
        }
        interruptKind = nil
        eventFDs = []
        intxMaskedUntilUnmask = false
    }

    mutating func setVectorMasked(_ vector: Int, _ masked: Bool) {
        switch interruptKind {
        case .msix:
            guard vector >= 0, vector < Self.vectorCount else { return }
            msix.store32(masked ? 1 : 0, at: vector * 16 + 12)
            if !masked { deliverPending(vector) }
        case .intx:
            guard vector == 0 else { return }
            if masked { intxMaskedUntilUnmask = true } else { unmaskINTx() }
        case .msi, nil:
            return
        }
    }
}
