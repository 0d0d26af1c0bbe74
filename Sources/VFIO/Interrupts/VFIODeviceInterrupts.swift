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

import CShims
import Synchronization

/// A VFIO device's interrupts (`VFIO_DEVICE_SET_IRQS`): one eventfd per vector of one kind
/// (INTx, MSI or MSI-X) at a time, the soft mask the wait loops read, INTx unmasking, and the
/// kernel-level loopback trigger.
extension VFIODevice {
    public func interruptCount(_ kind: InterruptKind) -> Int {
        irqs.indices.contains(kind.rawValue) && irqs[kind.rawValue].supportsEventFD ? irqs[kind.rawValue].count : 0
    }

    /// `VFIO_DEVICE_SET_IRQS` with `DATA_EVENTFD | ACTION_TRIGGER` for vectors 0..<count of `kind`,
    /// each with a new eventfd. Any earlier set (of any kind) is disabled first, as vfio-pci
    /// allows one interrupt type at a time.
    public func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) {
        let available = interruptCount(kind)
        guard count >= 1, count <= available else {
            throw .interruptsUnavailable(kind: kind.description, requested: count, available: available)
        }
        let fd = deviceFD
        let address = address
        try state.withLock { (s) throws(VFIOError) in
            try Self.disable(&s, fd: fd, address: address)
            // On a throw below, the new eventfds close as `eventFDs` goes out of scope.
            let eventFDs = try VectorEventFD.make(count: count, for: "\(kind) of \(address)")
            let data = eventFDs.map(\.rawValue).withUnsafeBytes { Array($0) }
            let request = Self.irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER),
                                             index: kind.rawValue, start: 0, count: count, data: data)
            try Self.setIRQs(fd: fd, request, "enabling \(count) \(kind) vectors of \(address)")
            s.interruptKind = kind
            s.eventFDs = eventFDs
            s.masked = [Bool](repeating: false, count: count)
        }
    }

    public func disableInterrupts() throws(VFIOError) {
        let fd = deviceFD
        let address = address
        try state.withLock { (s) throws(VFIOError) in try Self.disable(&s, fd: fd, address: address) }
    }

    /// `DATA_NONE | ACTION_TRIGGER` with count 0 disables the whole index; then the eventfds close.
    static func disable(_ s: inout State, fd: Int32, address: PCIAddress) throws(VFIOError) {
        guard let kind = s.interruptKind else { return }
        let request = irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER),
                                    index: kind.rawValue, start: 0, count: 0)
        try setIRQs(fd: fd, request, "disabling \(kind) of \(address)")
        s.interruptKind = nil
        s.eventFDs = []  // closes them: the index no longer signals them
        s.masked = []
    }

    public func interruptEventFD(vector: Int) -> Int32? {
        state.withLock { s in s.eventFDs.indices.contains(vector) ? s.eventFDs[vector].rawValue : nil }
    }

    /// The kind enabled now, if any.
    public var enabledInterruptKind: InterruptKind? { state.withLock { $0.interruptKind } }

    /// vfio-pci gives userspace no per-vector MSI/MSI-X mask, so this is the soft mask the
    /// protocol describes: the flag is kept here for the waiter (`isInterruptMasked`), which
    /// ignores the vector's eventfd while it is set and drains it before sleeping again.
    public func setInterruptMasked(vector: Int, _ masked: Bool) {
        state.withLock { s in
            if s.masked.indices.contains(vector) { s.masked[vector] = masked }
        }
    }

    public func isInterruptMasked(vector: Int) -> Bool {
        state.withLock { s in s.masked.indices.contains(vector) ? s.masked[vector] : false }
    }

    /// `DATA_NONE | ACTION_UNMASK` on INTx: re-arms the level-triggered line that VFIO masked
    /// when it fired (`VFIO_IRQ_INFO_AUTOMASKED`).
    public func unmaskINTx() throws(VFIOError) {
        let request = Self.irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK),
                                         index: InterruptKind.intx.rawValue, start: 0, count: 1)
        try Self.setIRQs(fd: deviceFD, request, "unmasking INTx of \(address)")
    }

    /// Kernel-level loopback: `DATA_BOOL | ACTION_TRIGGER` makes VFIO signal the vector's eventfd
    /// as if the device had raised it. Proves the eventfd plumbing, not the device; a test tool.
    public func triggerInterruptLoopback(vector: Int) throws(VFIOError) {
        let kind = state.withLock { s in s.eventFDs.indices.contains(vector) ? s.interruptKind : nil }
        guard let kind else {
            throw .interruptsUnavailable(kind: "enabled", requested: vector + 1, available: state.withLock { $0.eventFDs.count })
        }
        let request = Self.irqSetRequest(flags: UInt32(VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER),
                                         index: kind.rawValue, start: vector, count: 1, data: [1])
        try Self.setIRQs(fd: deviceFD, request, "loopback trigger of \(kind) vector \(vector) of \(address)")
    }

    /// Size of `struct vfio_irq_set` before its flexible `data[]`: argsz, flags, index, start, count.
    static let irqSetHeaderSize = 20

    /// A `struct vfio_irq_set` request: the header, then `data` (s32 eventfds, u8 bools, or none).
    static func irqSetRequest(flags: UInt32, index: Int, start: Int, count: Int, data: [UInt8] = []) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: irqSetHeaderSize + data.count)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt32(raw.count).littleEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: flags.littleEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: UInt32(index).littleEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: UInt32(start).littleEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: UInt32(count).littleEndian, toByteOffset: 16, as: UInt32.self)
            for (i, byte) in data.enumerated() { raw[irqSetHeaderSize + i] = byte }
        }
        return bytes
    }

    static func setIRQs(fd: Int32, _ request: [UInt8], _ what: @autoclosure () -> String) throws(VFIOError) {
        var request = request
        let outcome = request.withUnsafeMutableBytes { raw in
            SystemCall.attempt("VFIO_DEVICE_SET_IRQS", { Int(shim_ioctl_ptr(fd, SHIM_VFIO_DEVICE_SET_IRQS, raw.baseAddress!)) })
        }
        if outcome.failed { throw .system(operation: "VFIO_DEVICE_SET_IRQS " + what(), errno: outcome.errno) }
    }
}
