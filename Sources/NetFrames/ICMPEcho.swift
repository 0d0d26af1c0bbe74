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

/// ICMP echo request and reply (RFC 792), the messages of `ping`: type, code, checksum,
/// identifier, sequence number, then data that the reply carries back unchanged.
public enum ICMPEcho {
    public static let typeReply: UInt8 = 0
    public static let typeRequest: UInt8 = 8
    /// Type, code, checksum, identifier, sequence.
    public static let headerLength = 8

    /// Writes an echo request in an IPv4 frame with `payload` bytes of a pattern derived from
    /// `sequence` (byte i is sequence + i); returns the frame's length (at least 60).
    public static func writeRequest(into out: UnsafeMutableRawBufferPointer, from: MACAddress, to: MACAddress,
                                    sourceIP: IPv4Address, destinationIP: IPv4Address,
                                    identifier: UInt16, sequence: UInt16, payload: Int) -> Int {
        let l3 = Ethernet.headerLength
        let total = IPv4.headerLength + headerLength + payload
        let length = max(Ethernet.minimumFrameLength, l3 + total)
        precondition(payload >= 0 && total <= 0xFFFF && out.count >= length)
        for i in 0..<length { out[i] = 0 }
        Ethernet.writeHeader(into: out, destination: to, source: from, type: Ethernet.typeIPv4)
        IPv4.writeHeader(into: out, at: l3, totalLength: total, identification: sequence, protocolNumber: IPv4.protocolICMP,
                         source: sourceIP, destination: destinationIP)
        let icmp = l3 + IPv4.headerLength
        out[icmp] = typeRequest
        out.setBE16(icmp + 4, identifier)
        out.setBE16(icmp + 6, sequence)
        for i in 0..<payload { out[icmp + headerLength + i] = UInt8(truncatingIfNeeded: Int(sequence) &+ i) }
        out.setBE16(icmp + 2, InternetChecksum.checksum(UnsafeRawBufferPointer(out), from: icmp, count: headerLength + payload))
        return length
    }

    /// Turns a received echo request (as `FrameKind` found it: `ipHeaderLength` and
    /// `ipTotalLength` already checked against the frame) into the reply in `out` (RFC 792: swap
    /// the addresses, type 0, the same identifier, sequence and data); returns its length.
    public static func writeReply(from frame: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                                  ourMAC: MACAddress, ipHeaderLength ihl: Int, ipTotalLength total: Int) -> Int {
        let l3 = Ethernet.headerLength
        let length = max(Ethernet.minimumFrameLength, l3 + total)
        precondition(ihl >= IPv4.headerLength && total >= ihl + headerLength && out.count >= length && frame.count >= l3 + total)
        out.baseAddress!.copyMemory(from: frame.baseAddress!, byteCount: l3 + total)
        for i in (l3 + total)..<length { out[i] = 0 }
        MACAddress(reading: frame, at: 6).write(to: out, at: 0)
        ourMAC.write(to: out, at: 6)
        // Our address becomes the source, theirs the destination, with a fresh TTL. Options are
        // echoed as they came (dropping them would change the header length).
        out.setBE32(l3 + 12, frame.be32(l3 + 16))
        out.setBE32(l3 + 16, frame.be32(l3 + 12))
        out[l3 + 8] = IPv4.defaultTimeToLive
        out.setBE16(l3 + 10, 0)
        out.setBE16(l3 + 10, InternetChecksum.checksum(UnsafeRawBufferPointer(out), from: l3, count: ihl))
        let icmp = l3 + ihl
        out[icmp] = typeReply
        out.setBE16(icmp + 2, 0)
        out.setBE16(icmp + 2, InternetChecksum.checksum(UnsafeRawBufferPointer(out), from: icmp, count: total - ihl))
        return length
    }
}
