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
import VFIO

/// How to bring an 82574L up. Defaults suit one RX/TX queue pair with MSI-X available.
public struct NICOptions: Sendable {
    /// Receive queues (1 or 2). With 2, RSS spreads flows by their Toeplitz hash (MRQC/RETA), which
    /// on QEMU needs the extended receive descriptor format; the driver switches to it.
    public var receiveQueues: Int = 1
    /// Transmit queues (1 or 2).
    public var transmitQueues: Int = 1
    /// Descriptors per ring: a power of two from 8 to 4096 (RDLEN/TDLEN are multiples of 128 bytes).
    public var ringEntries: Int = 512
    /// Accept every unicast and multicast frame (RCTL.UPE/MPE), not only our address and broadcast.
    public var promiscuous: Bool = false
    /// Enable interrupts, needed for the interrupt and hybrid completion modes: the five MSI-X
    /// vectors when the device has them, else one shared MSI or INTx vector. Without it every
    /// queue polls.
    public var interrupts: Bool = true
    /// Minimum gap between interrupts of one vector (EITR, 256 ns units; nil leaves the device
    /// default, on QEMU 128 us). Larger gaps coalesce more packets per interrupt.
    public var interruptThrottleNanoseconds: Int? = nil
    /// How long bring-up waits for STATUS.LU before returning with the link down (not an error:
    /// `E1000E.waitForLink` can wait longer).
    public var linkWaitMilliseconds: Int = 1000
    /// RSS key (40 bytes); nil uses the common Microsoft test key, which spreads well.
    public var rssKey: [UInt8]? = nil
    /// Where the driver logs bring-up and misbehaving queues: quiet unless the caller passes its
    /// own (a library does not print on its own).
    public var logger: Logger = .quiet(label: "swift-vfio.nic")

    public init() {}

    /// The key used when `rssKey` is nil: the verification key from Microsoft's RSS
    /// documentation, used by most drivers as a default.
    public static let defaultRSSKey: [UInt8] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
        0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
        0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ]

    func validate() throws(NICError) {
        guard receiveQueues == 1 || receiveQueues == 2 else {
            throw .invalidArgument("receive queues \(receiveQueues); the 82574L has 1 or 2")
        }
        guard transmitQueues == 1 || transmitQueues == 2 else {
            throw .invalidArgument("transmit queues \(transmitQueues); the 82574L has 1 or 2")
        }
        guard ringEntries >= 8 && ringEntries <= 4096 && ringEntries & (ringEntries - 1) == 0 else {
            throw .invalidArgument("ring entries \(ringEntries); use a power of two from 8 to 4096")
        }
        if let t = interruptThrottleNanoseconds, t < 0 || t > 0xFFFF * 256 {
            throw .invalidArgument("interrupt throttle \(t) ns; EITR holds 0...\(0xFFFF * 256) ns")
        }
        if let key = rssKey, key.count != RSSKey.byteCount {
            throw .invalidArgument("RSS key of \(key.count) bytes; it must be \(RSSKey.byteCount)")
        }
    }
}
