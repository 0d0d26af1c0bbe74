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

import VFIO

/// The PCI side of an emulated function, the same for every device: its config space, its MSI-X
/// table, the interrupt eventfds vfio-pci would hold for it, the IOMMU its DMA goes through, and
/// the function-level faults a test has asked for. The device's engine owns one and keeps it
/// behind its lock with the rest of its state.
///
/// Interrupts are delivered as vfio-pci delivers them (`VFIO_DEVICE_SET_IRQS` with
/// `VFIO_IRQ_SET_ACTION_TRIGGER`): an MSI-X vector signals its eventfd unless the entry or the
/// function is masked, in which case its PBA bit holds the message until unmask (PCI 3.0,
/// 6.8.2.9); INTx signals and masks the line until `VFIO_IRQ_SET_ACTION_UNMASK` (vfio's automask).
public struct PCIFunctionState: Sendable {
    public var config: PCIConfigSpace
    public let msix: MSIXTable
    public let iommu: EmulatedIOMMU
    public private(set) var interruptKind: InterruptKind?
    public private(set) var eventFDs: [VectorEventFD] = []
    /// vfio-pci masks INTx after each trigger until the driver unmasks it.
    public private(set) var intxAutomasked = false
    /// An INTx assertion that arrived while the line was masked, to be delivered at unmask.
    public private(set) var intxHeld = false
    /// Some PBA bit may be set: skips the scan in `deliverUnmaskedPending` when none is.
    private var mayHavePending = false
    public var counters = InterruptCounters()
    /// How the function takes a reset, for tests of a driver's quiesce and recovery paths.
    public var resetFault: FunctionResetFault?
    /// PCI_COMMAND.MASTER ignores being cleared (a function that cannot be stopped from config
    /// space): with a reset fault and a controller that ignores CC.EN, nothing can prove it quiet.
    public var busMasterStuck = false
    /// The function is gone from the bus (surprise removal): config space and BAR reads return
    /// all ones, no DMA happens and no interrupt is sent. Not undoable; a re-added device is a
    /// new function.
    public private(set) var removed = false
    /// The device request interrupt (`VFIO_PCI_REQ_IRQ_INDEX`): the eventfd vfio-pci signals to
    /// ask the driver to release the device before a removal completes. Armed from the start,
    /// as `VFIODevice` arms it at open; nil only when the process is out of descriptors.
    public let requestEventFD: VectorEventFD?

    /// The MSI-X table starts out masked and empty, as after reset.
    public init(config: PCIConfigSpace, msix: MSIXTable, iommu: EmulatedIOMMU) {
        self.config = config
        self.msix = msix
        self.iommu = iommu
        do {
            self.requestEventFD = VectorEventFD(try EventFD())
        } catch {
            self.requestEventFD = nil
        }
        msix.reset()
    }

    // MARK: - Removal (the hotplug controller's and the kernel's side)

    /// What vfio-pci does when the device is to be unplugged or unbound (`vfio_pci_core_request`):
    /// signals the request eventfd; the device itself still works until it is gone.
    public func requestRelease() {
        requestEventFD?.eventFD.signal()
    }

    /// The function leaves the bus: from now on it reads all ones, masters nothing and sends
    /// no message. `notify` signals the request eventfd as well (a hotplug slot with attention
    /// or presence detection); without it the driver can only see the all-ones (a dead link).
    public mutating func remove(notify: Bool) {
        removed = true
        if notify { requestRelease() }
    }

    // MARK: - Enabling (the kernel's side)

    /// Enables `kind` with these eventfds, replacing any earlier set: for MSI-X the capability's
    /// enable bit is set and the first `eventFDs.count` entries are programmed and unmasked (the
    /// kernel does both); for INTx PCI_COMMAND.INTX_DISABLE is cleared. Returns the eventfds it
    /// replaced, to be closed by the caller outside the device lock.
    public mutating func enableInterrupts(_ kind: InterruptKind, eventFDs fds: [VectorEventFD]) -> [VectorEventFD] {
        let old = disableInterrupts()
        interruptKind = kind
        eventFDs = fds
        switch kind {
        case .msix:
            config.setMSIXEnabled(true)
            for v in 0..<min(fds.count, msix.vectors) { msix.program(v) }
        case .intx:
            config.setCommand(PCIConfigSpace.commandINTxDisable, false)
        case .msi:
            break
        }
        return old
    }

    /// Disables every vector (MSI-X entries masked, nothing pending) and returns the eventfds.
    public mutating func disableInterrupts() -> [VectorEventFD] {
        if interruptKind == .msix {
            config.setMSIXEnabled(false)
            for v in 0..<msix.vectors {
                msix.setMasked(v, true)
                msix.setPending(v, false)
            }
        }
        let old = eventFDs
        interruptKind = nil
        eventFDs = []
        intxAutomasked = false
        intxHeld = false
        mayHavePending = false
        return old
    }

    /// The eventfd of an enabled vector.
    public func eventFD(vector: Int) -> Int32? {
        guard vector >= 0, vector < eventFDs.count else { return nil }
        return eventFDs[vector].eventFD.rawValue
    }

    /// A driver's `setInterruptMasked`: the MSI-X entry's mask bit (a held message goes out at
    /// unmask), or for INTx the automask. True when it unmasked, so the device can re-raise what
    /// its own state still asserts (a level-triggered line).
    public mutating func setMasked(vector: Int, _ masked: Bool) -> Bool {
        switch interruptKind {
        case .msix:
            guard vector >= 0, vector < msix.vectors else { return false }
            msix.setMasked(vector, masked)
            if !masked { _ = deliverUnmaskedPending() }
            return !masked
        case .intx:
            guard vector == 0 else { return false }
            intxAutomasked = masked
            return !masked
        case .msi, nil:
            return false
        }
    }

    // MARK: - Delivery (the device's side)

    /// MSI-X is enabled in config space and is the kind vfio-pci set up.
    public var msixActive: Bool { config.msixEnabled && interruptKind == .msix }

    public func vectorMasked(_ vector: Int) -> Bool { config.msixFunctionMasked || msix.isMasked(vector) }

    /// Sends vector `vector`'s message, or sets its PBA bit while it is masked. Nothing happens
    /// unless MSI-X is active; a vector with no eventfd is counted as unrouted.
    public mutating func signal(vector: Int) {
        guard msixActive, !removed else { return }
        guard vector >= 0, vector < eventFDs.count, vector < msix.vectors else {
            counters.unrouted += 1
            return
        }
        if vectorMasked(vector) {
            setPending(vector, true)
            counters.heldMasked += 1
            return
        }
        eventFDs[vector].eventFD.signal()
        counters.signalled += 1
    }

    /// Sets or clears a PBA bit (a device may clear them itself: the 82574's PBACLR).
    public mutating func setPending(_ vector: Int, _ on: Bool) {
        msix.setPending(vector, on)
        if on { mayHavePending = true }
    }

    /// Sends the messages held for vectors no longer masked (their entry, or the function mask,
    /// was cleared) and clears their PBA bits. True if it sent any.
    public mutating func deliverUnmaskedPending() -> Bool {
        guard mayHavePending, msixActive, !removed else { return false }
        var sent = false
        var still = false
        for v in 0..<min(eventFDs.count, msix.vectors) where msix.isPending(v) {
            if vectorMasked(v) {
                still = true
                continue
            }
            msix.setPending(v, false)
            eventFDs[v].eventFD.signal()
            counters.signalled += 1
            sent = true
        }
        mayHavePending = still
        return sent
    }

    /// Asserts INTx: signals its eventfd and masks the line (vfio's automask); while the line is
    /// masked or PCI_COMMAND.INTX_DISABLE is set, the assertion is held instead.
    public mutating func raiseINTx() {
        guard interruptKind == .intx, !removed, let fd = eventFDs.first else { return }
        if config.intxDisabled || intxAutomasked {
            holdINTx()
            return
        }
        intxAutomasked = true
        intxHeld = false
        fd.eventFD.signal()
        counters.signalled += 1
    }

    /// Holds an INTx assertion that a device-level mask (NVMe INTMS) keeps from the line.
    public mutating func holdINTx() {
        intxHeld = true
        counters.heldMasked += 1
    }

    /// Delivers a held INTx assertion once nothing masks the line any more. True if it did.
    public mutating func deliverHeldINTx() -> Bool {
        guard intxHeld, interruptKind == .intx, !intxAutomasked, !config.intxDisabled else { return false }
        raiseINTx()
        return true
    }

    // MARK: - DMA and reset

    /// Whether the function may master the bus now (PCI_COMMAND.MASTER, PCI 3.0, 6.2.2). When it
    /// may not, the access it attempted is recorded as a `.busMasterDisabled` fault and must not
    /// happen: this is what makes clearing bus master a way to quiesce a device.
    public func mayAccess(_ iova: UInt64, length: Int, _ direction: DMAFault.Direction) -> Bool {
        // A function gone from the bus reaches no memory, and the IOMMU sees nothing to fault.
        if removed { return false }
        guard config.busMasterEnabled else {
            iommu.recordFault(DMAFault(iova: iova, length: length, direction: direction, reason: .busMasterDisabled))
            return false
        }
        return true
    }

    /// A function level reset of the PCI side: config space to its power-on values (bus master
    /// and MSI-X off), the MSI-X table masked, nothing pending, the line unmasked. The eventfds
    /// stay: they belong to vfio-pci, not to the function.
    public mutating func functionLevelReset() {
        config.functionLevelReset()
        msix.reset()
        intxAutomasked = false
        intxHeld = false
        mayHavePending = false
    }

    /// What vfio-pci keeps across `VFIO_DEVICE_RESET` (`pci_save_state`): config space and the
    /// MSI-X entries.
    public struct SavedState: Sendable {
        let config: [UInt8]
        let entries: [UInt32]
    }

    public func save() -> SavedState { SavedState(config: config.saved, entries: msix.saveEntries()) }

    /// `pci_restore_state`: the saved registers back, through the write masks.
    public mutating func restore(_ saved: SavedState) {
        config.restore(saved.config)
        msix.restoreEntries(saved.entries)
    }
}

/// What the interrupt side of a function did, for the device's statistics.
public struct InterruptCounters: Sendable, Hashable {
    /// Messages sent to an eventfd (MSI-X or INTx).
    public var signalled = 0
    /// Messages held because their vector, the function or the line was masked.
    public var heldMasked = 0
    /// Messages for a vector with no eventfd.
    public var unrouted = 0

    public init() {}
}

/// How a function fails its reset, set by a test (`EmulatedPCIFunction.setResetFault`).
public enum FunctionResetFault: Sendable, Hashable {
    /// The function level reset does not happen: `VFIO_DEVICE_RESET` fails with `errno` (as when
    /// the device never becomes ready after FLR, `pci_dev_wait`), and an FLR started through
    /// Device Control is ignored. The device keeps running as before, DMA included.
    case fails(errno: Int32)
}
