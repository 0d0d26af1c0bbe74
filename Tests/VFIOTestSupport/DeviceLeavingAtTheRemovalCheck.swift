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

import Synchronization
import VFIO

/// A stepped emulated function whose work waits for the driver's removal check: once held,
/// `service()` does nothing, and the first read of the request eventfd after a look (the idle
/// check's `removalRequested`, which follows its status register read) runs the test's `work`
/// first: the device finishing what it was given, then leaving the bus. Completions thus land
/// after the driver's last look and before its check answers: the race a loaded machine makes
/// rare, here on every run.
public final class DeviceLeavingAtTheRemovalCheck<Inner: PCIFunction>: PCIFunction {
    public let inner: Inner
    private let work = Mutex<(@Sendable () -> Void)?>(nil)
    private let held = Atomic<Bool>(false)
    private let looked = Atomic<Bool>(false)
    public init(_ inner: Inner) { self.inner = inner }

    /// From now on the device does nothing until the driver's removal check, which runs `work`.
    public func holdUntilTheRemovalCheck(then work: @escaping @Sendable () -> Void) {
        self.work.withLock { $0 = work }
        looked.store(false, ordering: .sequentiallyConsistent)
        held.store(true, ordering: .sequentiallyConsistent)
    }

    public func service() {
        if held.load(ordering: .sequentiallyConsistent) {
            looked.store(true, ordering: .sequentiallyConsistent)
        } else {
            inner.service()
        }
    }

    public var removalRequestEventFD: Int32? {
        if looked.load(ordering: .sequentiallyConsistent) && held.exchange(false, ordering: .sequentiallyConsistent) {
            let pending = work.withLock { w -> (@Sendable () -> Void)? in
                defer { w = nil }
                return w
            }
            pending?()
        }
        return inner.removalRequestEventFD
    }

    public var name: String { inner.name }
    public func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 { try inner.readConfig32(at: offset) }
    public func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError) { try inner.writeConfig32(value, at: offset) }
    public func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 { try inner.readConfig16(at: offset) }
    public func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError) { try inner.writeConfig16(value, at: offset) }
    public func enableBusMaster() throws(VFIOError) { try inner.enableBusMaster() }
    public func region(bar: Int) throws(VFIOError) -> MMIORegion { try inner.region(bar: bar) }
    public var dma: DMAAllocator { inner.dma }
    public var numaNode: Int? { inner.numaNode }
    public func interruptCount(_ kind: InterruptKind) -> Int { inner.interruptCount(kind) }
    public func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) { try inner.enableInterrupts(kind, count: count) }
    public func disableInterrupts() throws(VFIOError) { try inner.disableInterrupts() }
    public func interruptEventFD(vector: Int) -> Int32? { inner.interruptEventFD(vector: vector) }
    public func setInterruptMasked(vector: Int, _ masked: Bool) { inner.setInterruptMasked(vector: vector, masked) }
    public func unmaskINTx() throws(VFIOError) { try inner.unmaskINTx() }
    public func reset() throws(VFIOError) { try inner.reset() }
}
