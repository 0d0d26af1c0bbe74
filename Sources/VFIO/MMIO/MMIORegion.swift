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

/// A window of device registers: a BAR mapped with `mmap` (real device) or the emulated device's
/// register memory. It does not own the mapping; the device that handed it out does, and it stays
/// valid for the device's lifetime.
///
/// Every access is volatile and has exactly the width asked for: one `mov` each in the release
/// build, never hoisted out of a loop (the listing is in docs/design-notes.md). Offsets are checked,
/// because a stray store into a BAR can wedge a real device.
@frozen
public struct MMIORegion: @unchecked Sendable {
    /// Start of the mapping. `@unchecked Sendable`: the pointer refers to device memory, whose
    /// accesses are all volatile and ordered by explicit barriers, so sharing it between threads is
    /// the device's business (doorbells are per queue, owned by one thread).
    public let base: UnsafeMutableRawPointer
    public let length: Int

    @inlinable
    public init(base: UnsafeMutableRawPointer, length: Int) {
        self.base = base
        self.length = length
    }

    @inlinable @inline(__always)
    func address(_ offset: Int, _ width: Int) -> UnsafeMutableRawPointer {
        precondition(offset >= 0 && offset &+ width <= length && offset % width == 0,
                     "MMIO access outside the region or misaligned")
        return base + offset
    }

    @inlinable @inline(__always)
    public func load8(at offset: Int) -> UInt8 { shim_mmio_read8(address(offset, 1)) }
    @inlinable @inline(__always)
    public func load16(at offset: Int) -> UInt16 { shim_mmio_read16(address(offset, 2)) }
    @inlinable @inline(__always)
    public func load32(at offset: Int) -> UInt32 { shim_mmio_read32(address(offset, 4)) }
    /// A single 64-bit load. NVMe allows it for CAP/ASQ/ACQ; on hosts where a device rejects 64-bit
    /// MMIO, use two 32-bit loads (low then high) instead.
    @inlinable @inline(__always)
    public func load64(at offset: Int) -> UInt64 { shim_mmio_read64(address(offset, 8)) }

    @inlinable @inline(__always)
    public func store8(_ value: UInt8, at offset: Int) { shim_mmio_write8(address(offset, 1), value) }
    @inlinable @inline(__always)
    public func store16(_ value: UInt16, at offset: Int) { shim_mmio_write16(address(offset, 2), value) }
    @inlinable @inline(__always)
    public func store32(_ value: UInt32, at offset: Int) { shim_mmio_write32(address(offset, 4), value) }
    @inlinable @inline(__always)
    public func store64(_ value: UInt64, at offset: Int) { shim_mmio_write64(address(offset, 8), value) }

    /// Typed read of a register.
    @inlinable @inline(__always)
    public func read<Value: RegisterValue>(_ register: Register<Value>) -> Value {
        Value(rawValue: Value.RawValue.load(from: self, at: register.offset))
    }

    /// Typed write of a register.
    @inlinable @inline(__always)
    public func write<Value: RegisterValue>(_ register: Register<Value>, _ value: Value) {
        Value.RawValue.store(value.rawValue, to: self, at: register.offset)
    }

    /// Read-modify-write of a register. Not atomic with respect to the device.
    @inlinable @inline(__always)
    public func modify<Value: RegisterValue>(_ register: Register<Value>, _ body: (inout Value) -> Void) {
        var value = read(register)
        body(&value)
        write(register, value)
    }

    /// A doorbell: one 32-bit release store at a precomputed address. Callers issue
    /// `Barrier.write()` before it; see `Doorbell`.
    @inlinable @inline(__always)
    public func doorbell(at offset: Int) -> Doorbell {
        Doorbell(address: address(offset, 4))
    }
}
