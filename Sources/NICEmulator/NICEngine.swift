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
import NetFrames
import PCIEmulation
import VFIO
#if canImport(Glibc)
import Glibc
#endif

/// All of the emulated 82574L's state and behaviour, owned by one lock (`NICCore`).
///
/// The register file is an array of 32-bit words indexed by BAR0 offset / 4, as QEMU's
/// `core->mac`; each driver access arrives through `readRegister`/`writeRegister` (trapped) with
/// its side effects. Everything the driver hands over (ring bases, lengths, heads, tails,
/// descriptors, IVAR entries) is untrusted and checked before use; nothing here traps on a value
/// the host chose. Public only as `EmulatedE1000E`'s engine type; its members are the module's own.
public struct NICEngine: EmulatedPCIEngine {
    static let vectorCount = InterruptVectorAllocation.vectorCount
    /// QEMU `E1000E_MIN_XITR`: ITR/EITR below 500 (128 us) act as 500 (datasheet 10.2.4.2: at
    /// most 7813 interrupts per second).
    static let minimumThrottleInterval: UInt32 = 500
    /// ITR/EITR unit (datasheet 10.2.4.2).
    static let throttleUnitNanoseconds: UInt64 = 256
    /// QEMU `E1000E_MAX_TX_FRAGS`: a packet of more descriptors is dropped.
    static let maximumTransmitFragments = 64
    static let eepromWords = 64

    let configuration: EmulatedE1000EConfiguration
    let iommu: EmulatedIOMMU

    var mac: [UInt32]
    var eeprom: [UInt16]
    var phy: [UInt16]
    /// Config space, the MSI-X table and PBA (BAR3, plain memory written by the "kernel" side),
    /// the interrupt eventfds and the IOMMU.
    public var pci: PCIFunctionState

    // Interrupts.
    /// QEMU `msi_causes_pending`: causes already signalled and not yet cleared; a cause fires
    /// again only after it has been cleared.
    var msiCausesPending: UInt32 = 0
    /// Throttle state per MSI-X vector (0..<5) and for ITR (index 5).
    var throttles = Array(repeating: Throttle(), count: NICEngine.vectorCount + 1)
    /// ITR and EITR as the driver wrote them (reads return these; QEMU `itr_guest_value`).
    var itrGuest: UInt32 = 0
    var eitrGuest = Array(repeating: UInt32(0), count: NICEngine.vectorCount)

    // Receive.
    /// Descriptors fetched per receive queue (`ReceiveDescriptorCache`).
    var receiveCache = [ReceiveDescriptorCache(), ReceiveDescriptorCache()]

    // Transmit.
    var transmitRequested = [false, false]
    /// The link partner asked the MAC to hold its transmissions (an 802.3x PAUSE): tail writes
    /// are remembered and acted on once it is released (`EmulatedE1000E.holdTransmissions`).
    var transmitHeld = false
    var assembly = [TransmitAssembly(), TransmitAssembly()]
    /// Frames sent during this step, handed to the wire by the device after the lock is released.
    var outgoing: [Outgoing] = []

    // Link and time.
    var cableConnected: Bool
    var manualNow: UInt64 = 0
    var now: UInt64 = 0

    var faults: NICFaultInjector
    var statistics = NICEmulatorStatistics()

    init(configuration: EmulatedE1000EConfiguration, iommu: EmulatedIOMMU, msix: MMIORegion) {
        self.configuration = configuration
        self.iommu = iommu
        mac = Array(repeating: 0, count: Offset.barLength / 4)
        phy = Array(repeating: 0, count: 32)
        eeprom = Self.makeEEPROM(mac: configuration.macAddress)
        pci = PCIFunctionState(config: Self.configSpace, msix: Self.msixTable(in: msix), iommu: iommu)
        cableConnected = configuration.cableConnected
        faults = NICFaultInjector(plan: configuration.faultPlan)
        resetRegisters()
    }

    /// The NVM image: the MAC in words 0-2, the device id in words 11 and 13, and word 0x3F making
    /// the sum of words 0-0x3F 0xBABA (82574 datasheet 6.1; QEMU `e1000x_core_prepare_eeprom`).
    static func makeEEPROM(mac: MACAddress) -> [UInt16] {
        var words = Array(repeating: UInt16(0), count: eepromWords)
        let b = mac.bytes
        words[0] = UInt16(b.0) | UInt16(b.1) << 8
        words[1] = UInt16(b.2) | UInt16(b.3) << 8
        words[2] = UInt16(b.4) | UInt16(b.5) << 8
        words[0x0B] = 0x10D3
        words[0x0D] = 0x10D3
        var sum: UInt16 = 0
        for i in 0..<0x3F { sum &+= words[i] }
        words[0x3F] = 0xBABA &- sum
        return words
    }

    // MARK: - Reset

    /// Power-on and CTRL.RST values (QEMU `e1000e_mac_reg_init`, except that the link comes up
    /// only when the driver sets CTRL.SLU, as on the 82574: QEMU starts with SLU and LU set).
    /// PCI config space and the MSI-X table are not touched (CTRL.RST is a MAC reset).
    mutating func resetRegisters() {
        for i in mac.indices { mac[i] = 0 }
        store(Offset.pba, 0x0014_0014)
        store(Offset.ctrl, 1 << 0 | 2 << 8 | 1 << 20)  // FD, SPEED 1000, ADVD3WUC
        store(Offset.status, 0)
        store(Offset.eecd, 1 << 8 | 1 << 9)  // PRES, AUTO_RD
        store(Offset.eerd, 1 << 1)  // DONE
        store(Offset.tarc0, 0x3 | E1000ERegister.transmitArbitrationEnable)
        store(Offset.tarc1, 0x3 | E1000ERegister.transmitArbitrationEnable)
        store(Offset.tipg, TransmitInterPacketGap.copperDefault.rawValue)
        store(Offset.rxcsum, 1 << 8 | 1 << 9)  // IPOFLD, TUOFLD
        store(Offset.swsm, 1)
        store(E1000ERegister.receiveQueue(0).control.offset, 1 << 16)
        store(E1000ERegister.receiveQueue(1).control.offset, 1 << 16)
        store(Offset.itr, Self.minimumThrottleInterval)
        for v in 0..<Self.vectorCount { store(Offset.eitr0 + 4 * v, Self.minimumThrottleInterval) }
        itrGuest = 0
        for v in 0..<Self.vectorCount { eitrGuest[v] = 0 }
        let address = configuration.macAddress
        store(Offset.ral0, address.receiveAddressLow)
        var high = address.receiveAddressHigh
        high.addressValid = true
        store(Offset.ral0 + 4, high.rawValue)
        // PHY (page 0): 1000 Mb/s full duplex with auto-negotiation; link status follows the link.
        for i in phy.indices { phy[i] = 0 }
        phy[0] = 0x1140
        phy[1] = 0x7949
        phy[2] = 0x0141
        phy[3] = 0x0CB1
        msiCausesPending = 0
        throttles = Array(repeating: Throttle(), count: Self.vectorCount + 1)
        transmitRequested = [false, false]
        assembly = [TransmitAssembly(), TransmitAssembly()]
        flushReceiveDescriptorCaches()
        updateLink(raiseChange: false)
    }

    @inline(__always) func load(_ offset: Int) -> UInt32 { mac[offset >> 2] }
    @inline(__always) mutating func store(_ offset: Int, _ value: UInt32) { mac[offset >> 2] = value }

    // MARK: - Time

    mutating func updateNow() {
        now = configuration.clock == .manual ? manualNow : MonotonicClock.nanoseconds()
    }

    // MARK: - Link

    var linkUp: Bool { load(Offset.status) & 0x2 != 0 }

    /// STATUS.LU is up while a cable is connected and CTRL.SLU is set; a change raises LSC.
    mutating func updateLink(raiseChange: Bool = true) {
        let up = cableConnected && DeviceControl(rawValue: load(Offset.ctrl)).setLinkUp
        guard up != linkUp else { return }
        store(Offset.status, up ? load(Offset.status) | 0x2 : load(Offset.status) & ~0x2)
        phy[1] = up ? phy[1] | 0x0024 : phy[1] & ~0x0024  // link status, auto-negotiation complete
        if raiseChange { setInterruptCause(Cause.lsc) }
    }

    // MARK: - Register reads

    /// A driver load, with the register's read side effects (QEMU `e1000e_macreg_readops`).
    mutating func readRegister(_ offset: Int) -> UInt32 {
        // A function gone from the bus answers every read with all ones, without side effects.
        if pci.removed { return .max }
        updateNow()
        serviceThrottles()
        statistics.registerAccesses += 1
        switch offset {
        case Offset.status:
            // Full duplex and 1000 Mb/s (the emulated PHY's only mode), bus mastering enabled
            // unless CTRL.GIO_MASTER_DISABLE (QEMU `e1000e_get_status`).
            var value = load(Offset.status) | 0x1 | 0x80
            if load(Offset.ctrl) & 0x4 == 0 { value |= 1 << 19 }
            return value
        case Offset.icr:
            return readInterruptCause()
        case Offset.itr:
            return itrGuest
        case Offset.eitr0..<(Offset.eitr0 + 4 * Self.vectorCount):
            return offset % 4 == 0 ? eitrGuest[(offset - Offset.eitr0) / 4] : 0
        case Offset.tarc0, Offset.tarc1:
            return load(offset) & (0x7FF | 0xF << 27)
        case Offset.swsm:
            let value = load(offset)
            store(offset, value | 1)
            return value
        case Offset.statisticsRange:
            return readStatistic(offset)
        default:
            return Self.isPlainRegister(offset) ? load(offset) : 0
        }
    }

    /// Statistics are clear on read (82574 datasheet 10.2.7). A 64-bit counter (GORC, GOTC, TOR,
    /// TOT) clears both halves when its high half is read, as QEMU's `e1000e_mac_read_clr8`.
    /// Differences from QEMU 7.2 kept on purpose: MPC clears on read (QEMU never clears it and never
    /// counts it, since it holds frames instead of dropping them); GPRC/GORC count on their own
    /// (QEMU 7.2 copies TPR/TOR into them at each packet, so reading only GPRC overcounts there:
    /// a driver should read TPR and TOR too, or all of them each time).
    mutating func readStatistic(_ offset: Int) -> UInt32 {
        let value = load(offset)
        switch offset {
        case 0x408C, 0x4094, 0x40C4, 0x40CC:  // GORCH, GOTCH, TORH, TOTH
            store(offset, 0)
            store(offset - 4, 0)
        case 0x4088, 0x4090, 0x40C0, 0x40C8:  // low halves: cleared with the high half
            break
        default:
            store(offset, 0)
        }
        return value
    }

    /// Registers that read back what was written (QEMU `e1000e_mac_readreg`/`writereg`).
    static func isPlainRegister(_ offset: Int) -> Bool {
        switch offset {
        case Offset.ctrl, Offset.eecd, Offset.eerd, Offset.ctrlExt, Offset.mdic, Offset.ics, Offset.ims,
             Offset.eiac, Offset.iam, Offset.ivar, Offset.rctl, Offset.tctl, Offset.tipg, Offset.pba,
             Offset.rxcsum, Offset.rfctl, Offset.mrqc, Offset.pbaclr,
             Offset.rdtr, Offset.radv, Offset.tidv, Offset.tadv:
            return true
        case 0x2800..<0x2830, 0x2900..<0x2930, 0x3800..<0x3830, 0x3900..<0x3930:
            return true  // ring registers of both queues
        case Offset.mta0..<(Offset.mta0 + 4 * E1000ERegister.multicastTableCount),
             Offset.ral0..<(Offset.ral0 + 8 * E1000ERegister.receiveAddressCount),
             Offset.reta0..<(Offset.reta0 + 4 * RedirectionTable.registerCount),
             Offset.rssrk0..<(Offset.rssrk0 + 4 * RSSKey.registerCount):
            return true
        default:
            return false
        }
    }

    // MARK: - Register writes

    /// A driver store, with the register's side effects (QEMU `e1000e_macreg_writeops`).
    mutating func writeRegister(_ offset: Int, _ value: UInt32) {
        // Writes to a missing function go nowhere.
        if pci.removed { return }
        updateNow()
        serviceThrottles()
        statistics.registerAccesses += 1
        switch offset {
        case Offset.ctrl:
            store(offset, value & ~(1 << 26))  // RST self-clears
            if value & (1 << 26) != 0 {
                resetRegisters()
                return
            }
            if value & (1 << 31) != 0 { store(Offset.status, load(Offset.status) | 0x400) }  // PHY_RST: PHYRA
            updateLink()
        case Offset.status:
            if value & 0x400 == 0 { store(offset, load(offset) & ~0x400) }  // PHYRA is write-0-to-clear
        case Offset.eecd:
            let readOnly: UInt32 = 1 << 8 | 1 << 9 | 0xF << 11
            store(offset, load(offset) & readOnly | value & ~readOnly)
        case Offset.eerd:
            writeEEPROMRead(value)
        case Offset.ctrlExt:
            store(offset, value & ~(1 << 12 | 1 << 13))  // ASDCHK, EE_RST self-clear
        case Offset.mdic:
            writeMDIC(value)
        case Offset.icr:
            writeInterruptCause(value)
        case Offset.ics:
            setInterruptCause(value)
        case Offset.ims:
            writeInterruptMaskSet(value)
        case Offset.imc:
            store(Offset.ims, load(Offset.ims) & ~value)
            updateInterruptState()
        case Offset.itr:
            itrGuest = value & 0xFFFF
            store(offset, max(itrGuest, Self.minimumThrottleInterval))
        case Offset.eitr0..<(Offset.eitr0 + 4 * Self.vectorCount):
            guard offset % 4 == 0 else { return }
            let v = (offset - Offset.eitr0) / 4
            eitrGuest[v] = value & 0xFFFF
            store(offset, max(eitrGuest[v], Self.minimumThrottleInterval))
        case Offset.rctl:
            store(offset, value)
            if !ReceiveControl(rawValue: value).enable { flushReceiveDescriptorCaches() }
        case Offset.tctl:
            store(offset, value)
            requestTransmit(0)
            requestTransmit(1)
        case Offset.pbaclr:
            store(offset, value & 0x1F)
            if pci.config.msixEnabled {
                for v in 0..<Self.vectorCount where value & (1 << v) != 0 { pci.setPending(v, false) }
            }
        case Offset.tarc0, Offset.tarc1:
            store(offset, value)
        case Offset.swsm:
            store(offset, value)
        case Offset.rdtr, Offset.radv, Offset.tidv, Offset.tadv:
            store(offset, value & 0xFFFF)
        case 0x2800..<0x2830, 0x2900..<0x2930, 0x3800..<0x3830, 0x3900..<0x3930:
            writeRingRegister(offset, value)
        case Offset.statisticsRange:
            return  // read-only
        default:
            if Self.isPlainRegister(offset) { store(offset, value) }
        }
    }

    /// xDBAL is 16-byte aligned, xDLEN a multiple of 128, heads and tails 16 bits (QEMU
    /// `e1000e_set_dbal`/`_dlen`/`_16bit`/`_rdt`/`_tdt`). A TDT write starts transmission when
    /// the queue's TARC.ENABLE is set; here it is noted and done at the next step.
    mutating func writeRingRegister(_ offset: Int, _ value: UInt32) {
        let receive = offset < 0x3800
        let queue = (offset & 0x100) != 0 ? 1 : 0
        let ring = Offset.ring(receive: receive, queue)
        switch offset {
        case ring.baseAddressLow.offset: store(offset, value & 0xFFFF_FFF0)
        case ring.length.offset: store(offset, value & 0x000F_FF80)
        case ring.head.offset: store(offset, value & 0xFFFF)
        case ring.tail.offset:
            store(offset, value & 0xFFFF)
            if !receive { requestTransmit(queue) }
        default: store(offset, value)
        }
    }

    mutating func requestTransmit(_ queue: Int) {
        let tarc = queue == 0 ? Offset.tarc0 : Offset.tarc1
        if load(tarc) & E1000ERegister.transmitArbitrationEnable != 0 { transmitRequested[queue] = true }
    }

    /// EERD: a read with START of a word below 64 completes at once with DONE and the data
    /// (QEMU `e1000e_set_eerd`); otherwise DONE stays clear.
    mutating func writeEEPROMRead(_ value: UInt32) {
        var request = EEPROMRead(rawValue: value)
        let address = Int(request.address)
        var result = EEPROMRead(rawValue: 0)
        result.address = request.address
        if request.start && address < Self.eepromWords {
            result.data = eeprom[address]
            result.done = true
        }
        request = result
        store(Offset.eerd, request.rawValue)
    }

    /// MDIC: PHY register access, complete at once (READY set). PHY address 1 only; another
    /// address sets ERROR (QEMU `e1000e_set_mdic`). Page 0 registers 0-31.
    mutating func writeMDIC(_ value: UInt32) {
        let data = UInt16(truncatingIfNeeded: value)
        let register = Int((value >> 16) & 0x1F)
        let phyAddress = (value >> 21) & 0x1F
        let op = (value >> 26) & 0x3
        var result = value & ~(1 << 28 | 1 << 30)
        if phyAddress != 1 {
            result = load(Offset.mdic) | 1 << 30
        } else if op == 2 {  // read
            result = value & 0xFFFF_0000 | UInt32(phy[register])
        } else if op == 1 {  // write
            switch register {
            case 0: phy[0] = data & ~(1 << 15 | 1 << 9)  // reset and restart-autoneg self-clear
            case 1, 2, 3: break  // read-only
            default: phy[register] = data
            }
        }
        store(Offset.mdic, result | 1 << 28)
        if value & (1 << 29) != 0 { setInterruptCause(Cause.mdac) }
    }

    // MARK: - Step

    /// Does the device's work: transmissions the driver asked for, then delayed interrupts.
    /// Returns whether anything happened.
    mutating func step() -> Bool {
        if pci.removed { return false }
        updateNow()
        var worked = serviceThrottles()
        for q in 0..<2 where transmitRequested[q] && !transmitHeld {
            transmitRequested[q] = false
            transmit(queue: q)
            worked = true
        }
        return worked
    }

    /// A function level reset's part in the MAC: every register to its power-on value (config
    /// space and MSI-X are `PCIFunctionState`'s).
    public mutating func resetDevice() {
        resetRegisters()
    }

    /// Surprise removal: registers read all ones (`readRegister`), nothing is transmitted or
    /// received any more; frames from the wire are dropped (`receive`).
    public mutating func functionRemoved() {
        for q in 0..<2 { transmitRequested[q] = false }
    }

    /// INTx is level-triggered: unmasked while a cause is still pending and enabled, it is
    /// raised again (vfio-pci's unmask handler). MSI-X held messages are already sent.
    public mutating func interruptUnmasked(vector: Int) {
        if pci.interruptKind == .intx, load(Offset.icr) & load(Offset.ims) != 0 { raiseINTx() }
    }
}

/// A transmit packet being gathered from descriptors up to EOP.
struct TransmitAssembly {
    var bytes: [UInt8] = []
    var fragments = 0
    /// A fragment was refused; the packet is dropped at EOP (QEMU `skip_cp`).
    var skip = false
}

/// ITR/EITR state: after an interrupt the next one waits `interval * 256 ns` (QEMU
/// `E1000IntrDelayTimer` used for throttling).
struct Throttle {
    var running = false
    var until: UInt64 = 0
    var pending = false
}
