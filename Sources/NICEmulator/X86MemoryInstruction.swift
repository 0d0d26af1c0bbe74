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

/// One x86-64 instruction that moves data between a general-purpose register (or an immediate)
/// and memory: what a register access through `MMIORegion` compiles to.
///
/// The emulated NIC's register BAR is mapped with no access rights, so each driver load or store
/// faults, and `MMIOTrap` emulates it from this decoding (the technique of KVM's MMIO emulation,
/// on a much smaller instruction set). The set is what CShims' volatile accessors become in debug,
/// release and sanitizer builds: `mov r, m` and `mov m, r` (8B/89, 8A/88), `mov m, imm` (C7/C6),
/// `movzx r, m8/m16` (0F B6/B7), with 66 and REX prefixes and any ModRM/SIB addressing. The
/// address itself comes from the fault (`si_addr`), so only the length and operands matter here.
/// Anything else decodes to nil and the fault is passed on (a crash, as without the trap).
struct X86MemoryInstruction: Equatable, Sendable {
    enum Operation: Equatable, Sendable {
        /// Memory to `register`; the result is `resultWidth` bytes wide, zero-extended from
        /// `width` (a 32-bit result clears the upper half of the 64-bit register, as x86-64 does).
        case load(register: Int, resultWidth: Int)
        /// `register`'s low `width` bytes to memory.
        case store(register: Int)
        /// An immediate to memory.
        case storeImmediate(UInt64)
        /// An ALU operation with a memory operand: `memory op= source` (`toMemory`), or
        /// `register op= memory`. Release builds fold a register read-modify-write (a relaxed
        /// atomic load, an OR, a relaxed atomic store) into one `or $imm, (mem)`: on a device it is
        /// still a read then a write. `cmp` and `test` only read and set flags.
        case arithmetic(ALU, source: Source, toMemory: Bool)
    }

    enum ALU: Equatable, Sendable {
        case add, or, and, sub, xor, cmp, test
        var writesResult: Bool { self != .cmp && self != .test }
    }

    enum Source: Equatable, Sendable {
        case register(Int)
        case immediate(UInt64)
    }

    var operation: Operation
    /// Bytes accessed in memory: 1, 2, 4 or 8.
    var width: Int
    /// Bytes of the instruction, to step over it.
    var length: Int
    /// An 8-bit register operand is AH, CH, DH or BH (register numbers 4-7 without a REX prefix).
    var highByteRegister: Bool

    /// Decodes the instruction at `bytes`. `available` bounds the bytes read (15 is the x86 maximum).
    static func decode(_ bytes: UnsafePointer<UInt8>, available: Int = 15) -> X86MemoryInstruction? {
        var i = 0
        func next() -> UInt8? {
            guard i < available else { return nil }
            defer { i += 1 }
            return bytes[i]
        }
        var operandSize16 = false
        var rex: UInt8 = 0
        var opcode: UInt8 = 0
        prefixes: while true {
            guard let b = next() else { return nil }
            switch b {
            case 0x66:
                operandSize16 = true
            case 0x2E, 0x3E, 0x26, 0x36, 0xF0:
                break  // segment overrides that are no-ops in 64-bit mode, LOCK
            case 0x40...0x4F:
                rex = b  // REX comes right before the opcode
                guard let o = next() else { return nil }
                opcode = o
                break prefixes
            default:
                opcode = b
                break prefixes
            }
        }
        var twoByte: UInt8?
        if opcode == 0x0F {
            guard let o2 = next() else { return nil }
            twoByte = o2
        }
        guard let modrm = next() else { return nil }
        let mod = modrm >> 6
        let regField = Int((modrm >> 3) & 7) | (rex & 0x4 != 0 ? 8 : 0)
        let rm = modrm & 7
        guard mod != 3 else { return nil }  // a register operand: no memory access
        if rm == 4 {
            guard let sib = next() else { return nil }
            if mod == 0 && sib & 7 == 5 { i += 4 }
        } else if mod == 0 && rm == 5 {
            i += 4  // RIP-relative: never a BAR, but decodable
        }
        if mod == 1 { i += 1 } else if mod == 2 { i += 4 }
        let rexW = rex & 0x8 != 0
        let fullWidth = rexW ? 8 : operandSize16 ? 2 : 4
        let high = rex == 0 && (4...7).contains(regField)

        func immediate(_ size: Int) -> UInt64? {
            guard i + size <= available else { return nil }
            var v: UInt64 = 0
            for k in 0..<size { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            i += size
            return v
        }

        let result: X86MemoryInstruction
        if let op2 = twoByte {
            switch op2 {
            case 0xB6:
                result = X86MemoryInstruction(operation: .load(register: regField, resultWidth: fullWidth), width: 1, length: 0, highByteRegister: false)
            case 0xB7:
                result = X86MemoryInstruction(operation: .load(register: regField, resultWidth: fullWidth), width: 2, length: 0, highByteRegister: false)
            default:
                return nil
            }
        } else {
            switch opcode {
            case 0x8B:
                result = X86MemoryInstruction(operation: .load(register: regField, resultWidth: fullWidth), width: fullWidth, length: 0, highByteRegister: false)
            case 0x89:
                result = X86MemoryInstruction(operation: .store(register: regField), width: fullWidth, length: 0, highByteRegister: false)
            case 0x8A:
                result = X86MemoryInstruction(operation: .load(register: regField, resultWidth: 1), width: 1, length: 0, highByteRegister: high)
            case 0x88:
                result = X86MemoryInstruction(operation: .store(register: regField), width: 1, length: 0, highByteRegister: high)
            case 0xC7:
                guard regField & 7 == 0 else { return nil }
                // imm16 with 66, else imm32 (sign-extended to 64 bits with REX.W).
                guard let raw = immediate(operandSize16 ? 2 : 4) else { return nil }
                let value = rexW ? UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: raw))) : raw
                result = X86MemoryInstruction(operation: .storeImmediate(value), width: fullWidth, length: 0, highByteRegister: false)
            case 0xC6:
                guard regField & 7 == 0, let raw = immediate(1) else { return nil }
                result = X86MemoryInstruction(operation: .storeImmediate(raw), width: 1, length: 0, highByteRegister: false)
            case 0x80, 0x81, 0x83:
                let groupOps: [ALU?] = [.add, .or, nil, nil, .and, .sub, .xor, .cmp]
                guard let op = groupOps[regField & 7] else { return nil }
                let width = opcode == 0x80 ? 1 : fullWidth
                let immediateSize = opcode == 0x81 ? (operandSize16 ? 2 : 4) : 1
                guard let raw = immediate(immediateSize) else { return nil }
                let value = Self.signExtend(raw, fromBytes: immediateSize, toBytes: width)
                result = X86MemoryInstruction(operation: .arithmetic(op, source: .immediate(value), toMemory: true), width: width, length: 0, highByteRegister: false)
            case 0xF6, 0xF7:
                guard regField & 7 == 0 else { return nil }  // TEST r/m, imm
                let width = opcode == 0xF6 ? 1 : fullWidth
                let immediateSize = opcode == 0xF6 ? 1 : (operandSize16 ? 2 : 4)
                guard let raw = immediate(immediateSize) else { return nil }
                let value = Self.signExtend(raw, fromBytes: immediateSize, toBytes: width)
                result = X86MemoryInstruction(operation: .arithmetic(.test, source: .immediate(value), toMemory: true), width: width, length: 0, highByteRegister: false)
            case 0x85:
                result = X86MemoryInstruction(operation: .arithmetic(.test, source: .register(regField), toMemory: true), width: fullWidth, length: 0, highByteRegister: false)
            case 0x01, 0x03, 0x09, 0x0B, 0x21, 0x23, 0x29, 0x2B, 0x31, 0x33, 0x39, 0x3B:
                let ops: [UInt8: ALU] = [0: .add, 1: .or, 4: .and, 5: .sub, 6: .xor, 7: .cmp]
                guard let op = ops[opcode >> 3] else { return nil }
                result = X86MemoryInstruction(operation: .arithmetic(op, source: .register(regField), toMemory: opcode & 2 == 0),
                                              width: fullWidth, length: 0, highByteRegister: false)
            default:
                return nil
            }
        }
        guard i <= available else { return nil }
        var decoded = result
        decoded.length = i
        return decoded
    }

    static func signExtend(_ value: UInt64, fromBytes: Int, toBytes: Int) -> UInt64 {
        let shift = UInt64(64 - 8 * fromBytes)
        let extended = UInt64(bitPattern: Int64(bitPattern: value << shift) >> Int64(shift))
        return toBytes >= 8 ? extended : extended & ((1 << UInt64(8 * toBytes)) - 1)
    }

    /// The result and the arithmetic flags (CF, PF, ZF, SF, OF as in RFLAGS; AF left clear) of
    /// `a op b` at `width` bytes.
    static func alu(_ op: ALU, _ a: UInt64, _ b: UInt64, width: Int) -> (result: UInt64, flags: UInt64) {
        let bits = UInt64(8 * width)
        let mask: UInt64 = width >= 8 ? .max : (1 << bits) - 1
        let sign: UInt64 = 1 << (bits - 1)
        var result: UInt64
        var carry = false
        var overflow = false
        switch op {
        case .add:
            result = (a &+ b) & mask
            carry = result < (a & mask)
            overflow = (~(a ^ b) & (a ^ result) & sign) != 0
        case .sub, .cmp:
            result = (a &- b) & mask
            carry = (a & mask) < (b & mask)
            overflow = ((a ^ b) & (a ^ result) & sign) != 0
        case .or: result = (a | b) & mask
        case .and, .test: result = (a & b) & mask
        case .xor: result = (a ^ b) & mask
        }
        var flags: UInt64 = 0
        if carry { flags |= 1 << 0 }
        if (result & 0xFF).nonzeroBitCount % 2 == 0 { flags |= 1 << 2 }
        if result == 0 { flags |= 1 << 6 }
        if result & sign != 0 { flags |= 1 << 7 }
        if overflow { flags |= 1 << 11 }
        return (result, flags)
    }
}
