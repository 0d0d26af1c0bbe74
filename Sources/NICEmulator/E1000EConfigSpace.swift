/// The emulated 82574L's 4 KiB PCI configuration space, laid out as QEMU's `e1000e` presents it
/// (hw/net/e1000e.c): Intel 8086:10d3, class 0x020000 (Ethernet), BAR0 128 KiB registers, BAR1
/// 128 KiB flash, BAR2 32 bytes of I/O, BAR3 16 KiB holding the MSI-X table (offset 0) and PBA
/// (offset 0x2000). Capabilities: power management (0xC8), MSI (0xD0), PCI Express endpoint
/// (0xE0) and MSI-X with five vectors (0xA0) (PCI Local Bus 3.0, 6.7/6.8; PCIe base 4.0, 7.5.3).
///
/// Writes go through a per-byte mask: read-only bits keep their value; each BAR answers the
/// all-ones sizing probe with its size. Only BAR0 and BAR3 are backed by the emulator; BAR1 and
/// BAR2 exist for tools that size them.
struct E1000EConfigSpace {
    static let size = 4096
    static let msixOffset = 0xA0
    static let powerManagementOffset = 0xC8
    static let msiOffset = 0xD0
    static let expressOffset = 0xE0

    static let commandMemory: UInt16 = 1 << 1
    static let commandBusMaster: UInt16 = 1 << 2
    static let commandINTxDisable: UInt16 = 1 << 10
    static let msixEnable: UInt16 = 1 << 15
    static let msixFunctionMask: UInt16 = 1 << 14

    static let msixBAR = 3
    static let msixTableOffset = 0
    static let msixPBAOffset = 0x2000
    static let msixBARSize = 0x4000

    private(set) var bytes: [UInt8]
    private var writable: [UInt8]

    init(vectors: Int) {
        bytes = Array(repeating: 0, count: Self.size)
        writable = Array(repeating: 0, count: Self.size)
        set16(0x8086, at: 0x00)        // vendor: Intel
        set16(0x10D3, at: 0x02)        // device: 82574L
        set16(0x0010, at: 0x06)        // status: capabilities list
        bytes[0x08] = 0x00             // revision
        bytes[0x0B] = 0x02             // class: network controller, subclass Ethernet (0x00)
        set32(0x0000_0000, at: 0x10)   // BAR0: 32-bit memory, non-prefetchable
        set32(0x0000_0000, at: 0x14)   // BAR1: flash, 32-bit memory
        set32(0x0000_0001, at: 0x18)   // BAR2: I/O
        set32(0x0000_0000, at: 0x1C)   // BAR3: MSI-X, 32-bit memory
        set16(0x8086, at: 0x2C)        // subsystem vendor
        set16(0x0000, at: 0x2E)        // subsystem id
        bytes[0x34] = UInt8(Self.powerManagementOffset)
        bytes[0x3D] = 0x01             // interrupt pin INTA#
        setMask16(0x0547, at: 0x04)    // command: I/O, memory, bus master, parity, SERR, INTx disable
        setMask32(~UInt32(0x20000 - 1) & 0xFFFF_FFF0, at: 0x10)
        setMask32(~UInt32(0x20000 - 1) & 0xFFFF_FFF0, at: 0x14)
        setMask32(~UInt32(32 - 1) & 0xFFFF_FFFC, at: 0x18)
        setMask32(~UInt32(Self.msixBARSize - 1) & 0xFFFF_FFF0, at: 0x1C)
        writable[0x3C] = 0xFF

        let pm = Self.powerManagementOffset
        bytes[pm] = 0x01
        bytes[pm + 1] = UInt8(Self.msiOffset)
        set16(0x0002, at: pm + 2)      // PM version 2 (PCI PM 1.1), D0 only
        setMask16(0x0003, at: pm + 4)

        let msi = Self.msiOffset
        bytes[msi] = 0x05
        bytes[msi + 1] = UInt8(Self.expressOffset)
        set16(0x0080, at: msi + 2)     // 64-bit address, one message; enable is writable
        setMask16(0x0001, at: msi + 2)

        // PCI Express v2 endpoint: FLR supported, link x1 at 2.5 GT/s (the 82574 is a x1 part).
        let ex = Self.expressOffset
        bytes[ex] = 0x10
        bytes[ex + 1] = UInt8(Self.msixOffset)
        set16(0x0002, at: ex + 2)
        set32(1 << 28 | 1 << 15 | 0x1, at: ex + 4)
        setMask16(0xFFFF, at: ex + 8)  // DevCtl (bit 15 starts an FLR)
        set32(0x0000_0011, at: ex + 0x0C)
        setMask16(0x0FFF, at: ex + 0x10)
        set16(0x0011, at: ex + 0x12)

        let mx = Self.msixOffset
        bytes[mx] = 0x11
        bytes[mx + 1] = 0x00
        set16(UInt16(vectors - 1), at: mx + 2)
        setMask16(Self.msixEnable | Self.msixFunctionMask, at: mx + 2)
        set32(UInt32(Self.msixTableOffset | Self.msixBAR), at: mx + 4)
        set32(UInt32(Self.msixPBAOffset | Self.msixBAR), at: mx + 8)
    }

    func read16(at offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
    func read32(at offset: Int) -> UInt32 { UInt32(read16(at: offset)) | UInt32(read16(at: offset + 2)) << 16 }

    mutating func write(_ value: UInt32, at offset: Int, width: Int) {
        for i in 0..<width {
            let byte = UInt8(truncatingIfNeeded: value >> (8 * i))
            let mask = writable[offset + i]
            bytes[offset + i] = bytes[offset + i] & ~mask | byte & mask
        }
    }

    var command: UInt16 {
        get { read16(at: 0x04) }
        set { set16(newValue, at: 0x04) }
    }
    var busMasterEnabled: Bool { command & Self.commandBusMaster != 0 }
    var intxDisabled: Bool { command & Self.commandINTxDisable != 0 }

    var msixControl: UInt16 {
        get { read16(at: Self.msixOffset + 2) }
        set { set16(newValue, at: Self.msixOffset + 2) }
    }
    var msixEnabled: Bool { msixControl & Self.msixEnable != 0 }
    var msixFunctionMasked: Bool { msixControl & Self.msixFunctionMask != 0 }

    var functionLevelResetRequested: Bool { read16(at: Self.expressOffset + 8) & 0x8000 != 0 }
    mutating func clearFunctionLevelReset() {
        set16(read16(at: Self.expressOffset + 8) & 0x7FFF, at: Self.expressOffset + 8)
    }

    /// What a function level reset does to config space: command and MSI-X control cleared.
    mutating func reset() {
        command = 0
        msixControl = msixControl & ~(Self.msixEnable | Self.msixFunctionMask)
    }

    private mutating func set16(_ v: UInt16, at o: Int) {
        bytes[o] = UInt8(truncatingIfNeeded: v)
        bytes[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    private mutating func set32(_ v: UInt32, at o: Int) {
        set16(UInt16(truncatingIfNeeded: v), at: o)
        set16(UInt16(truncatingIfNeeded: v >> 16), at: o + 2)
    }
    private mutating func setMask16(_ v: UInt16, at o: Int) {
        writable[o] = UInt8(truncatingIfNeeded: v)
        writable[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
    private mutating func setMask32(_ v: UInt32, at o: Int) {
        setMask16(UInt16(truncatingIfNeeded: v), at: o)
        setMask16(UInt16(truncatingIfNeeded: v >> 16), at: o + 2)
    }
}
