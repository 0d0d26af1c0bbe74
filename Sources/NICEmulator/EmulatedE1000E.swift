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

@_exported import PCIEmulation
import E1000ESpec
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
/// Thread-safe: all state is behind one lock. The `PCIFunction` plumbing (config space,
/// interrupts, reset) is `EmulatedPCIFunction`'s.
public final class EmulatedE1000E: EmulatedPCIFunction {
    public let name: String
    public let configuration: EmulatedE1000EConfiguration
    /// The IOMMU every DMA goes through; its faults are what tests check.
    public let iommu: EmulatedIOMMU
    public let dma: DMAAllocator
    public var mode: EmulationMode { configuration.mode }

    let core: NICCore
    private let registers: MMIORegion
    private let msixMemory: EmulatedBAR
    private let thread: Mutex<DeviceRunLoop?>

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
        let msix = try EmulatedBAR.map(length: NICEngine.msixBARSize, orThrow: NICEmulatorError.mapping)
        let iommu = EmulatedIOMMU()
        let engine = NICEngine(configuration: configuration, iommu: iommu, msix: msix.region)
        let core = NICCore(engine: engine, inboxLimit: configuration.inboxLimit)
        guard let base = MMIOTrap.mapWindow(length: Offset.barLength, file: core) else {
            throw .mapping(bytes: Offset.barLength, errno: errno)
        }
        self.name = configuration.name
        self.configuration = configuration
        self.iommu = iommu
        self.core = core
        self.registers = MMIORegion(base: base, length: Offset.barLength)
        self.msixMemory = msix
        self.dma = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        // Spins 2 ms when idle before it sleeps (a NIC's work comes in bursts).
        thread = try DeviceRunLoop.start(
            for: configuration.mode, name: "emulated e1000e", spinNanoseconds: 2_000_000, worker: core,
            orThrow: NICEmulatorError.threadStart)
        #endif
    }

    deinit {
        thread.withLock { $0 = nil }
        MMIOTrap.unmapWindow(registers.base, length: registers.length)
    }

    /// Stops the device thread (threaded mode). Idempotent; `deinit` does it too.
    public func close() {
        thread.withLock { $0 = nil }
    }

    // MARK: - EmulatedPCIFunction

    public func withEngine<R: Sendable>(_ body: (inout NICEngine) -> R) -> R { core.withEngine(body) }

    public func serviceOnce() { _ = core.serviceOnce() }

    /// BAR0: the trapped registers; BAR3: the MSI-X table and PBA.
    public func region(bar: Int) throws(VFIOError) -> MMIORegion {
        switch bar {
        case 0: return registers
        case NICEngine.msixBAR: return msixMemory.region
        default:
            throw .outOfRange(what: "BAR index (the emulated e1000e backs BAR0 and BAR3)", value: UInt64(truncatingIfNeeded: bar), limit: 3)
        }
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

    /// Holds or releases the transmitter, as a link partner's 802.3x PAUSE frames do: while held,
    /// descriptors the driver hands over stay pending (no DMA, no DD, no interrupt). Tests use it
    /// to make a driver wait for transmit completions however fast the device thread runs.
    public func holdTransmissions(_ held: Bool) {
        core.withEngine { $0.transmitHeld = held }
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
        var s = core.withEngine { e in
            var s = e.statistics
            s.interruptsSignalled = e.pci.counters.signalled
            s.interruptsHeldMasked = e.pci.counters.heldMasked
            s.interruptsUnrouted += e.pci.counters.unrouted
            return s
        }
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

    /// Whether MSI-X vector `vector`'s pending bit is set (a message held while masked).
    public func isVectorPending(_ vector: Int) -> Bool {
        guard vector >= 0, vector < NICEngine.vectorCount else { return false }
        return core.withEngine { $0.isPending(vector) }
    }

    /// The MAC address the device was built with (EEPROM words 0-2, RAL0/RAH0 after reset).
    public var permanentAddress: MACAddress { configuration.macAddress }
}
