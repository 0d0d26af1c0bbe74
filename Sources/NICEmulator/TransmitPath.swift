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
import PCIEmulation

/// Descriptors from a transmit ring onto the wire (QEMU `e1000e_start_xmit`,
/// `e1000e_process_tx_desc`, `e1000e_txdesc_writeback`; 82574 datasheet 7.2).
extension NICEngine {
    /// A frame for the wire, with where it goes: back into this device (MAC or PHY loopback).
    struct Outgoing {
        var frame: TransmittedFrame
        var loopback: Bool
    }

    /// Processes the ring from TDH to TDT. Legacy and extended data descriptors carry data;
    /// context descriptors are consumed (no offloads are emulated). RS, or IVAR bit 31, asks for
    /// DD to be written back. TXQE is always raised, TXQn (MSI-X) or TXDW with a write-back.
    mutating func transmit(queue q: Int) {
        // Checked again here because the work is deferred to the step: QEMU transmits inside the
        // TDT/TCTL write, when both are looked at.
        let tarc = q == 0 ? Offset.tarc0 : Offset.tarc1
        guard !pci.removed, TransmitControl(rawValue: load(Offset.tctl)).enable,
              load(tarc) & E1000ERegister.transmitArbitrationEnable != 0 else { return }
        let ring = E1000ERegister.transmitQueue(q)
        let slots = Int(load(ring.length.offset)) / 16
        let base = ringBase(ring)
        var cause = Cause.txqe
        var withhold = false
        var headFault: Int?
        guard dmaAllowed(base, 16, .deviceRead) else { return }
        let everyWriteBack = InterruptVectorAllocation(rawValue: load(Offset.ivar)).transmitInterruptEveryWriteBack
        while true {
            var head = Int(load(ring.head.offset))
            let tail = Int(load(ring.tail.offset))
            // A tail outside the ring means "empty" (QEMU); a head outside it (the driver wrote it)
            // is not followed.
            guard slots > 0, head != tail, tail < slots, head < slots else { break }
            let address = base + UInt64(head * 16)
            // A descriptor the IOMMU refuses stops the queue where it is (the fault is recorded).
            guard let (buffer, upperHalf) = readDescriptor(address) else { break }
            let lower = UInt32(truncatingIfNeeded: upperHalf)
            let upper = UInt32(truncatingIfNeeded: upperHalf >> 32)
            let command = TransmitDescriptorCommand(rawValue: UInt8(truncatingIfNeeded: lower >> 24))
            let isData = lower & (1 << 20) != 0
            if command.contains(.extended) && !isData {
                // Context descriptor: offload parameters, nothing to send.
            } else {
                let length = Int(lower & 0xFFFF)
                if !assembly[q].skip {
                    if assembly[q].fragments >= Self.maximumTransmitFragments {
                        assembly[q].skip = true
                    } else if !readBuffer(buffer, length, into: &assembly[q].bytes) {
                        assembly[q].skip = true
                    }
                    assembly[q].fragments += 1
                }
                if command.contains(.endOfPacket) {
                    guard let injected = frameFaults(receive: false) else { return }
                    if injected.contains(.dmaFault) {
                        iommu.recordFault(DMAFault(iova: buffer, length: length, direction: .deviceRead, reason: .injected))
                        assembly[q].skip = true
                    }
                    for case .headBeyondRing(let beyond) in injected { headFault = max(beyond, 0) }
                    if injected.contains(.withholdInterrupt) { withhold = true }
                    if assembly[q].skip || assembly[q].bytes.isEmpty || !linkUp {
                        statistics.transmitPacketsDropped += 1
                    } else {
                        send(assembly[q].bytes, queue: q)
                    }
                    assembly[q] = TransmitAssembly()
                }
            }
            if command.contains(.reportStatus) || everyWriteBack {
                let status = upper | UInt32(TransmitDescriptorStatus.descriptorDone.rawValue)
                if writeWord(address + 12, status) {
                    cause |= msixActive ? (q == 0 ? Cause.txq0 : Cause.txq1) : Cause.txdw
                }
            }
            head += 1
            if head >= slots { head = 0 }
            store(ring.head.offset, UInt32(head))
        }
        if let beyond = headFault, slots > 0 { store(ring.head.offset, UInt32(truncatingIfNeeded: slots + beyond)) }
        if !withhold { setInterruptCause(cause) }
    }

    /// Counts the frame (QEMU `e1000e_on_tx_done_update_stats`: octets without FCS) and queues it
    /// for the wire; MAC loopback (RCTL.LBM = 01b) or PHY loopback (PHY control bit 14) turn it
    /// back into this device's receiver.
    mutating func send(_ bytes: [UInt8], queue: Int) {
        increment(0x40D4)  // TPT
        increment(0x4080)  // GPTC
        grow(low: 0x40C8, by: bytes.count)  // TOT
        grow(low: 0x4090, by: bytes.count)  // GOTC
        countSize(bytes.count, base: 0x40D8)  // PTC64...
        if bytes.count >= 6 {
            if bytes[0..<6].allSatisfy({ $0 == 0xFF }) {
                increment(0x40F4)  // BPTC
            } else if bytes[0] & 1 != 0 {
                increment(0x40F0)  // MPTC
            }
        }
        statistics.framesTransmitted += 1
        let loopback = load(Offset.rctl) & (3 << 6) == 1 << 6 || phy[0] & (1 << 14) != 0
        outgoing.append(Outgoing(frame: TransmittedFrame(bytes: bytes, queue: queue), loopback: loopback))
    }
}
