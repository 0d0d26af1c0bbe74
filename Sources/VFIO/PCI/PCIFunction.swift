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

/// Interrupt mechanisms of a PCI function, in VFIO's index order.
public enum InterruptKind: Int, Sendable, CustomStringConvertible {
    case intx = 0
    case msi = 1
    case msix = 2

    public var description: String {
        switch self {
        case .intx: return "INTx"
        case .msi: return "MSI"
        case .msix: return "MSI-X"
        }
    }
}

/// The device abstraction every driver in this project is written against.
///
/// Two peers implement it: `VFIODevice` (a real function bound to vfio-pci, or QEMU's in a VM) and
/// the emulated NVMe controller. Drivers are generic over it (`Controller<Device: PCIFunction>`), so
/// calls are statically dispatched after specialisation and the I/O path never goes through an
/// existential. A driver cannot tell which one it has.
///
/// The I/O path touches only what this hands out once: `MMIORegion`s (doorbells) and DMA memory.
/// Everything else here is setup.
public protocol PCIFunction: AnyObject, Sendable {
    /// A name for messages: the BDF, or "emulated".
    var name: String { get }

    /// Config space reads and writes (the PCI header and capabilities).
    func readConfig32(at offset: Int) throws(VFIOError) -> UInt32
    func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError)
    func readConfig16(at offset: Int) throws(VFIOError) -> UInt16
    func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError)

    /// Sets PCI_COMMAND.MASTER (and MEMORY), without which the device cannot DMA.
    func enableBusMaster() throws(VFIOError)

    /// The BAR's registers, mapped on first use and valid until the device is closed.
    func region(bar: Int) throws(VFIOError) -> MMIORegion

    /// Allocates DMA memory mapped for this device (its container's IOMMU, or the emulated one).
    var dma: DMAAllocator { get }

    /// NUMA node of the device, or nil when unknown; DMA memory and queue threads should be local.
    var numaNode: Int? { get }

    /// Vectors the device offers for `kind` (0 when it has none).
    func interruptCount(_ kind: InterruptKind) -> Int

    /// Enables `count` vectors of `kind`, each signalling its own eventfd. Replaces any earlier
    /// set. The device owns the eventfds until `disableInterrupts`.
    func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError)

    /// Disables all vectors and closes their eventfds.
    func disableInterrupts() throws(VFIOError)

    /// The eventfd of an enabled vector (a borrowed descriptor: valid until `disableInterrupts`).
    func interruptEventFD(vector: Int) -> Int32?

    /// Masks or unmasks one vector. Where the device honours it (the emulated MSI-X table), a
    /// masked vector's message is held pending; where the platform offers no per-vector MSI-X mask
    /// to userspace (vfio-pci), masking means the waiter ignores the eventfd until unmask, and the
    /// caller drains it before sleeping again.
    func setInterruptMasked(vector: Int, _ masked: Bool)

    /// Re-enables a level-triggered INTx after the bottom half has handled it (`VFIO_IRQ_SET_ACTION_UNMASK`).
    func unmaskINTx() throws(VFIOError)

    /// Function-level reset (`VFIO_DEVICE_RESET`), when the device supports it.
    func reset() throws(VFIOError)

    /// The device request interrupt's eventfd (`VFIO_PCI_REQ_IRQ_INDEX`, a borrowed descriptor
    /// valid while the device is open): signalled when the kernel asks the process to release
    /// the device (a hot-unplug, an unbind), which it then waits for. Nil where the device or
    /// kernel offers none; drivers then notice a removal only by registers reading all ones.
    var removalRequestEventFD: Int32? { get }

    /// Lets the device make progress on the caller's thread. A real device needs nothing (an empty
    /// inlined call); the emulated device in stepped mode processes doorbells here, which is what
    /// makes single-threaded tests deterministic. Wait loops call it before each poll or sleep.
    func service()
}

extension PCIFunction {
    /// Whether the kernel has asked for the device back (the request eventfd is readable; not
    /// drained, so every waiter sees it). One `poll` call: for idle checks, never per I/O.
    public var removalRequested: Bool {
        guard let fd = removalRequestEventFD else { return false }
        return EventFD.isSignalled(fd)
    }
}
