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

/// The test frame of `vfioctl net send` and `net gen`: IPv4/UDP from port 42 to port 9
/// (discard), the payload a 32-bit sequence number then byte i = i (mod 256); `length` bytes
/// without the FCS (60...1514). The template is written once; each frame sent is a copy with its
/// sequence number stamped, so a generator writes four bytes per packet.
public struct UDPTemplate: Sendable, Equatable {
    public var source: MACAddress
    public var destination: MACAddress
    public var sourceIP: IPv4Address
    public var destinationIP: IPv4Address
    public var length: Int

    public static let sourcePort: UInt16 = 42
    public static let destinationPort: UInt16 = 9
    /// Where the sequence number lives: after the Ethernet, IPv4 and UDP headers.
    public static let sequenceOffset = Ethernet.headerLength + IPv4.headerLength + 8
    /// The lengths a template may have (without the FCS).
    public static let lengths = Ethernet.minimumFrameLength...Ethernet.maximumFrameLength

    public init(source: MACAddress, destination: MACAddress, sourceIP: IPv4Address, destinationIP: IPv4Address, length: Int) {
        self.source = source
        self.destination = destination
        self.sourceIP = sourceIP
        self.destinationIP = destinationIP
        self.length = length
    }

    /// Writes the whole frame with sequence number 0 into `out`.
    public func write(into out: UnsafeMutableRawBufferPointer) {
        precondition(Self.lengths.contains(length) && out.count >= length)
        Ethernet.writeHeader(into: out, destination: destination, source: source, type: Ethernet.typeIPv4)
        let ip = Ethernet.headerLength
        let ipLength = length - Ethernet.headerLength
        IPv4.writeHeader(into: out, at: ip, totalLength: ipLength, dontFragment: true, protocolNumber: IPv4.protocolUDP,
                         source: sourceIP, destination: destinationIP)
        let udp = ip + IPv4.headerLength
        out.setBE16(udp, Self.sourcePort)
        out.setBE16(udp + 2, Self.destinationPort)
        out.setBE16(udp + 4, UInt16(ipLength - IPv4.headerLength))
        out.setBE16(udp + 6, 0)  // RFC 768: zero means no checksum (IPv4), so stamping changes nothing else
        for i in Self.sequenceOffset..<length { out[i] = UInt8(truncatingIfNeeded: i) }
        out.setBE32(Self.sequenceOffset, 0)
    }

    /// Stamps `sequence` into a copy of the template.
    @inlinable @inline(__always)
    public static func stamp(_ out: UnsafeMutableRawBufferPointer, sequence: UInt32) {
        out.setBE32(sequenceOffset, sequence)
    }

    /// The sequence number of a frame built from a template (nil when it is too short to hold one).
    @inlinable
    public static func sequence(of frame: UnsafeRawBufferPointer) -> UInt32? {
        frame.count >= sequenceOffset + 4 ? frame.be32(sequenceOffset) : nil
    }

    /// Whether `frame` is this template with some sequence number: the same length, addresses
    /// and bytes everywhere but the sequence number. Nil when it is; else what differs first.
    public func mismatch(_ frame: UnsafeRawBufferPointer) -> String? {
        guard frame.count == length else { return "frame of \(frame.count) bytes, sent \(length)" }
        let to = MACAddress(reading: frame, at: 0), from = MACAddress(reading: frame, at: 6)
        guard to == destination else { return "destination \(to), expected \(destination)" }
        guard from == source else { return "source \(from), expected \(source)" }
        guard FrameKind(frame) == .udp else { return "not a valid IPv4/UDP frame" }
        for i in (Self.sequenceOffset + 4)..<frame.count where frame[i] != UInt8(truncatingIfNeeded: i) {
            return "payload byte \(i) is \(frame[i])"
        }
        return nil
    }
}
