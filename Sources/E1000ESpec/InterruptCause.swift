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

import VFIO

/// Interrupt cause bits, shared by ICR (read: causes pending, cleared on read), ICS (write: set
/// causes), IMS (write: enable, read: enabled mask), IMC (write: disable), IAM (auto-mask on ICR
/// acknowledge) and EIAC (auto-clear in MSI-X mode). 82574 datasheet 10.2.4; Linux `E1000_ICR_*`.
///
/// In MSI-X mode the per-queue causes RXQ0/RXQ1/TXQ0/TXQ1 go to the vectors IVAR names, and every
/// other cause goes to IVAR's "other" vector with OTHER set (QEMU `e1000e_msix_notify`).
@frozen
public struct InterruptCause: OptionSet, RegisterValue, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// TXDW: a transmit descriptor was written back (with RS set).
    @inlinable public static var transmitDescriptorWritten: InterruptCause { InterruptCause(rawValue: 1 << 0) }
    /// TXQE: the transmit queue ran empty.
    @inlinable public static var transmitQueueEmpty: InterruptCause { InterruptCause(rawValue: 1 << 1) }
    /// LSC: link status change.
    @inlinable public static var linkStatusChange: InterruptCause { InterruptCause(rawValue: 1 << 2) }
    /// RXSEQ: receive sequence error.
    @inlinable public static var receiveSequenceError: InterruptCause { InterruptCause(rawValue: 1 << 3) }
    /// RXDMT0: free receive descriptors fell below RCTL.RDMTS.
    @inlinable public static var receiveDescriptorMinimum: InterruptCause { InterruptCause(rawValue: 1 << 4) }
    /// RXO: receiver overrun (no descriptor for an arriving packet).
    @inlinable public static var receiveOverrun: InterruptCause { InterruptCause(rawValue: 1 << 6) }
    /// RXT0: receiver timer: a packet was stored (after RDTR/RADV delays).
    @inlinable public static var receiveTimer: InterruptCause { InterruptCause(rawValue: 1 << 7) }
    /// MDAC: MDI/O access complete.
    @inlinable public static var mdioAccessComplete: InterruptCause { InterruptCause(rawValue: 1 << 9) }
    /// TXD_LOW: transmit descriptors fell below TXDCTL.LWTHRESH.
    @inlinable public static var transmitDescriptorLow: InterruptCause { InterruptCause(rawValue: 1 << 15) }
    /// SRPD: small receive packet detected.
    @inlinable public static var smallReceivePacket: InterruptCause { InterruptCause(rawValue: 1 << 16) }
    /// ACK: receive ACK frame detected.
    @inlinable public static var receiveACK: InterruptCause { InterruptCause(rawValue: 1 << 17) }
    /// RXQ0: receive queue 0 (MSI-X, routed by IVAR).
    @inlinable public static var receiveQueue0: InterruptCause { InterruptCause(rawValue: 1 << 20) }
    /// RXQ1: receive queue 1 (MSI-X).
    @inlinable public static var receiveQueue1: InterruptCause { InterruptCause(rawValue: 1 << 21) }
    /// TXQ0: transmit queue 0 (MSI-X).
    @inlinable public static var transmitQueue0: InterruptCause { InterruptCause(rawValue: 1 << 22) }
    /// TXQ1: transmit queue 1 (MSI-X).
    @inlinable public static var transmitQueue1: InterruptCause { InterruptCause(rawValue: 1 << 23) }
    /// OTHER: any non-queue cause (MSI-X).
    @inlinable public static var other: InterruptCause { InterruptCause(rawValue: 1 << 24) }
    /// INT_ASSERTED: ICR only, the device asserted an interrupt (INTx/MSI).
    @inlinable public static var asserted: InterruptCause { InterruptCause(rawValue: 1 << 31) }

    /// Every cause bit (what IMC takes to mask everything).
    @inlinable public static var all: InterruptCause { InterruptCause(rawValue: 0xFFFF_FFFF) }

    /// RXQn for queue 0 or 1.
    @inlinable public static func receiveQueue(_ queue: Int) -> InterruptCause {
        precondition(queue == 0 || queue == 1, "the 82574 has two receive queues")
        return queue == 0 ? .receiveQueue0 : .receiveQueue1
    }
    /// TXQn for queue 0 or 1.
    @inlinable public static func transmitQueue(_ queue: Int) -> InterruptCause {
        precondition(queue == 0 || queue == 1, "the 82574 has two transmit queues")
        return queue == 0 ? .transmitQueue0 : .transmitQueue1
    }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}
