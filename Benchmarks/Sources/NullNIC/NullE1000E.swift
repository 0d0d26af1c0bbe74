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

#if canImport(Glibc)
import Glibc
#endif
import CNullDevice
import E1000ESpec
import NetFrames
import NullDMA
import VFIO

/// A `PCIFunction` that looks like an 82574L to the NIC driver and writes back every
/// descriptor at once, touching no frame data: the NIC counterpart of `NullNVMeController`, so
/// that the driver's instructions per packet can be counted without a device's cost in them.
///
/// Its registers are plain memory. `service()` does the device's part: the descriptor engine
/// (C, shared with the C reference), then a few loads to notice a reset or a ring being
/// programmed; anything else is out of line. It has no interrupts: the benchmark polls.
///
/// `@unchecked Sendable`: used by the one thread that runs the benchmark.
public final class NullE1000E: NullFunction, @unchecked Sendable {
    public let identifiers: UInt32 = 0x10D3_8086
    public let name = "null-nic"
    public let dma: DMAAllocator
    public let iommu: NullIOMMU
    /// The station address the "EEPROM" loads into RAL0/RAH0.
    public static let macAddress = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01)
    /// The length of every frame the device "receives" (the minimum Ethernet frame, CRC stripped).
    public static let frameLength: UInt16 = 60

    public let bar: MMIORegion
    /// The C engine's state (stable address: the ring pointers live in it).
    let engine: UnsafeMutablePointer<null_nic>
    /// The ring registers as last seen, so that a change is noticed with a compare.
    var lastRings: RingRegisters = RingRegisters()

    struct RingRegisters: Equatable {
        var receiveLength: UInt32 = 0
        var receiveBase: UInt64 = 0
        var transmitLength: UInt32 = 0
        var transmitBase: UInt64 = 0
    }

    public init() {
        let length = E1000ERegister.barLength
        let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let memory, memory != MAP_FAILED else {
            fatalError("null NIC: mmap of its \(length)-byte BAR failed (errno \(errno))")
        }
        bar = MMIORegion(base: memory, length: length)
        iommu = NullIOMMU()
        dma = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        engine = .allocate(capacity: 1)
        engine.initialize(to: null_nic())
        writeResetRegisters()
    }

    deinit {
        engine.deallocate()
        _ = munmap(bar.base, E1000ERegister.barLength)
    }

    /// Frames written back as received, and descriptors as transmitted.
    public var receivedFrames: UInt64 { engine.pointee.receive.completed }
    public var transmittedFrames: UInt64 { engine.pointee.transmit.completed }

    // MARK: - The step

    /// The loads that notice a reset or a ring being programmed, then the descriptor engine (one
    /// call into C), so a ring programmed since the last call is served in this one. Never
    /// inlined, so that instruction counts attribute all of it to the device.
    @inline(never)
    public func service() {
        if bar.read(E1000ERegister.deviceControl).reset || currentRings() != lastRings { serviceRegisters() }
        if engine.pointee.live != 0 { _ = null_nic_service(engine) }
    }

    func currentRings() -> RingRegisters {
        let rx = E1000ERegister.receiveQueue(0)
        let tx = E1000ERegister.transmitQueue(0)
        return RingRegisters(
            receiveLength: bar.read(rx.length),
            receiveBase: UInt64(bar.read(rx.baseAddressHigh)) << 32 | UInt64(bar.read(rx.baseAddressLow)),
            transmitLength: bar.read(tx.length),
            transmitBase: UInt64(bar.read(tx.baseAddressHigh)) << 32 | UInt64(bar.read(tx.baseAddressLow)))
    }

    @inline(never)
    func serviceRegisters() {
        if bar.read(E1000ERegister.deviceControl).reset {
            // CTRL.RST: every register to its power-on value, done at once.
            writeResetRegisters()
        }
        let rings = currentRings()
        if rings != lastRings {
            program(receive: true, length: rings.receiveLength, base: rings.receiveBase)
            program(receive: false, length: rings.transmitLength, base: rings.transmitBase)
            lastRings = rings
        }
    }

    /// Resolves a ring's descriptors once, when the driver programs it (or turns it off: length 0).
    func program(receive: Bool, length: UInt32, base: UInt64) {
        let bit: UInt32 = receive ? 1 : 2
        let entries = Int(length) / 16
        let registers = receive ? E1000ERegister.receiveQueue(0) : E1000ERegister.transmitQueue(0)
        guard entries >= 8, entries & (entries - 1) == 0, let descriptors = iommu.translate(base, length: Int(length)) else {
            engine.pointee.live &= ~bit
            return
        }
        let tail = (bar.base + registers.tail.offset).assumingMemoryBound(to: UInt32.self)
        let head = (bar.base + registers.head.offset).assumingMemoryBound(to: UInt32.self)
        if receive {
            null_nic_ring_init(&engine.pointee.receive, 1, descriptors, UInt32(entries), tail, head, head.pointee, Self.frameLength)
        } else {
            null_nic_ring_init(&engine.pointee.transmit, 0, descriptors, UInt32(entries), tail, head, head.pointee, 0)
        }
        engine.pointee.live |= bit
    }

    func writeResetRegisters() {
        _ = memset(bar.base, 0, E1000ERegister.barLength)
        engine.pointee.live = 0
        lastRings = RingRegisters()
        var status = DeviceStatus(rawValue: 0)
        status.linkUp = true
        status.fullDuplex = true
        status.speedField = 2  // 1000 Mb/s
        bar.write(E1000ERegister.deviceStatus, status)
        bar.write(E1000ERegister.receiveAddressLow(0), Self.macAddress.receiveAddressLow)
        bar.write(E1000ERegister.receiveAddressHigh(0), Self.macAddress.receiveAddressHigh)
    }

    // MARK: - PCIFunction (the rest is NullFunction's)

    public func enableBusMaster() throws(VFIOError) {}

    public func reset() throws(VFIOError) { writeResetRegisters() }
}
