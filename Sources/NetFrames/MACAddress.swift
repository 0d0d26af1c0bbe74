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

/// An Ethernet MAC address (IEEE 802), six bytes in transmission order.
@frozen
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    @inlinable public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }

    /// Parses `52:54:00:12:34:56` (also with `-` between the bytes); nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var b: [UInt8] = []
        for p in parts {
            guard p.count == 2, p.allSatisfy(\.isHexDigit), let v = UInt8(p, radix: 16) else { return nil }
            b.append(v)
        }
        self.init(b[0], b[1], b[2], b[3], b[4], b[5])
    }

    /// The six bytes at `offset` in `frame`. The caller has checked the length; an offset past
    /// the end is a programming error and traps rather than reading outside the buffer.
    @inlinable
    public init(reading frame: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset <= frame.count - 6, "MAC address at \(offset) outside a \(frame.count)-byte frame")
        self.init(frame[offset], frame[offset + 1], frame[offset + 2], frame[offset + 3], frame[offset + 4], frame[offset + 5])
    }

    /// Writes the six bytes at `offset` in `frame` (which must hold them).
    @inlinable
    public func write(to frame: UnsafeMutableRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset <= frame.count - 6, "MAC address at \(offset) outside a \(frame.count)-byte buffer")
        frame[offset] = bytes.0; frame[offset + 1] = bytes.1; frame[offset + 2] = bytes.2
        frame[offset + 3] = bytes.3; frame[offset + 4] = bytes.4; frame[offset + 5] = bytes.5
    }

    /// Bit 0 of the first byte (the I/G bit): a group (multicast or broadcast) address.
    @inlinable public var isMulticast: Bool { bytes.0 & 1 != 0 }
    /// All zeros: what an unprogrammed EEPROM or a cleared address register gives.
    @inlinable public var isZero: Bool { self == MACAddress(0, 0, 0, 0, 0, 0) }
    /// FF:FF:FF:FF:FF:FF.
    public static let broadcast = MACAddress(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
    /// A unicast, non-zero address: the only kind a NIC may own (a station address).
    @inlinable public var isValidStationAddress: Bool { !isMulticast && !isZero }

    @inlinable public static func == (a: MACAddress, b: MACAddress) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2
            && a.bytes.3 == b.bytes.3 && a.bytes.4 == b.bytes.4 && a.bytes.5 == b.bytes.5
    }

    @inlinable public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.0); hasher.combine(bytes.1); hasher.combine(bytes.2)
        hasher.combine(bytes.3); hasher.combine(bytes.4); hasher.combine(bytes.5)
    }

    /// Lower-case hex bytes separated by colons, as `ip link` prints them.
    public var description: String {
        let b = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5]
        return b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}
