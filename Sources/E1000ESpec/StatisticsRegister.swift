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

/// Statistics counters (82574 datasheet 10.2.7), all clear-on-read. 64-bit octet counters are
/// low/high pairs read low first (the low read latches nothing on QEMU; reading both within one
/// snapshot is what keeps them consistent enough).
public enum StatisticsRegister: Int, Sendable, CaseIterable {
    /// CRCERRS: CRC error count.
    case crcErrors = 0x4000
    /// RXERRC: receive error count.
    case receiveErrors = 0x400C
    /// MPC: missed packets (no receive descriptor or FIFO room).
    case missedPackets = 0x4010
    /// COLC: collision count.
    case collisions = 0x4028
    /// RLEC: receive length errors.
    case receiveLengthErrors = 0x4040
    /// GPRC: good packets received.
    case goodPacketsReceived = 0x4074
    /// BPRC: broadcast packets received.
    case broadcastPacketsReceived = 0x4078
    /// MPRC: multicast packets received.
    case multicastPacketsReceived = 0x407C
    /// GPTC: good packets transmitted.
    case goodPacketsTransmitted = 0x4080
    /// GORCL: good octets received, low 32 bits.
    case goodOctetsReceivedLow = 0x4088
    /// GORCH: good octets received, high 32 bits.
    case goodOctetsReceivedHigh = 0x408C
    /// GOTCL: good octets transmitted, low.
    case goodOctetsTransmittedLow = 0x4090
    /// GOTCH: good octets transmitted, high.
    case goodOctetsTransmittedHigh = 0x4094
    /// RNBC: receive no buffers count (packets that found the ring empty; may not be dropped).
    case receiveNoBuffers = 0x40A0
    /// RUC: receive undersize count.
    case receiveUndersize = 0x40A4
    /// ROC: receive oversize count.
    case receiveOversize = 0x40AC
    /// TORL: total octets received, low.
    case totalOctetsReceivedLow = 0x40C0
    /// TORH: total octets received, high.
    case totalOctetsReceivedHigh = 0x40C4
    /// TOTL: total octets transmitted, low.
    case totalOctetsTransmittedLow = 0x40C8
    /// TOTH: total octets transmitted, high.
    case totalOctetsTransmittedHigh = 0x40CC
    /// TPR: total packets received.
    case totalPacketsReceived = 0x40D0
    /// TPT: total packets transmitted.
    case totalPacketsTransmitted = 0x40D4
    /// MPTC: multicast packets transmitted.
    case multicastPacketsTransmitted = 0x40F0
    /// BPTC: broadcast packets transmitted.
    case broadcastPacketsTransmitted = 0x40F4
    /// IAC: interrupt assertion count.
    case interruptAssertions = 0x4100

    /// The counter as a typed register.
    @inlinable public var register: Register<UInt32> { Register(offset: rawValue) }
}
