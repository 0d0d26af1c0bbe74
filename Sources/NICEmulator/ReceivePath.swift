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

/// A frame from the wire into a receive ring (QEMU `e1000e_receive_iov` and
/// `e1000e_write_packet_to_guest`; 82574 datasheet 7.1).
extension NICEngine {
    /// Bytes per receive buffer: RCTL.BSIZE with BSEX, or RCTL.FLXBUF in KiB when set (QEMU
    /// `e1000x_rxbufsize`, `e1000e_parse_rxbufsize`).
    var receiveBufferSize: Int {
        let rctl = load(Offset.rctl)
        let flexible = (rctl >> 27) & 0xF
        if flexible != 0 { return Int(flexible) * 1024 }
        switch rctl & (1 << 25 | 3 << 16) {
        case 1 << 25 | 1 << 16: return 16384
        case 1 << 25 | 2 << 16: return 8192
        case 1 << 25 | 3 << 16: return 4096
        case 1 << 16: return 1024
        case 2 << 16: return 512
        case 3 << 16: return 256
        default: return 2048
        }
    }

    /// Descriptors the driver has handed over on a ring: from head up to tail, 0 when the ring is
    /// off or a register holds a value outside it (QEMU `e1000e_ring_empty`, which also treats a
    /// tail beyond the ring as empty; a head beyond it is refused here rather than followed).
    func postedDescriptors(_ ring: DescriptorRingRegisters) -> (slots: Int, head: Int, tail: Int, free: Int) {
        let slots = Int(load(ring.length.offset)) / 16
        let head = Int(load(ring.head.offset))
        let tail = Int(load(ring.tail.offset))
        guard slots > 0, head < slots, tail < slots else { return (slots, head, tail, 0) }
        return (slots, head, tail, head <= tail ? tail - head : slots + tail - head)
    }

    func ringBase(_ ring: DescriptorRingRegisters) -> UInt64 {
        UInt64(load(ring.baseAddressHigh.offset)) << 32 | UInt64(load(ring.baseAddressLow.offset))
    }

    /// Unicast, multicast and broadcast acceptance (QEMU `e1000x_rx_group_filter`): promiscuous
    /// bits, then the 16 receive addresses with AV, then the multicast table hashed per RCTL.MO.
    func acceptsDestination(_ frame: [UInt8]) -> Bool {
        let rctl = ReceiveControl(rawValue: load(Offset.rctl))
        let broadcast = frame[0..<6].allSatisfy { $0 == 0xFF }
        if broadcast {
            if rctl.broadcastAccept { return true }
        } else if frame[0] & 1 != 0 {
            if rctl.multicastPromiscuous { return true }
        } else if rctl.unicastPromiscuous {
            return true
        }
        let low = UInt32(frame[0]) | UInt32(frame[1]) << 8 | UInt32(frame[2]) << 16 | UInt32(frame[3]) << 24
        let high = UInt32(frame[4]) | UInt32(frame[5]) << 8
        for i in 0..<E1000ERegister.receiveAddressCount {
            let rah = load(Offset.ral0 + 8 * i + 4)
            if rah & (1 << 31) != 0, load(Offset.ral0 + 8 * i) == low, rah & 0xFFFF == high { return true }
        }
        let shift: [UInt32] = [4, 3, 2, 0]
        let f = ((UInt32(frame[5]) << 8 | UInt32(frame[4])) >> shift[Int(rctl.multicastOffset)]) & 0xFFF
        return load(Offset.mta0 + 4 * Int(f >> 5)) & (1 << (f & 0x1F)) != 0
    }

    mutating func increment(_ offset: Int, by amount: UInt32 = 1) {
        let (sum, overflow) = load(offset).addingReportingOverflow(amount)
        store(offset, overflow ? .max : sum)
    }

    /// A 64-bit counter in a low/high pair, saturating (QEMU `e1000x_grow_8reg_if_not_full`).
    mutating func grow(low offset: Int, by amount: Int) {
        let value = UInt64(load(offset + 4)) << 32 | UInt64(load(offset))
        let (sum, overflow) = value.addingReportingOverflow(UInt64(amount))
        let result = overflow ? UInt64.max : sum
        store(offset, UInt32(truncatingIfNeeded: result))
        store(offset + 4, UInt32(truncatingIfNeeded: result >> 32))
    }

    /// PRC64...PRC1522 or PTC64...PTC1522 by size (QEMU `e1000x_increase_size_stats`).
    mutating func countSize(_ size: Int, base: Int) {
        let index: Int
        switch size {
        case 1024...: index = 5
        case 512...: index = 4
        case 256...: index = 3
        case 128...: index = 2
        case 65...: index = 1
        case 64: index = 0
        default: return
        }
        increment(base + 4 * index)
    }

    /// Takes one frame off the wire: filter, RSS queue choice, DMA into posted buffers, write-back,
    /// statistics, interrupt cause. Every refusal is counted; nothing here traps on driver values.
    mutating func receive(_ input: [UInt8]) {
        updateNow()
        serviceThrottles()
        let rctl = ReceiveControl(rawValue: load(Offset.rctl))
        guard !pci.removed, linkUp, rctl.enable, pci.config.busMasterEnabled, input.count >= 14 else {
            statistics.framesDroppedReceiverOff += 1
            return
        }
        var frame = input
        if frame.count < 60 {
            // Padded to the minimum Ethernet frame and counted as undersize (QEMU does both).
            frame += Array(repeating: 0, count: 60 - frame.count)
            increment(0x40A4)  // RUC
        }
        let maximum = rctl.longPackets ? 16384 - 4 : 14 + 4 + 1500
        if frame.count > maximum && !rctl.storeBadPackets {
            increment(0x40AC)  // ROC
            statistics.framesDroppedOversize += 1
            return
        }
        guard acceptsDestination(frame) else {
            statistics.framesDroppedByFilter += 1
            return
        }
        guard let injected = frameFaults(receive: true) else { return }
        if injected.contains(.linkDown) {
            statistics.framesDroppedReceiverOff += 1
            return
        }
        let headers = PacketHeaders(frame)
        let rss = rssDecision(headers)
        let ring = E1000ERegister.receiveQueue(rss.queue)
        let fcs = rctl.stripCRC ? 0 : 4
        let total = frame.count + fcs
        let bufferSize = receiveBufferSize
        let posted = postedDescriptors(ring)
        // Room for the whole frame or nothing (QEMU `e1000e_has_rxbufs`); the 82574 then drops it
        // and counts MPC (QEMU instead keeps the frame queued until RDT moves).
        guard usableReceiveDescriptors(rss.queue, posted: posted.free) * bufferSize >= total else {
            increment(0x4010)  // MPC
            increment(0x40A0)  // RNBC
            statistics.framesDroppedNoDescriptor += 1
            setInterruptCause(Cause.rxo)
            return
        }
        let base = ringBase(ring)
        if injected.contains(.dmaFault) {
            iommu.recordFault(DMAFault(iova: base + UInt64(posted.head * 16), length: 16, direction: .deviceRead, reason: .injected))
            statistics.framesDroppedDMAError += 1
            return
        }
        if fcs != 0 { frame += [0, 0, 0, 0] }  // the FCS the 82574 stores unless RCTL.SECRC (QEMU writes zeros)
        let extended = ReceiveFilterControl(rawValue: load(Offset.rfctl)).extendedStatus
        let checksumDisabled = ReceiveChecksumControl(rawValue: load(Offset.rxcsum)).packetChecksumDisable
        var offset = 0
        repeat {
            // From the descriptor cache: fetched earlier, or now from RDH.
            let next = nextReceiveDescriptor(rss.queue)
            guard let fetched = next.entry else {
                if next.faulted {
                    statistics.framesDroppedDMAError += 1
                } else {
                    // Only null-address descriptors were left: the rest of the frame is lost.
                    statistics.framesDroppedNoDescriptor += 1
                }
                return
            }
            let address = fetched.descriptor
            let buffer = fetched.buffer
            var written = 0
            var isLast = false
            if buffer != 0 {
                written = min(bufferSize, total - offset)
                guard writeBuffer(buffer, frame, offset..<(offset + written)) else {
                    statistics.framesDroppedDMAError += 1
                    return
                }
                offset += written
                isLast = offset >= total
            }
            // A null buffer address is skipped and written back without EOP (datasheet 7.1.4).
            var length = UInt16(written)
            for case .receiveLengthBeyondBuffer(let excess) in injected where isLast {
                length = UInt16(clamping: bufferSize + max(excess, 1))
            }
            let (low, high) = writeBack(extended: extended, buffer: buffer, length: length, isLast: isLast,
                                        headers: headers, rss: rss, checksumDisabled: checksumDisabled)
            guard writeDescriptor(address, low, high, statusOffset: extended ? 8 : 12) else {
                statistics.framesDroppedDMAError += 1
                return
            }
            store(ring.head.offset, UInt32(fetched.slot + 1 == fetched.slots ? 0 : fetched.slot + 1))
        } while offset < total

        let size = frame.count - fcs
        increment(0x40D0)  // TPR
        increment(0x4074)  // GPRC
        grow(low: 0x40C0, by: size + 4)  // TOR: the FCS always counts
        grow(low: 0x4088, by: size + 4)  // GORC
        countSize(size + 4, base: 0x405C)  // PRC64...
        if frame[0..<6].allSatisfy({ $0 == 0xFF }) {
            increment(0x4078)  // BPRC
        } else if frame[0] & 1 != 0 {
            increment(0x407C)  // MPRC
        }
        statistics.framesReceived += 1

        for fault in injected {
            switch fault {
            case .doneOnUnpostedDescriptor:
                let tail = posted.tail
                let address = base + UInt64(tail * 16)
                if let (low, high) = readDescriptor(address) {
                    let done: UInt64 = extended ? 0x3 : 0x3 << 32  // DD and EOP
                    _ = writeDescriptor(address, low, high | done, statusOffset: extended ? 8 : 12)
                }
            case .headBeyondRing(let beyond):
                store(ring.head.offset, UInt32(truncatingIfNeeded: posted.slots + max(beyond, 0)))
            default:
                break
            }
        }
        guard !injected.contains(.withholdInterrupt) else { return }
        var causes: UInt32
        if msixActive {
            causes = rss.queue == 0 ? Cause.rxq0 : Cause.rxq1
        } else {
            causes = Cause.rxt0
            // RXDMT0 when the free descriptors fall to RDLEN / 2^(RDMTS+1) (QEMU `rxbuf_min_shift`).
            let after = postedDescriptors(ring).free
            if after == posted.slots >> (Int(rctl.descriptorMinimumThreshold.rawValue) + 1) { causes |= Cause.rxdmt0 }
        }
        setInterruptCause(causes)
    }

    /// The descriptor as written back: legacy (length, status, errors in the upper quadword, the
    /// buffer address kept) or extended (MRQ and RSS hash or IP id, status/error, length)
    /// (QEMU `e1000e_write_lgcy_rx_descr`, `e1000e_write_ext_rx_descr`, `e1000e_build_rx_metadata`).
    func writeBack(extended: Bool, buffer: UInt64, length: UInt16, isLast: Bool, headers: PacketHeaders,
                   rss: RSSDecision, checksumDisabled: Bool) -> (UInt64, UInt64) {
        var status: UInt32 = ReceiveDescriptorStatus.descriptorDone.rawValue.asUInt32
        var packetType: UInt32 = 0
        if isLast {
            status |= ReceiveDescriptorStatus.endOfPacket.rawValue.asUInt32
            status |= checksumStatus(headers)
            switch headers.network {
            case .ipv4: packetType = headers.isTCP || headers.isUDP ? 2 : 1
            case .ipv6: packetType = headers.isTCP || headers.isUDP ? 6 : 5
            case .none: packetType = 0
            }
        }
        guard extended else {
            return (buffer, UInt64(length) | UInt64(status & 0xFF) << 32 | UInt64(status >> 24) << 40)
        }
        var statusError = status | packetType << 16
        var mrq: UInt32 = 0
        var hashOrID: UInt32 = 0
        if isLast {
            if checksumDisabled {
                if rss.enabled {
                    hashOrID = rss.hash
                    mrq = rss.type.rawValue | UInt32(rss.queue) << 8
                }
            } else if headers.network == .ipv4 {
                statusError |= 1 << 15  // IPIDV
                hashOrID = UInt32(headers.ipIdentification)
            }
        }
        return (UInt64(mrq) | UInt64(hashOrID) << 32, UInt64(statusError) | UInt64(length) << 32)
    }
}

extension NICEngine {
    /// Receive checksum offload as QEMU reports it when it verifies in software
    /// (`e1000e_verify_csum_in_sw`): with RXCSUM.IPOFLD, IPCS and IPE for IPv4; with
    /// RXCSUM.TUOFLD, TCPCS (and UDPCS for UDP) and TCPE. Errors are in bits 31:24.
    func checksumStatus(_ headers: PacketHeaders) -> UInt32 {
        let rxcsum = ReceiveChecksumControl(rawValue: load(Offset.rxcsum))
        var status: UInt32 = 0
        if rxcsum.ipChecksumOffload, let valid = headers.ipv4ChecksumValid {
            status |= ReceiveDescriptorStatus.ipChecksum.rawValue.asUInt32
            if !valid { status |= ReceiveDescriptorErrors.ipChecksum.rawValue.asUInt32 << 24 }
        }
        if rxcsum.tcpUDPChecksumOffload, let valid = headers.l4ChecksumValid {
            status |= ReceiveDescriptorStatus.tcpChecksum.rawValue.asUInt32
            if headers.isUDP { status |= ReceiveDescriptorStatus.udpChecksum.rawValue.asUInt32 }
            if !valid { status |= ReceiveDescriptorErrors.tcpChecksum.rawValue.asUInt32 << 24 }
        }
        return status
    }
}

extension UInt8 {
    var asUInt32: UInt32 { UInt32(self) }
}
