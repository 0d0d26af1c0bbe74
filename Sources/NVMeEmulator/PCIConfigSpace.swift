/// The emulated function's 4 KiB PCI configuration space: a type 0 header and a capability list
/// with power management, MSI-X and PCI Express (PCI Local Bus 3.0, 6.7/6.8; PCIe base 4.0, 7.5.3).
///
/// Identity is QEMU's NVMe device (vendor 0x1b36, device 0x0010, class 0x010802), so tools that
/// recognise QEMU recognise this. Writes go through a per-byte mask: read-only bits keep their
/// value, BAR0 answers the all-ones sizing probe with its size.
struct PCIConfigSpace {
    static let size = 4096
    static let powerManagementOffset = 0x40
    static let msixOffset = 0x50
    static let expressOffset = 0x60

    /// PCI_COMMAND bits.
    static let commandMemory: UInt16 = 1 << 1
    static let commandBusMaster: UInt16 = 1 << 2
    static let commandINTxDisable: UInt16 = 1 << 10
    /// MSI-X Message Control bits (PCI 3.0, 6.8.2.3).
    static let msixEnable: UInt16 = 1 << 15
    static let msixFunctionMask: UInt16 = 1 << 14

    private(set) var bytes: [UInt8]
    private var writable: [UInt8]

    init(barSize: Int, msixVectors: Int, msixTableOffset: Int, msixPBAOffset: Int) {
        bytes = Array(repeating: 0, count: Self.size)
        writable = Array(repeating: 0, count: Self.size)
        set16(0x1B36, at: 0x00)        // vendor: Red Hat (QEMU)
        set16(0x0010, at: 0x02)        // device: QEMU NVM Express
        set16(0x0010, at: 0x06)        // status: capabilities list
        bytes[0x08] = 0x02             // revision
        bytes[0x09] = 0x02             // programming interface: NVM Express
        bytes[0x0A] = 0x08             // subclass: non-volatile memory controller
        bytes[0x0B] = 0x01             // class: mass storage
        bytes[0x0E] = 0x00             // header type 0
        set32(0x0000_0004, at: 0x10)   // BAR0: 64-bit memory, non-prefetchable, address 0
        set16(0x1AF4, at: 0x2C)        // subsystem vendor
        set16(0x1100, at: 0x2E)        // subsystem id
        bytes[0x34] = UInt8(Self.powerManagementOffset)
        bytes[0x3D] = 0x01             // interrupt pin INTA#
        // Command: I/O, memory, bus master, parity, SERR, INTx disable.
        setMask16(0x0547, at: 0x04)
        // BAR0 low (the size probe), BAR0 high, interrupt line.
        setMask32(~UInt32(barSize - 1) & 0xFFFF_FFF0, at: 0x10)
        setMask32(0xFFFF_FFFF, at: 0x14)
        writable[0x3C] = 0xFF

        // Power management, version 3 (PCI PM 1.2): D0 only, PMCSR power state writable.
        let pm = Self.powerManagementOffset
        bytes[pm] = 0x01
        bytes[pm + 1] = UInt8(Self.msixOffset)
        set16(0x0003, at: pm + 2)
        setMask16(0x0003, at: pm + 4)

        // MSI-X: table size N-1, table and PBA in BAR0 (BIR 0) at page-aligned offsets.
        let mx = Self.msixOffset
        bytes[mx] = 0x11
        bytes[mx + 1] = UInt8(Self.expressOffset)
        set16(UInt16(msixVectors - 1), at: mx + 2)
        setMask16(Self.msixEnable | Self.msixFunctionMask, at: mx + 2)
        set32(UInt32(msixTableOffset), at: mx + 4)
        set32(UInt32(msixPBAOffset), at: mx + 8)

        // PCI Express capability, version 2, endpoint; FLR supported; link x4 at 8 GT/s.
        let ex = Self.expressOffset
        bytes[ex] = 0x10
        bytes[ex + 1] = 0x00
        set16(0x0002, at: ex + 2)
        set32(1 << 28 | 1 << 15 | 0x1, at: ex + 4)   // DevCap: FLR, role-based error reporting, MPS 256
        setMask16(0xFFFF, at: ex + 8)                 // DevCtl (bit 15 starts an FLR)
        set32(0x0000_0043, at: ex + 0x0C)             // LinkCap: width 4, speed 3
        setMask16(0x0FFF, at: ex + 0x10)              // LinkCtl
        set16(0x0043, at: ex + 0x12)                  // LinkSta: width 4, speed 3
        set32(0x0000_0010, at: ex + 0x24)             // DevCap2: completion timeout disable supported
        setMask16(0x041F, at: ex + 0x28)              // DevCtl2
    }

    func read8(at offset: Int) -> UInt8 { bytes[offset] }
    func read16(at offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
    func read32(at offset: Int) -> UInt32 { UInt32(read16(at: offset)) | UInt32(read16(at: offset + 2)) << 16 }

    /// A masked write of `width` bytes.
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

    /// PCIe Device Control "Initiate Function Level Reset" (bit 15): the caller resets and clears it.
    var functionLevelResetRequested: Bool { read16(at: Self.expressOffset + 8) & 0x8000 != 0 }
    mutating func clearFunctionLevelReset() {
        set16(read16(at: Self.expressOffset + 8) & 0x7FFF, at: Self.expressOffset + 8)
    }

    /// What a function level reset does to config space: command and MSI-X control cleared.
    mutating func reset() {
        command = 0
        msixControl = msixControl & ~(Self.msixEnable | Self.msixFunctionMask)
        set16(0, at: Self.powerManagementOffset + 4)
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
