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

import E1000ESpec
@testable import NICEmulator
import Testing
import VFIO

/// A hand-driven emulated NIC: rings and buffers in DMA memory, registers written through BAR0
/// exactly as a driver would (each access trapped), no driver code involved.
final class Rig {
    static let ringSlots = 8
    static let bufferSize = 2048

    let nic: EmulatedE1000E
    let regs: MMIORegion
    let rxRings: DMABuffer
    let txRings: DMABuffer
    let buffers: DMABuffer
    let rxBase: (iova: UInt64, address: UnsafeMutableRawPointer)
    let txBase: (iova: UInt64, address: UnsafeMutableRawPointer)
    let bufferBase: (iova: UInt64, address: UnsafeMutableRawPointer)

    init(_ configuration: EmulatedE1000EConfiguration = EmulatedE1000EConfiguration()) throws {
        nic = try EmulatedE1000E(configuration: configuration)
        regs = try nic.region(bar: 0)
        rxRings = try nic.dma.allocate(length: 4096)
        txRings = try nic.dma.allocate(length: 4096)
        buffers = try nic.dma.allocate(length: 64 * Rig.bufferSize)
        rxRings.bytes.initializeMemory(as: UInt8.self, repeating: 0)
        txRings.bytes.initializeMemory(as: UInt8.self, repeating: 0)
        rxBase = (rxRings.iova.rawValue, rxRings.address)
        txBase = (txRings.iova.rawValue, txRings.address)
        bufferBase = (buffers.iova.rawValue, buffers.address)
    }

    func write(_ register: Register<UInt32>, _ value: UInt32) { regs.write(register, value) }
    func read(_ register: Register<UInt32>) -> UInt32 { regs.read(register) }
    func write(_ offset: Int, _ value: UInt32) { regs.store32(value, at: offset) }
    func read(_ offset: Int) -> UInt32 { regs.load32(at: offset) }

    /// Ring `q`'s descriptors: 8 slots of 16 bytes, queue 1 at byte 2048.
    func ringIOVA(receive: Bool, _ q: Int) -> UInt64 { (receive ? rxBase : txBase).iova + UInt64(q * 2048) }
    func ringAddress(receive: Bool, _ q: Int) -> UnsafeMutableRawPointer { (receive ? rxBase : txBase).address + q * 2048 }
    /// Receive buffer `i` of queue `q` (0..<16), transmit buffers from 32.
    func bufferIOVA(_ index: Int) -> UInt64 { bufferBase.iova + UInt64(index * Rig.bufferSize) }
    func bufferAddress(_ index: Int) -> UnsafeMutableRawPointer { bufferBase.address + index * Rig.bufferSize }

    /// What a driver's bring-up does: bus master, link up, rings, receiver and transmitter on.
    func bringUp(extended: Bool = false, rss: Bool = false, stripCRC: Bool = true, rxQueues: Int = 2) throws {
        try nic.enableBusMaster()
        var ctrl = regs.read(E1000ERegister.deviceControl)
        ctrl.setLinkUp = true
        regs.write(E1000ERegister.deviceControl, ctrl)
        for q in 0..<rxQueues {
            let ring = E1000ERegister.receiveQueue(q)
            write(ring.baseAddressLow, UInt32(truncatingIfNeeded: ringIOVA(receive: true, q)))
            write(ring.baseAddressHigh, UInt32(truncatingIfNeeded: ringIOVA(receive: true, q) >> 32))
            write(ring.length, UInt32(Rig.ringSlots * 16))
            write(ring.head, 0)
            write(ring.tail, 0)
        }
        for q in 0..<2 {
            let ring = E1000ERegister.transmitQueue(q)
            write(ring.baseAddressLow, UInt32(truncatingIfNeeded: ringIOVA(receive: false, q)))
            write(ring.baseAddressHigh, UInt32(truncatingIfNeeded: ringIOVA(receive: false, q) >> 32))
            write(ring.length, UInt32(Rig.ringSlots * 16))
            write(ring.head, 0)
            write(ring.tail, 0)
        }
        if extended || rss {
            var rfctl = ReceiveFilterControl(rawValue: 0)
            rfctl.extendedStatus = true
            regs.write(E1000ERegister.receiveFilterControl, rfctl)
        }
        if rss {
            var rxcsum = regs.read(E1000ERegister.receiveChecksumControl)
            rxcsum.packetChecksumDisable = true
            regs.write(E1000ERegister.receiveChecksumControl, rxcsum)
        }
        var rctl = ReceiveControl(rawValue: 0)
        rctl.enable = true
        rctl.broadcastAccept = true
        rctl.stripCRC = stripCRC
        regs.write(E1000ERegister.receiveControl, rctl)
        var tctl = TransmitControl(rawValue: 0)
        tctl.enable = true
        tctl.padShortPackets = true
        regs.write(E1000ERegister.transmitControl, tctl)
    }

    /// Posts receive descriptors `from..<to` (indices mod 8) of queue `q` and moves RDT.
    func postReceive(queue q: Int = 0, from: Int = 0, count: Int) {
        for n in 0..<count {
            let slot = (from + n) % Rig.ringSlots
            let descriptor = LegacyReceiveDescriptor(bufferAddress: bufferIOVA(q * 16 + slot))
            ringAddress(receive: true, q).storeBytes(of: descriptor, toByteOffset: slot * 16, as: LegacyReceiveDescriptor.self)
        }
        write(E1000ERegister.receiveQueue(q).tail, UInt32((from + count) % Rig.ringSlots))
    }

    func receiveDescriptor(queue q: Int = 0, _ slot: Int) -> LegacyReceiveDescriptor {
        ringAddress(receive: true, q).load(fromByteOffset: slot * 16, as: LegacyReceiveDescriptor.self)
    }

    func extendedDescriptor(queue q: Int = 0, _ slot: Int) -> ExtendedReceiveDescriptor {
        ringAddress(receive: true, q).load(fromByteOffset: slot * 16, as: ExtendedReceiveDescriptor.self)
    }

    /// Puts `frame` in transmit buffer `32 + slot` and descriptor `slot` of queue `q` (EOP, RS);
    /// does not move TDT.
    func stageTransmit(queue q: Int = 0, slot: Int, frame: [UInt8], command: TransmitDescriptorCommand = [.endOfPacket, .reportStatus, .insertFCS]) {
        let index = 32 + q * 8 + slot
        frame.withUnsafeBytes { bufferAddress(index).copyMemory(from: $0.baseAddress!, byteCount: frame.count) }
        let descriptor = LegacyTransmitDescriptor(bufferAddress: bufferIOVA(index), length: UInt16(frame.count), command: command)
        ringAddress(receive: false, q).storeBytes(of: descriptor, toByteOffset: slot * 16, as: LegacyTransmitDescriptor.self)
    }

    func transmitDescriptor(queue q: Int = 0, _ slot: Int) -> LegacyTransmitDescriptor {
        ringAddress(receive: false, q).load(fromByteOffset: slot * 16, as: LegacyTransmitDescriptor.self)
    }

    func bytes(ofBuffer index: Int, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: bufferAddress(index), count: count))
    }
}

/// An Ethernet frame to the emulated NIC's default address: 14-byte header, then `payload`.
func frame(to destination: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], from source: [UInt8] = [0x02, 0, 0, 0, 0, 1],
           etherType: UInt16 = 0x88B5, payload: [UInt8]) -> [UInt8] {
    destination + source + [UInt8(etherType >> 8), UInt8(etherType & 0xFF)] + payload
}

func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
}

/// An IPv4 TCP or UDP frame with the given addresses and ports.
func ipv4Frame(source: [UInt8], destination: [UInt8], sourcePort: UInt16, destinationPort: UInt16, udp: Bool = false) -> [UInt8] {
    var ip: [UInt8] = [0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, udp ? 17 : 6, 0, 0]
    ip += source + destination
    let l4: [UInt8] = [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
        + Array(repeating: 0, count: 16)
    return frame(etherType: 0x0800, payload: ip + l4)
}
