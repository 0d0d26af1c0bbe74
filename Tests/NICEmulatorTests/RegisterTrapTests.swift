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
import NetFrames
import Testing
import VFIO

/// The trapped register window: instruction decoding, and register behaviour a driver sees
/// through plain loads and stores.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct RegisterTrapTests {
    func decode(_ bytes: [UInt8]) -> X86MemoryInstruction? {
        bytes.withUnsafeBufferPointer { X86MemoryInstruction.decode($0.baseAddress!, available: $0.count) }
    }

    @Test func decodesTheMovesRegisterAccessesCompileTo() {
        // mov (%rdi),%eax
        #expect(decode([0x8B, 0x07]) == X86MemoryInstruction(operation: .load(register: 0, resultWidth: 4), width: 4, length: 2, highByteRegister: false))
        // mov 0xc0(%rbx),%r9d
        #expect(decode([0x44, 0x8B, 0x8B, 0xC0, 0, 0, 0]) == X86MemoryInstruction(operation: .load(register: 9, resultWidth: 4), width: 4, length: 7, highByteRegister: false))
        // mov %esi,0x14(%rdi)
        #expect(decode([0x89, 0x77, 0x14]) == X86MemoryInstruction(operation: .store(register: 6), width: 4, length: 3, highByteRegister: false))
        // mov (%rax,%rcx,4),%rdx
        #expect(decode([0x48, 0x8B, 0x14, 0x88]) == X86MemoryInstruction(operation: .load(register: 2, resultWidth: 8), width: 8, length: 4, highByteRegister: false))
        // movl $0x4000000,0x0(%rax)  (C7 /0 with disp8)
        #expect(decode([0xC7, 0x40, 0x00, 0, 0, 0, 4]) == X86MemoryInstruction(operation: .storeImmediate(0x0400_0000), width: 4, length: 7, highByteRegister: false))
        // movzwl 0x2(%rdi),%eax
        #expect(decode([0x0F, 0xB7, 0x47, 0x02]) == X86MemoryInstruction(operation: .load(register: 0, resultWidth: 4), width: 2, length: 4, highByteRegister: false))
        // mov %ax,(%rdi)
        #expect(decode([0x66, 0x89, 0x07]) == X86MemoryInstruction(operation: .store(register: 0), width: 2, length: 3, highByteRegister: false))
        // mov (%rdi),%ah: a high-byte register
        #expect(decode([0x8A, 0x27])?.highByteRegister == true)
        // mov %eax,%ebx (register to register) and an unknown opcode are not memory accesses
        #expect(decode([0x89, 0xC3]) == nil)
        #expect(decode([0x0F, 0x10, 0x07]) == nil)
    }

    @Test func decodesReadModifyWritesThatReleaseBuildsFold() {
        // orl $0x4,(%r14): a relaxed load, OR and relaxed store folded by LLVM (seen in the
        // release build of the NIC driver's reset).
        #expect(decode([0x41, 0x83, 0x0E, 0x04]) == X86MemoryInstruction(operation: .arithmetic(.or, source: .immediate(4), toMemory: true), width: 4, length: 4, highByteRegister: false))
        // andl $0xfffffffd,0x100(%rax)
        #expect(decode([0x81, 0xA0, 0x00, 0x01, 0, 0, 0xFD, 0xFF, 0xFF, 0xFF])?.operation == .arithmetic(.and, source: .immediate(0xFFFF_FFFD), toMemory: true))
        // or %ecx,(%rdi) and or (%rdi),%ecx
        #expect(decode([0x09, 0x0F])?.operation == .arithmetic(.or, source: .register(1), toMemory: true))
        #expect(decode([0x0B, 0x0F])?.operation == .arithmetic(.or, source: .register(1), toMemory: false))
        // testb $0x1,0xc(%rdi)
        #expect(decode([0xF6, 0x47, 0x0C, 0x01]) == X86MemoryInstruction(operation: .arithmetic(.test, source: .immediate(1), toMemory: true), width: 1, length: 4, highByteRegister: false))
        // cmpl $0x0,(%rdi)
        #expect(decode([0x83, 0x3F, 0x00])?.operation == .arithmetic(.cmp, source: .immediate(0), toMemory: true))
        // The flags: 5 - 7 borrows and is negative; 0x80000000 + 0x80000000 carries and overflows.
        let sub = X86MemoryInstruction.alu(.sub, 5, 7, width: 4)
        #expect(sub.result == 0xFFFF_FFFE && sub.flags & 1 == 1 && sub.flags & 0x80 != 0 && sub.flags & 0x40 == 0)
        let add = X86MemoryInstruction.alu(.add, 0x8000_0000, 0x8000_0000, width: 4)
        #expect(add.result == 0 && add.flags & 1 == 1 && add.flags & 0x40 != 0 && add.flags & 0x800 != 0)
    }

    @Test func narrowAndWideAccessesReachTheRegisters() throws {
        let rig = try Rig()
        let ral = E1000ERegister.receiveAddressLow(3).offset
        rig.regs.store64(0x8000_1122_3344_5566, at: ral)
        #expect(rig.read(ral) == 0x3344_5566)
        #expect(rig.read(ral + 4) == 0x8000_1122)
        #expect(rig.regs.load16(at: ral + 2) == 0x3344)
        #expect(rig.regs.load8(at: ral + 1) == 0x55)
        #expect(UInt32(rig.regs.load8(at: ral + 2)) == 0x44)  // zero-extended: no bytes above the one read
        #expect(UInt32(rig.regs.load16(at: ral)) == 0x5566)
        #expect(rig.regs.load64(at: ral) == 0x8000_1122_3344_5566)
    }

    @Test func resetLoadsTheMACAndTheEEPROMHasIt() throws {
        let address = MACAddress(0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF)
        let rig = try Rig(EmulatedE1000EConfiguration(macAddress: address))
        let low = rig.read(E1000ERegister.receiveAddressLow(0))
        let high = rig.regs.read(E1000ERegister.receiveAddressHigh(0))
        #expect(MACAddress(receiveAddressLow: low, high: high) == address)
        #expect(high.addressValid)
        var words: [UInt16] = []
        var sum: UInt16 = 0
        for word in 0..<64 {
            rig.regs.write(E1000ERegister.eepromRead, EEPROMRead(readAddress: UInt16(word)))
            let result = rig.regs.read(E1000ERegister.eepromRead)
            #expect(result.done)
            words.append(result.data)
            sum &+= result.data
        }
        #expect(Array(words[0..<3]) == [0x5452, 0xAB00, 0xEFCD])
        #expect(sum == 0xBABA)
    }

    @Test func linkComesUpWithSLUAndRaisesLSC() throws {
        let rig = try Rig()
        #expect(!rig.regs.read(E1000ERegister.deviceStatus).linkUp)
        var ctrl = rig.regs.read(E1000ERegister.deviceControl)
        ctrl.setLinkUp = true
        rig.regs.write(E1000ERegister.deviceControl, ctrl)
        let status = rig.regs.read(E1000ERegister.deviceStatus)
        #expect(status.linkUp && status.fullDuplex && status.speedMbps == 1000)
        #expect(InterruptCause(rawValue: rig.nic.peekRegister(Offset.icr)).contains(.linkStatusChange))
        rig.nic.setCable(connected: false)
        #expect(!rig.regs.read(E1000ERegister.deviceStatus).linkUp)
    }

    @Test func ctrlRSTResetsTheMACAndSelfClears() throws {
        let rig = try Rig()
        try rig.bringUp()
        rig.write(E1000ERegister.receiveAddressLow(0), 0xDEAD_BEEF)
        rig.write(E1000ERegister.receiveQueue(0).length, 1024)
        var ctrl = rig.regs.read(E1000ERegister.deviceControl)
        ctrl.reset = true
        rig.regs.write(E1000ERegister.deviceControl, ctrl)
        #expect(!rig.regs.read(E1000ERegister.deviceControl).reset)
        #expect(!rig.regs.read(E1000ERegister.deviceStatus).linkUp)
        #expect(rig.read(E1000ERegister.receiveQueue(0).length) == 0)
        #expect(rig.read(E1000ERegister.receiveAddressLow(0)) == 0x1200_5452)
        #expect(!rig.regs.read(E1000ERegister.receiveControl).enable)
    }

    @Test func ringRegistersAreMaskedAsTheHardwareDoes() throws {
        let rig = try Rig()
        let ring = E1000ERegister.receiveQueue(1)
        rig.write(ring.baseAddressLow, 0x1234_5678)
        rig.write(ring.length, 0x1_23FF)
        rig.write(ring.tail, 0xABCD_EF01)
        #expect(rig.read(ring.baseAddressLow) == 0x1234_5670)
        #expect(rig.read(ring.length) == 0x1_2380)
        #expect(rig.read(ring.tail) == 0xEF01)
    }

    @Test func unknownRegistersReadZeroAndIgnoreWrites() throws {
        let rig = try Rig()
        rig.write(0x1F000, 0x1234)
        #expect(rig.read(0x1F000) == 0)
    }

    @Test func configSpaceIdentifiesAn82574LWithFiveMSIXVectors() throws {
        let rig = try Rig()
        #expect(try rig.nic.readConfig16(at: 0) == 0x8086)
        #expect(try rig.nic.readConfig16(at: 2) == 0x10D3)
        #expect(try rig.nic.readConfig32(at: 8) >> 8 == 0x02_0000)
        var capabilities: [UInt8: Int] = [:]
        var pointer = Int(try rig.nic.readConfig16(at: 0x34) & 0xFF)
        while pointer != 0 {
            let header = try rig.nic.readConfig16(at: pointer)
            capabilities[UInt8(header & 0xFF)] = pointer
            pointer = Int(header >> 8)
        }
        let msix = try #require(capabilities[0x11])
        #expect(capabilities[0x10] != nil)  // PCI Express
        #expect(try rig.nic.readConfig16(at: msix + 2) & 0x7FF == 4)  // table size N-1
        #expect(try rig.nic.readConfig32(at: msix + 4) == 3)  // table at offset 0 of BAR3
        #expect(try rig.nic.readConfig32(at: msix + 8) == 0x2003)  // PBA at 0x2000 of BAR3
        // BAR0 sizing: 128 KiB.
        try rig.nic.writeConfig32(0xFFFF_FFFF, at: 0x10)
        #expect(try rig.nic.readConfig32(at: 0x10) == 0xFFFE_0000)
        #expect(rig.nic.interruptCount(.msix) == 5)
        #expect(try rig.nic.region(bar: 3).length == 0x4000)
    }

    @Test func mdicReadsThePHY() throws {
        let rig = try Rig()
        rig.write(E1000ERegister.mdiControl, 2 << 26 | 1 << 21 | 2 << 16)  // read PHY 1 register 2 (ID1)
        let value = rig.read(E1000ERegister.mdiControl)
        #expect(value & (1 << 28) != 0 && value & 0xFFFF == 0x0141)
        rig.write(E1000ERegister.mdiControl, 2 << 26 | 2 << 21 | 2 << 16)  // PHY address 2 does not exist
        #expect(rig.read(E1000ERegister.mdiControl) & (1 << 30) != 0)
    }
}
