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

import Logging
import NetFrames
import VFIO

/// An Intel 82574L Gigabit Ethernet controller (QEMU's `-device e1000e`), driven from userspace.
///
/// `init` brings the NIC up (reset, interrupts masked, station address, link, filters, RSS); the
/// data path lives in `ReceiveQueue` and `TransmitQueue`, one per thread, made with
/// `makeReceiveQueue`/`makeTransmitQueue`. Generic over the device, so the same code runs on
/// vfio-pci and on the emulated NIC, statically dispatched.
///
/// Thread safety: the methods here (link, statistics, queue creation, close) may be called from
/// any thread; they serialise on an internal lock. Queues keep the NIC alive until they are dropped.
public final class E1000E<Device: PCIFunction>: @unchecked Sendable {
    /// The device this driver runs.
    public let device: Device
    /// The station address (RAL0/RAH0 after bring-up).
    public let macAddress: MACAddress
    /// The options the NIC was brought up with.
    public let options: NICOptions
    /// Vectors enabled: 5 with MSI-X (RxQ0, RxQ1, TxQ0, TxQ1, Other), 1 with the MSI or INTx
    /// fallback, 0 when every queue polls.
    public let interruptVectors: Int
    /// The interrupt mechanism in use, or nil when every queue polls.
    public let interruptKind: InterruptKind?
    /// Whether receive descriptors use the extended format (RSS with two receive queues).
    public let extendedReceiveDescriptors: Bool

    @usableFromInline let registers: MMIORegion
    let state: TSanVisibleMutex<State>

    /// `NICOptions.logger`.
    public var logger: Logger { options.logger }

    /// PCI ids of the 82574L (`E1000_DEV_ID_82574L`), as QEMU's e1000e presents itself.
    public static var vendorID: UInt16 { 0x8086 }
    public static var deviceID: UInt16 { 0x10D3 }

    /// Vector of each IVAR source: one per queue, the fifth for link and other causes.
    @inlinable static func vector(for source: InterruptVectorAllocation.Source) -> Int { source.rawValue }

    /// Registers up to the RSS key must exist (0x5CA8); anything smaller is not an 82574 BAR0.
    static var minimumBARLength: Int { 0x5D00 }

    struct State {
        var receiveQueueLive = [false, false]
        var transmitQueueLive = [false, false]
        var receiveControl = ReceiveControl(rawValue: 0)
        var transmitControl = TransmitControl(rawValue: 0)
        var totals = NICStatistics()
        var closed = false
        var vectorsReleased = false
    }

    // MARK: - Bring-up (82574 datasheet 4.6 "Software initialization sequence"; Linux e1000e
    // `e1000_reset_hw_82571`, `e1000_init_hw_82571`, `e1000_configure_rx`/`_tx`)

    /// Brings the NIC up. It receives and transmits once queues are made.
    public init(device: Device, options: NICOptions = NICOptions()) throws(NICError) {
        try options.validate()
        let registers: MMIORegion
        do {
            let vendor = try device.readConfig16(at: 0)
            let product = try device.readConfig16(at: 2)
            guard vendor == Self.vendorID && product == Self.deviceID else {
                throw NICError.unsupportedDevice(name: device.name, vendor: vendor, device: product)
            }
            try device.enableBusMaster()
            registers = try device.region(bar: 0)
        } catch let error as NICError {
            throw error
        } catch let error as VFIOError {
            throw .vfio(error)
        } catch {
            throw .invalidArgument("\(error)")
        }
        guard registers.length >= Self.minimumBARLength else {
            throw .invalidArgument("\(device.name): BAR0 is \(registers.length) bytes, smaller than the 82574 register set")
        }

        try Self.reset(registers: registers, device: device)

        var vectors = 0
        var kind: InterruptKind? = nil
        do throws(NICError) {
            if options.interrupts {
                // MSI-X with a vector per queue; else one MSI or INTx vector that every queue
                // shares (its causes are RXT0 and TXDW, cleared by writing ICR).
                if device.interruptCount(.msix) >= InterruptVectorAllocation.vectorCount {
                    kind = .msix
                    vectors = InterruptVectorAllocation.vectorCount
                } else if device.interruptCount(.msi) >= 1 {
                    kind = .msi
                    vectors = 1
                } else if device.interruptCount(.intx) >= 1 {
                    kind = .intx
                    vectors = 1
                }
                if let kind {
                    do {
                        try device.enableInterrupts(kind, count: vectors)
                    } catch {
                        vectors = 0
                        throw .vfio(error)
                    }
                }
            }
            if kind == .msix {
                Self.configureMSIX(registers: registers, throttleNanoseconds: options.interruptThrottleNanoseconds)
            } else if kind != nil, let ns = options.interruptThrottleNanoseconds {
                registers.write(E1000ERegister.interruptThrottle, InterruptThrottle(intervalNanoseconds: ns))
            }
            let mac = try Self.stationAddress(registers: registers, device: device)
            Self.configureLink(registers: registers)
            Self.clearFilters(registers: registers, mac: mac)
            let extended = options.receiveQueues > 1
            let rctl = Self.configureReceive(registers: registers, options: options, extended: extended)
            let tctl = Self.configureTransmit(registers: registers)
            var state = State()
            state.receiveControl = rctl
            state.transmitControl = tctl
            // Clear-on-read counters: start from zero.
            for counter in StatisticsRegister.allCases { _ = registers.read(counter.register) }

            self.device = device
            self.registers = registers
            self.options = options
            self.macAddress = mac
            self.interruptVectors = vectors
            self.interruptKind = kind
            self.extendedReceiveDescriptors = extended
            self.state = TSanVisibleMutex(state)
        } catch {
            registers.write(E1000ERegister.interruptMaskClear, .all)
            if vectors > 0 { try? device.disableInterrupts() }
            throw error
        }
        let link = waitForLink(timeoutMilliseconds: options.linkWaitMilliseconds)
        logger.info(
            "82574L \(device.name): \(macAddress), link \(link), \(options.receiveQueues) RX / \(options.transmitQueues) TX queues of \(options.ringEntries), \(vectors) \(kind?.description ?? "interrupt") vector(s)")
    }

    deinit {
        close()
    }

    /// Stops the NIC: receiver and transmitter off, interrupts masked, vectors released.
    /// Idempotent; also done when the last reference goes away. Queues still alive stop seeing
    /// traffic, and the vectors (whose eventfds they borrow) are released only once they are
    /// dropped (the queues keep the NIC alive, so its `deinit` does it).
    public func close() {
        let (wasClosed, queuesLive) = state.withLock { s in
            defer {
                s.closed = true
                s.receiveControl.enable = false
                s.transmitControl.enable = false
            }
            return (s.closed, s.receiveQueueLive.contains(true) || s.transmitQueueLive.contains(true))
        }
        if !wasClosed {
            registers.write(E1000ERegister.interruptMaskClear, .all)
            registers.write(E1000ERegister.receiveControl, ReceiveControl(rawValue: 0))
            registers.write(E1000ERegister.transmitControl, TransmitControl(rawValue: 0))
            _ = registers.read(E1000ERegister.deviceStatus)  // flush the posted writes
        }
        if !queuesLive { releaseVectors() }
    }

    /// Disables MSI-X once (its eventfds close with it).
    func releaseVectors() {
        guard interruptVectors > 0 else { return }
        let first = state.withLock { s in
            defer { s.vectorsReleased = true }
            return !s.vectorsReleased
        }
        guard first else { return }
        do {
            try device.disableInterrupts()
        } catch {
            logger.warning("82574L \(device.name): disabling MSI-X failed: \(error)")
        }
    }

    /// Global reset (CTRL.RST), bounded: master disable first so no DMA is in flight, all
    /// interrupts masked before and after (Linux `e1000_reset_hw_82571`).
    static func reset(registers: MMIORegion, device: Device) throws(NICError) {
        registers.write(E1000ERegister.interruptMaskClear, .all)
        registers.write(E1000ERegister.receiveControl, ReceiveControl(rawValue: 0))
        registers.write(E1000ERegister.transmitControl, TransmitControl(rawValue: 0))
        var control = registers.read(E1000ERegister.deviceControl)
        control.masterDisable = true
        registers.write(E1000ERegister.deviceControl, control)
        // GIO master disable completes when STATUS.GIO_MASTER_ENABLE clears (10 ms is plenty;
        // Linux goes on with a warning if it does not).
        _ = poll(milliseconds: 10, device: device) { !registers.read(E1000ERegister.deviceStatus).masterEnabled }

        control = registers.read(E1000ERegister.deviceControl)
        control.reset = true
        control.masterDisable = false
        registers.write(E1000ERegister.deviceControl, control)
        let resetMilliseconds = 100
        guard poll(milliseconds: resetMilliseconds, device: device, { !registers.read(E1000ERegister.deviceControl).reset }) else {
            throw .resetTimedOut(name: device.name, milliseconds: resetMilliseconds)
        }
        control = registers.read(E1000ERegister.deviceControl)
        if control.masterDisable {
            control.masterDisable = false
            registers.write(E1000ERegister.deviceControl, control)
        }
        // A reset unmasks nothing, but mask again and clear causes latched before it.
        registers.write(E1000ERegister.interruptMaskClear, .all)
        registers.write(E1000ERegister.interruptCauseRead, .all)
        _ = registers.read(E1000ERegister.interruptCauseRead)
    }

    /// MSI-X routing (82574 datasheet 7.4.2.3): each queue cause to its own vector, the rest to
    /// "other"; EIAC auto-clears (and, without CTRL_EXT.IAME, auto-masks) a queue's cause when its
    /// vector fires, which is the NAPI mask; the queue re-arms with IMS (QEMU `e1000e_msix_notify_one`).
    static func configureMSIX(registers: MMIORegion, throttleNanoseconds: Int?) {
        var ivar = InterruptVectorAllocation(rawValue: 0)
        for source in InterruptVectorAllocation.Source.allCases {
            ivar.setVector(vector(for: source), for: source)
        }
        registers.write(E1000ERegister.interruptVectorAllocation, ivar)
        registers.write(E1000ERegister.extendedInterruptAutoClear,
                        [.receiveQueue0, .receiveQueue1, .transmitQueue0, .transmitQueue1])
        var ext = registers.read(E1000ERegister.extendedDeviceControl)
        ext.pbaClear = true
        ext.extendedInterruptAutoMask = true
        ext.interruptAcknowledgeAutoMask = false
        ext.driverLoaded = true
        registers.write(E1000ERegister.extendedDeviceControl, ext)
        if let ns = throttleNanoseconds {
            for v in 0..<InterruptVectorAllocation.vectorCount {
                registers.write(E1000ERegister.vectorThrottle(v), InterruptThrottle(intervalNanoseconds: ns))
            }
        }
    }

    /// The station address: RAL0/RAH0 as loaded from the EEPROM at reset, else EEPROM words 0-2
    /// read through EERD. Rejected unless unicast and non-zero. Written back with AV set.
    static func stationAddress(registers: MMIORegion, device: Device) throws(NICError) -> MACAddress {
        let low = registers.read(E1000ERegister.receiveAddressLow(0))
        let high = registers.read(E1000ERegister.receiveAddressHigh(0))
        var mac = MACAddress(receiveAddressLow: low, high: high)
        if !high.addressValid || !mac.isValidStationAddress {
            if let words = readEEPROM(words: 3, registers: registers, device: device) {
                mac = MACAddress(UInt8(truncatingIfNeeded: words[0]), UInt8(truncatingIfNeeded: words[0] >> 8),
                                 UInt8(truncatingIfNeeded: words[1]), UInt8(truncatingIfNeeded: words[1] >> 8),
                                 UInt8(truncatingIfNeeded: words[2]), UInt8(truncatingIfNeeded: words[2] >> 8))
            }
        }
        guard mac.isValidStationAddress else { throw .invalidMACAddress(name: device.name, address: mac) }
        registers.write(E1000ERegister.receiveAddressLow(0), mac.receiveAddressLow)
        registers.write(E1000ERegister.receiveAddressHigh(0), mac.receiveAddressHigh)
        return mac
    }

    /// EEPROM words through EERD (START, poll DONE, bounded at 10 ms per word), or nil.
    static func readEEPROM(words count: Int, registers: MMIORegion, device: Device) -> [UInt16]? {
        var words: [UInt16] = []
        for address in 0..<count {
            registers.write(E1000ERegister.eepromRead, EEPROMRead(readAddress: UInt16(address)))
            var value: EEPROMRead?
            let done = poll(milliseconds: 10, device: device) {
                let r = registers.read(E1000ERegister.eepromRead)
                if r.done { value = r }
                return r.done
            }
            // The data belongs to our address only: a DONE for another word is not an answer.
            guard done, let value, value.address == UInt16(address) else { return nil }
            words.append(value.data)
        }
        return words
    }

    /// Link up without waiting for software PHY setup: CTRL.SLU with auto-speed detection
    /// (Linux `e1000_setup_copper_link_82571` sets SLU and clears forced speed/duplex).
    static func configureLink(registers: MMIORegion) {
        var control = registers.read(E1000ERegister.deviceControl)
        control.setLinkUp = true
        control.autoSpeedDetection = true
        control.forceSpeed = false
        control.forceDuplex = false
        control.phyReset = false
        control.vlanMode = false
        control.rawValue &= ~(UInt32(1) << 3 | UInt32(1) << 7)  // LRST, ILOS
        registers.write(E1000ERegister.deviceControl, control)
    }

    /// Only our address in the exact filters and an empty multicast hash (datasheet 14.6).
    static func clearFilters(registers: MMIORegion, mac: MACAddress) {
        for i in 1..<E1000ERegister.receiveAddressCount {
            registers.write(E1000ERegister.receiveAddressHigh(i), ReceiveAddressHigh(rawValue: 0))
            registers.write(E1000ERegister.receiveAddressLow(i), 0)
        }
        for i in 0..<E1000ERegister.multicastTableCount {
            registers.write(E1000ERegister.multicastTable(i), 0)
        }
    }

    /// Receive set-up, receiver still off (it is enabled when the first queue has its ring):
    /// 2 KiB buffers, CRC stripped, broadcast accepted, no delay timers; with two queues, RSS
    /// over IPv4/IPv6 and TCP with a RETA alternating between the queues.
    static func configureReceive(registers: MMIORegion, options: NICOptions, extended: Bool) -> ReceiveControl {
        var rctl = ReceiveControl(rawValue: 0)
        rctl.broadcastAccept = true
        rctl.stripCRC = true
        rctl.bufferSize = .bytes2048
        rctl.descriptorMinimumThreshold = .half
        rctl.unicastPromiscuous = options.promiscuous
        rctl.multicastPromiscuous = options.promiscuous
        registers.write(E1000ERegister.receiveControl, rctl)

        var rfctl = ReceiveFilterControl(rawValue: 0)
        rfctl.extendedStatus = extended
        rfctl.nfsReadDisable = true
        rfctl.nfsWriteDisable = true
        registers.write(E1000ERegister.receiveFilterControl, rfctl)

        var rxcsum = ReceiveChecksumControl(rawValue: 0)
        // RSS reports its hash where the packet checksum would go (QEMU `e1000e_rss_enabled`).
        rxcsum.packetChecksumDisable = extended
        registers.write(E1000ERegister.receiveChecksumControl, rxcsum)

        registers.write(E1000ERegister.receiveDelayTimer, 0)
        registers.write(E1000ERegister.receiveAbsoluteDelay, 0)

        if extended {
            let key = options.rssKey ?? NICOptions.defaultRSSKey
            for i in 0..<RSSKey.registerCount {
                let word = UInt32(key[4 * i]) | UInt32(key[4 * i + 1]) << 8 | UInt32(key[4 * i + 2]) << 16 | UInt32(key[4 * i + 3]) << 24
                registers.write(E1000ERegister.rssKey(i), word)
            }
            writeRedirectionTable(registers: registers, queues: Array(0..<options.receiveQueues))
            var mrqc = MultipleReceiveQueuesCommand(rawValue: 0)
            mrqc.rssEnabled = true
            mrqc.hashIPv4 = true
            mrqc.hashTCPIPv4 = true
            mrqc.hashIPv6 = true
            mrqc.hashTCPIPv6 = true
            registers.write(E1000ERegister.multipleReceiveQueuesCommand, mrqc)
        } else {
            registers.write(E1000ERegister.multipleReceiveQueuesCommand, MultipleReceiveQueuesCommand(rawValue: 0))
        }
        return rctl
    }

    /// RETA: entry n sends its flows to `queues[n % queues.count]`, so RSS spreads over exactly
    /// those queues (both at bring-up; the one left when the other is dropped).
    static func writeRedirectionTable(registers: MMIORegion, queues: [Int]) {
        precondition(!queues.isEmpty)
        for i in 0..<RedirectionTable.registerCount {
            var word: UInt32 = 0
            for b in 0..<4 {
                word |= UInt32(RedirectionTable.entry(queue: queues[(4 * i + b) % queues.count])) << (8 * b)
            }
            registers.write(E1000ERegister.redirectionTable(i), word)
        }
    }

    /// Transmit set-up, transmitter still off: pad short frames, full-duplex collision distance,
    /// the copper inter-packet gap, no delay timers (Linux `e1000_configure_tx`).
    static func configureTransmit(registers: MMIORegion) -> TransmitControl {
        var tctl = TransmitControl(rawValue: 0)
        tctl.padShortPackets = true
        tctl.collisionThreshold = 15
        tctl.collisionDistance = 63
        tctl.retransmitOnLateCollision = true
        tctl.multipleRequests = true
        registers.write(E1000ERegister.transmitControl, tctl)
        registers.write(E1000ERegister.transmitInterPacketGap, .copperDefault)
        registers.write(E1000ERegister.transmitInterruptDelay, 0)
        registers.write(E1000ERegister.transmitAbsoluteDelay, 0)
        return tctl
    }

    /// Polls `condition` until it holds or `milliseconds` pass, servicing the device and
    /// sleeping with a growing back-off between tries. True when it held.
    static func poll(milliseconds: Int, device: Device, _ condition: () -> Bool) -> Bool {
        let deadline = Deadline(milliseconds: milliseconds)
        var backoff = Backoff(startMicroseconds: 10, capMicroseconds: 2000)
        while true {
            device.service()
            if condition() { return true }
            if deadline.hasPassed { return false }
            backoff.sleep()
        }
    }

    // MARK: - Link and statistics

    /// The link now (STATUS).
    public var linkStatus: LinkStatus {
        device.service()
        return LinkStatus(registers.read(E1000ERegister.deviceStatus))
    }

    /// Waits up to `timeoutMilliseconds` for the link to come up and returns its state.
    @discardableResult
    public func waitForLink(timeoutMilliseconds: Int) -> LinkStatus {
        _ = Self.poll(milliseconds: timeoutMilliseconds, device: device) {
            registers.read(E1000ERegister.deviceStatus).linkUp
        }
        return linkStatus
    }

    /// Reads the statistics counters (which clear on read) and returns the totals since bring-up.
    public func statistics() -> NICStatistics {
        device.service()
        return state.withLock { s in
            func read(_ r: StatisticsRegister) -> UInt64 { UInt64(registers.read(r.register)) }
            func read64(_ low: StatisticsRegister, _ high: StatisticsRegister) -> UInt64 {
                // Low first: QEMU clears both halves when the high one is read.
                let l = read(low)
                return l | read(high) << 32
            }
            s.totals.goodPacketsReceived &+= read(.goodPacketsReceived)
            s.totals.goodPacketsTransmitted &+= read(.goodPacketsTransmitted)
            s.totals.goodOctetsReceived &+= read64(.goodOctetsReceivedLow, .goodOctetsReceivedHigh)
            s.totals.goodOctetsTransmitted &+= read64(.goodOctetsTransmittedLow, .goodOctetsTransmittedHigh)
            s.totals.totalPacketsReceived &+= read(.totalPacketsReceived)
            s.totals.totalPacketsTransmitted &+= read(.totalPacketsTransmitted)
            s.totals.broadcastPacketsReceived &+= read(.broadcastPacketsReceived)
            s.totals.multicastPacketsReceived &+= read(.multicastPacketsReceived)
            s.totals.missedPackets &+= read(.missedPackets)
            s.totals.receiveNoBuffers &+= read(.receiveNoBuffers)
            s.totals.crcErrors &+= read(.crcErrors)
            s.totals.receiveErrors &+= read(.receiveErrors)
            s.totals.interruptAssertions &+= read(.interruptAssertions)
            return s.totals
        }
    }
}
