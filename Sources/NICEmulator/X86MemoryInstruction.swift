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
            default:
                return nil
            }
        }
        guard i <= available else { return nil }
        var decoded = result
        decoded.length = i
        return decoded
    }
}
