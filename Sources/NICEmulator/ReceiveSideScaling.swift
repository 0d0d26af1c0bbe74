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

/// RSS as QEMU 7.2's e1000e does it (`e1000e_rss_parse_packet`): enabled when MRQC.MRQE is 1,
/// RXCSUM.PCSD is set and extended descriptors are in use (RFCTL.EXSTEN); legacy descriptors
/// have no room for the hash, so with them every frame goes to queue 0. The hash is Toeplitz over
/// the addresses (and the ports for unfragmented TCP); UDP is hashed as plain IP, as the 82574
/// hashes no UDP ports. Bit 7 of RETA[hash & 0x7F] picks the queue.
struct RSSDecision: Equatable {
    /// QEMU `E1000_MRQ_RSS_TYPE_*`.
    enum HashType: UInt32 {
        case none = 0, tcpIPv4 = 1, ipv4 = 2, tcpIPv6 = 3, ipv6Extended = 4, ipv6 = 5
    }
    var enabled = false
    var type = HashType.none
    var hash: UInt32 = 0
    var queue = 0
}

extension NICEngine {
    var rssEnabled: Bool {
        MultipleReceiveQueuesCommand(rawValue: load(Offset.mrqc)).rssEnabled
            && ReceiveChecksumControl(rawValue: load(Offset.rxcsum)).packetChecksumDisable
            && ReceiveFilterControl(rawValue: load(Offset.rfctl)).extendedStatus
    }

    func rssDecision(_ headers: PacketHeaders) -> RSSDecision {
        guard rssEnabled else { return RSSDecision() }
        var decision = RSSDecision(enabled: true)
        let mrqc = load(Offset.mrqc)
        let bit = { (n: UInt32) -> Bool in mrqc & (1 << n) != 0 }
        switch headers.network {
        case .ipv4:
            if !headers.isFragment && headers.isTCP && bit(16) {
                decision.type = .tcpIPv4
            } else if bit(17) {
                decision.type = .ipv4
            }
        case .ipv6:
            if headers.isTCP && !headers.isFragment && bit(18) {
                decision.type = .tcpIPv6
            } else if bit(19) {
                decision.type = .ipv6Extended
            } else if bit(20) {
                decision.type = .ipv6
            }
        case .none:
            break
        }
        guard decision.type != .none else { return decision }
        var input = Array(headers.source) + Array(headers.destination)
        if decision.type == .tcpIPv4 || decision.type == .tcpIPv6 { input += headers.ports }
        decision.hash = Self.toeplitz(input, key: rssKey)
        let entry = UInt8(truncatingIfNeeded: load(Offset.reta0 + (Int(decision.hash) & 0x7C)) >> (8 * (decision.hash & 3)))
        decision.queue = RedirectionTable.queue(entry: entry)
        return decision
    }

    /// RSSRK as bytes, byte 0 in the low byte of register 0.
    var rssKey: [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(RSSKey.byteCount)
        for r in 0..<RSSKey.registerCount {
            let word = load(Offset.rssrk0 + 4 * r)
            for b in 0..<4 { key.append(UInt8(truncatingIfNeeded: word >> (8 * b))) }
        }
        return key
    }

    /// The Toeplitz hash (Microsoft RSS specification): for each input bit set, XOR in the 32 key
    /// bits starting at that bit position.
    static func toeplitz(_ input: [UInt8], key: [UInt8]) -> UInt32 {
        var result: UInt32 = 0
        for (n, byte) in input.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> bit) != 0 {
                // Key bits [i, i + 32) for input bit i: five key bytes from i / 8, shifted.
                let i = 8 * n + bit
                var window: UInt64 = 0
                for k in 0..<5 {
                    let index = i / 8 + k
                    window = window << 8 | UInt64(index < key.count ? key[index] : 0)
                }
                result ^= UInt32(truncatingIfNeeded: window >> UInt64(8 - i % 8))
            }
        }
        return result
    }
}
