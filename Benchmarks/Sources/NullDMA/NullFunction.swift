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

/// What the null devices share as PCI functions: a config space of one register (vendor and
/// device id), BAR0 only, no interrupts (the benchmarks poll) and no removal. Each null device
/// supplies its ids, its BAR and its work (`service()`, `reset()`).
public protocol NullFunction: PCIFunction {
    /// Config space dword 0: device id << 16 | vendor id.
    var identifiers: UInt32 { get }
    var bar: MMIORegion { get }
}

extension NullFunction {
    public var numaNode: Int? { nil }

    public func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 { offset == 0 ? identifiers : 0 }
    public func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError) {}
    public func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 {
        UInt16(truncatingIfNeeded: (offset & 2 == 0 ? try readConfig32(at: offset & ~3) : try readConfig32(at: offset & ~3) >> 16))
    }
    public func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError) {}

    public func region(bar index: Int) throws(VFIOError) -> MMIORegion {
        guard index == 0 else { throw .outOfRange(what: "BAR index (a null device has BAR0 only)", value: UInt64(truncatingIfNeeded: index), limit: 0) }
        return bar
    }

    public func interruptCount(_ kind: InterruptKind) -> Int { 0 }
    public func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) {
        throw .interruptsUnavailable(kind: kind.description, requested: count, available: 0)
    }
    public func disableInterrupts() throws(VFIOError) {}
    public func interruptEventFD(vector: Int) -> Int32? { nil }
    public func setInterruptMasked(vector: Int, _ masked: Bool) {}
    public func unmaskINTx() throws(VFIOError) {}

    /// A null device is never unplugged: no removal request to signal.
    public var removalRequestEventFD: Int32? { nil }
}
