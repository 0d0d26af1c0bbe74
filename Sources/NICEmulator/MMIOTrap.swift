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
#if canImport(Glibc)
import Glibc
#endif

/// The side of a trapped register window that gives each access its effect.
protocol TrappedRegisterFile: AnyObject, Sendable {
    /// A driver load of `width` bytes at `offset`: the value, with the register's read side
    /// effects (ICR and statistics clear on read).
    func trappedLoad(offset: Int, width: Int) -> UInt64
    /// A driver store of `width` bytes at `offset`.
    func trappedStore(offset: Int, width: Int, value: UInt64)
}

/// Register windows whose every access runs device code: the NIC's BAR0.
///
/// A NIC register has effects on read (ICR and the statistics clear, 82574 datasheet 10.2.4.1 and
/// 10.2.7) and on write (TDT starts transmission, IMS/IMC/ICS act on bits), and the driver reaches
/// it with plain loads and stores through `MMIORegion`. So the window is mapped `PROT_NONE`; each
/// access faults, and the SIGSEGV handler decodes the instruction (`X86MemoryInstruction`), calls
/// the device, writes a load's result into the saved register and steps over the instruction: the
/// same contract as QEMU's `e1000e_core_read`/`_write` behind a trapped guest BAR. A fault outside
/// every window goes to the handler that was installed before (Swift's backtracer, a sanitizer's),
/// or to the default action.
///
/// The handler runs on the faulting thread, synchronously, like a function call; it takes the
/// device lock, so device code must never touch a trapped window itself (it works on its own
/// register array). x86-64 Linux only.
enum MMIOTrap {
    struct Window: @unchecked Sendable {
        let start: UInt
        let end: UInt
        // A strong reference: a device is released only after its window is removed.
        let file: any TrappedRegisterFile
    }

    /// Whether this process runs under ThreadSanitizer. Its runtime performs each instrumented
    /// register access (an atomic load or store) while holding its own lock, so the fault would
    /// enter our handler inside that lock, and the handler's first synchronised access deadlocks.
    /// The sanitizer's entry points are linked into the executable, so looking one up tells.
    static let underThreadSanitizer: Bool = {
        guard let process = dlopen(nil, RTLD_NOW) else { return false }
        defer { dlclose(process) }
        return dlsym(process, "__tsan_init") != nil
    }()

    /// A `TSanVisibleMutex`: tests create devices on many threads at once, and a contended
    /// `Mutex` hands over in the kernel where ThreadSanitizer cannot see it.
    static let windows = TSanVisibleMutex<[Window]>([])
    static let installed = Atomic<Bool>(false)
    nonisolated(unsafe) static var previous = sigaction()
    /// Accesses emulated, for tests and the statistics.
    static let emulatedAccesses = Atomic<UInt64>(0)

    /// Maps `length` bytes with no access and routes every access to `file`. Returns the base.
    static func mapWindow(length: Int, file: any TrappedRegisterFile) -> UnsafeMutableRawPointer? {
        installHandler()
        let p = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        let start = UInt(bitPattern: p)
        windows.withLock { (list: inout sending [Window]) in list.append(Window(start: start, end: start + UInt(length), file: file)) }
        return p
    }

    /// Removes the window and unmaps it; later accesses are ordinary faults.
    static func unmapWindow(_ base: UnsafeMutableRawPointer, length: Int) {
        let start = UInt(bitPattern: base)
        let removed: Window? = windows.withLock { (list: inout sending [Window]) -> sending Window? in
            guard let i = list.firstIndex(where: { $0.start == start }) else { return nil }
            return list.remove(at: i)
        }
        munmap(base, length)
        _ = removed  // the device reference goes here, outside the lock
    }

    static func lookup(_ address: UInt) -> (any TrappedRegisterFile, Int)? {
        let found: Window? = windows.withLock { (list: inout sending [Window]) -> sending Window? in
            list.first { address >= $0.start && address < $0.end }
        }
        guard let found else { return nil }
        return (found.file, Int(address - found.start))
    }

    private static func installHandler() {
        guard !installed.load(ordering: .acquiring) else { return }
        windows.withLock { (_: inout sending [Window]) in
            guard !installed.load(ordering: .relaxed) else { return }
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = mmioTrapHandler
            action.sa_flags = SA_SIGINFO | SA_ONSTACK
            sigemptyset(&action.sa_mask)
            sigaction(SIGSEGV, &action, &previous)
            installed.store(true, ordering: .releasing)
        }
    }

    /// Indices into `mcontext_t.gregs` (glibc `REG_*`, x86-64) of registers 0-15 in encoding order
    /// (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15), and of rip.
    static let gregIndex: [Int] = [13, 14, 12, 11, 15, 10, 9, 8, 0, 1, 2, 3, 4, 5, 6, 7]
    static let ripIndex = 16
    static let flagsIndex = 17

    /// Emulates the access at `address` for the thread context `context`. False when the address is
    /// in no window or the instruction is not one `X86MemoryInstruction` knows.
    static func emulate(address: UInt, context: UnsafeMutableRawPointer) -> Bool {
        #if arch(x86_64)
        guard let (file, offset) = lookup(address) else { return false }
        let uc = context.assumingMemoryBound(to: ucontext_t.self)
        return withUnsafeMutableBytes(of: &uc.pointee.uc_mcontext.gregs) { raw -> Bool in
            let gregs = raw.bindMemory(to: Int64.self)
            let rip = UInt(bitPattern: Int(gregs[ripIndex]))
            guard let code = UnsafePointer<UInt8>(bitPattern: rip),
                  let insn = X86MemoryInstruction.decode(code) else { return false }
            switch insn.operation {
            case .load(let register, let resultWidth):
                var value = file.trappedLoad(offset: offset, width: insn.width)
                if insn.width < 8 { value &= (1 << UInt64(8 * insn.width)) - 1 }  // movzx zero-extends the accessed bytes only
                let slot = gregIndex[register]
                var old = UInt64(bitPattern: gregs[slot])
                switch resultWidth {
                case 8, 4: old = value  // a 32-bit result zero-extends into the whole register
                case 2: old = old & ~0xFFFF | value & 0xFFFF
                default:
                    if insn.highByteRegister {
                        let s = gregIndex[register - 4]
                        old = UInt64(bitPattern: gregs[s])
                        old = old & ~0xFF00 | (value & 0xFF) << 8
                        gregs[s] = Int64(bitPattern: old)
                        gregs[ripIndex] = Int64(Int(bitPattern: rip) + insn.length)
                        return true
                    }
                    old = old & ~0xFF | value & 0xFF
                }
                gregs[slot] = Int64(bitPattern: old)
            case .store(let register):
                var value: UInt64
                if insn.highByteRegister {
                    value = UInt64(bitPattern: gregs[gregIndex[register - 4]]) >> 8
                } else {
                    value = UInt64(bitPattern: gregs[gregIndex[register]])
                }
                if insn.width < 8 { value &= (1 << UInt64(8 * insn.width)) - 1 }
                file.trappedStore(offset: offset, width: insn.width, value: value)
            case .storeImmediate(let value):
                let masked = insn.width < 8 ? value & ((1 << UInt64(8 * insn.width)) - 1) : value
                file.trappedStore(offset: offset, width: insn.width, value: masked)
            case .arithmetic(let op, let source, let toMemory):
                let mask: UInt64 = insn.width >= 8 ? .max : (1 << UInt64(8 * insn.width)) - 1
                let memory = file.trappedLoad(offset: offset, width: insn.width) & mask
                var other: UInt64
                var registerSlot = 0
                switch source {
                case .immediate(let value):
                    other = value & mask
                case .register(let register):
                    registerSlot = gregIndex[register]
                    other = UInt64(bitPattern: gregs[registerSlot]) & mask
                }
                let (result, flags) = toMemory
                    ? X86MemoryInstruction.alu(op, memory, other, width: insn.width)
                    : X86MemoryInstruction.alu(op, other, memory, width: insn.width)
                let flagMask: UInt64 = 1 << 0 | 1 << 2 | 1 << 4 | 1 << 6 | 1 << 7 | 1 << 11
                gregs[flagsIndex] = Int64(bitPattern: UInt64(bitPattern: gregs[flagsIndex]) & ~flagMask | flags)
                if op.writesResult {
                    if toMemory {
                        file.trappedStore(offset: offset, width: insn.width, value: result)
                    } else {
                        var old = UInt64(bitPattern: gregs[registerSlot])
                        old = insn.width >= 4 ? result : old & ~mask | result
                        gregs[registerSlot] = Int64(bitPattern: old)
                    }
                }
            }
            gregs[ripIndex] = Int64(Int(bitPattern: rip) + insn.length)
            emulatedAccesses.add(1, ordering: .relaxed)
            return true
        }
        #else
        return false
        #endif
    }

    /// A fault that is not ours: what would have happened without the trap.
    static func passOn(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
        let old = previous
        if old.sa_flags & SA_SIGINFO != 0, let handler = old.__sigaction_handler.sa_sigaction {
            handler(signal, info, context)
            return
        }
        if let handler = old.__sigaction_handler.sa_handler,
           unsafeBitCast(handler, to: Int.self) > 1 {  // neither SIG_DFL (0) nor SIG_IGN (1)
            handler(signal)
            return
        }
        // Default action: restore it and return; the instruction faults again and the process dies
        // with SIGSEGV as it would have.
        var dfl = sigaction()
        dfl.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&dfl.sa_mask)
        sigaction(SIGSEGV, &dfl, nil)
    }
}

private func mmioTrapHandler(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    if let info, let context,
       MMIOTrap.emulate(address: UInt(bitPattern: info.pointee._sifields._sigfault.si_addr), context: context) {
        return
    }
    MMIOTrap.passOn(signal, info, context)
}
