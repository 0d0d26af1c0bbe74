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
#if canImport(Glibc)
import Glibc
#endif

/// The state of an emulated device behind its lock: the PCI side every function shares
/// (`PCIFunctionState`) and whatever the device itself is.
public protocol EmulatedPCIEngine {
    var pci: PCIFunctionState { get set }

    /// What a function level reset does to the device behind config space: registers back to
    /// their power-on values, everything in flight dropped.
    mutating func resetDevice()

    /// The driver unmasked `vector` (or INTx): re-raise what the device still asserts. MSI-X
    /// messages held in the PBA are already sent by then.
    mutating func interruptUnmasked(vector: Int)

    /// The function just left the bus (`PCIFunctionState.remove`): the device stops for good
    /// and its BAR reads all ones from now on.
    mutating func functionRemoved()
}

extension EmulatedPCIEngine {
    public mutating func interruptUnmasked(vector: Int) {}
    public mutating func functionRemoved() {}

    /// True once the function is gone (surprise removal): config reads return all ones.
    public var isRemoved: Bool { pci.removed }

    /// A config space write and its side effects: an FLR through Device Control, and messages
    /// held for vectors that a cleared function mask releases.
    public mutating func writeConfig(_ value: UInt32, at offset: Int, width: Int) {
        let master = pci.config.busMasterEnabled
        if pci.config.write(value, at: offset, width: width) {
            _ = functionLevelReset()
        }
        if pci.busMasterStuck && master && !pci.config.busMasterEnabled {
            pci.config.setCommand(PCIConfigSpace.commandBusMaster, true)
        }
        _ = pci.deliverUnmaskedPending()
    }

    /// The function leaves the bus (`EmulatedPCIFunction.simulateSurpriseRemoval`, or a device's
    /// own fault plan): the PCI side stops, then the device.
    public mutating func leaveBus(notify: Bool) {
        pci.remove(notify: notify)
        functionRemoved()
    }

    /// A function level reset as the function performs it (PCIe base 4.0, 6.6.2): config space
    /// and device to power-on state. False, and nothing changes, under `FunctionResetFault.fails`.
    public mutating func functionLevelReset() -> Bool {
        if case .fails = pci.resetFault { return false }
        pci.functionLevelReset()
        resetDevice()
        return true
    }

    /// `VFIO_DEVICE_RESET` as vfio-pci performs it (`pci_try_reset_function`): config space and
    /// MSI-X entries saved, the function reset, then both restored, so bus mastering and the
    /// vectors come back as they were and only the device's own state starts over.
    public mutating func resetThroughVFIO() throws(VFIOError) {
        // A function gone from the bus does not come back by a reset: the kernel's FLR waits in
        // vain for it to answer config reads (`pci_dev_wait`) and VFIO_DEVICE_RESET fails.
        if isRemoved {
            throw .system(operation: "VFIO_DEVICE_RESET of the emulated function (it is gone from the bus)", errno: ENODEV)
        }
        if case .fails(let errno) = pci.resetFault {
            throw .system(operation: "VFIO_DEVICE_RESET of the emulated function (FLR did not complete)", errno: errno)
        }
        let saved = pci.save()
        _ = functionLevelReset()
        pci.restore(saved)
    }
}

/// An emulated device presented as a PCI function: the peer of `VFIODevice` a driver runs
/// against when there is no hardware. Conforming types provide their lock, their mode and their
/// work; this extension provides the `PCIFunction` plumbing (config space, bus master, interrupt
/// enabling and masking, reset, `service()`) once for every emulator.
public protocol EmulatedPCIFunction: PCIFunction {
    associatedtype Engine: EmulatedPCIEngine

    /// Runs `body` with the device's state locked. Everything that touches it goes through here.
    func withEngine<R: Sendable>(_ body: (inout Engine) -> R) -> R

    /// Where the device does its work.
    var mode: EmulationMode { get }

    /// The IOMMU the device's DMA goes through; its faults are what tests check.
    var iommu: EmulatedIOMMU { get }

    /// One round of the device's work, on the caller's thread (`service()` in stepped mode).
    func serviceOnce()
}

extension EmulatedPCIFunction {
    public var numaNode: Int? { nil }

    /// The request eventfd the emulated vfio-pci signals (`requestRemoval`, `simulateSurpriseRemoval`).
    public var removalRequestEventFD: Int32? { withEngine { $0.pci.requestEventFD?.eventFD.rawValue } }

    /// The kernel asks the driver to let the device go (an orderly hot-unplug through the slot's
    /// attention button, or an unbind): the request interrupt fires; the device still works.
    public func requestRemoval() {
        withEngine { $0.pci.requestRelease() }
    }

    /// Surprise removal (a hot-unplug or a dead link): from now on every BAR and config space
    /// read returns all ones, as reads of a missing PCIe function complete; the device does no
    /// more DMA and sends no interrupt, whatever is written. With `notify` (the default: what
    /// vfio-pci does when the hotplug driver removes the function) the request interrupt fires
    /// too; without it the driver can only notice the all-ones. Not undoable.
    public func simulateSurpriseRemoval(notify: Bool = true) {
        withEngine { $0.leaveBus(notify: notify) }
    }

    public func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 {
        try PCIConfigSpace.check(offset, width: 4)
        return withEngine { $0.isRemoved ? .max : $0.pci.config.read32(at: offset) }
    }

    public func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 {
        try PCIConfigSpace.check(offset, width: 2)
        return withEngine { $0.isRemoved ? .max : $0.pci.config.read16(at: offset) }
    }

    public func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError) {
        try PCIConfigSpace.check(offset, width: 4)
        withEngine { $0.writeConfig(value, at: offset, width: 4) }
    }

    public func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError) {
        try PCIConfigSpace.check(offset, width: 2)
        withEngine { $0.writeConfig(UInt32(value), at: offset, width: 2) }
    }

    public func enableBusMaster() throws(VFIOError) {
        withEngine { $0.pci.config.setCommand(PCIConfigSpace.commandMemory | PCIConfigSpace.commandBusMaster, true) }
    }

    public func interruptCount(_ kind: InterruptKind) -> Int {
        switch kind {
        case .msix: return withEngine { $0.pci.msix.vectors }
        case .intx: return 1
        case .msi: return 0
        }
    }

    /// Creates `count` eventfds and enables them, as `VFIO_DEVICE_SET_IRQS` with
    /// `VFIO_IRQ_SET_ACTION_TRIGGER` does (see `PCIFunctionState.enableInterrupts`).
    public func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) {
        let available = interruptCount(kind)
        guard count >= 1, count <= available else {
            throw .interruptsUnavailable(kind: kind.description, requested: count, available: available)
        }
        let fds = try VectorEventFD.make(count: count, for: "\(kind) of \(name)")
        let old = withEngine { $0.pci.enableInterrupts(kind, eventFDs: fds) }
        _ = old  // closed here, outside the lock
    }

    public func disableInterrupts() throws(VFIOError) {
        let old = withEngine { $0.pci.disableInterrupts() }
        _ = old
    }

    public func interruptEventFD(vector: Int) -> Int32? {
        withEngine { $0.pci.eventFD(vector: vector) }
    }

    /// Sets or clears the MSI-X table entry's mask bit (INTx: the vfio automask). A message held
    /// while masked is delivered at unmask, and its PBA bit cleared (PCI 3.0, 6.8.2.9).
    public func setInterruptMasked(vector: Int, _ masked: Bool) {
        withEngine { e in
            if e.pci.setMasked(vector: vector, masked) { e.interruptUnmasked(vector: vector) }
        }
    }

    public func unmaskINTx() throws(VFIOError) {
        setInterruptMasked(vector: 0, false)
    }

    /// `VFIO_DEVICE_RESET`: the device returns to its power-on state; config space and the MSI-X
    /// entries, which vfio-pci saves and restores around the reset, come back as they were.
    /// Throws under `FunctionResetFault.fails`, and then nothing is reset.
    public func reset() throws(VFIOError) {
        try withEngine { (e) -> Result<Void, VFIOError> in
            do throws(VFIOError) {
                try e.resetThroughVFIO()
                return .success(())
            } catch {
                return .failure(error)
            }
        }.get()
    }

    public func service() {
        guard mode == .stepped else { return }
        serviceOnce()
    }

    /// DMA faults the IOMMU recorded (shorthand for `iommu.faults`).
    public var dmaFaults: [DMAFault] { iommu.faults }

    /// Makes function level resets fail (`VFIO_DEVICE_RESET` and Device Control FLR alike), or
    /// succeed again with nil, to test what a driver does when it cannot reset the device.
    public func setResetFault(_ fault: FunctionResetFault?) {
        withEngine { $0.pci.resetFault = fault }
    }

    /// Makes PCI_COMMAND.MASTER ignore being cleared (true), or behave again (false), to test
    /// what a driver does with a device it cannot prove quiet.
    public func setBusMasterStuck(_ stuck: Bool) {
        withEngine { $0.pci.busMasterStuck = stuck }
    }

    /// PCI_COMMAND.MASTER as the function sees it now.
    public var busMasterEnabled: Bool { withEngine { $0.pci.config.busMasterEnabled } }
}

/// Where an emulated device does its work.
public enum EmulationMode: Sendable, Hashable {
    /// Only inside `service()`, on the caller's thread: deterministic, for tests.
    case stepped
    /// On the device's own thread, concurrently with the driver, like hardware.
    case threaded
}
