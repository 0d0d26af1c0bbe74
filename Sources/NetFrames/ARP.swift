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

/// ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, address lengths 6
/// and 4; a 28-byte packet after the Ethernet header.
public enum ARP {
    public static let packetLength = 28
    public static let operationRequest: UInt16 = 1
    public static let operationReply: UInt16 = 2

    /// Writes an ARP reply (RFC 826: "swap the sender and target fields, put our address in
    /// sender") into `out`, padded to the 60-byte minimum frame; returns its length.
    public static func writeReply(into out: UnsafeMutableRawBufferPointer, ourMAC: MACAddress, ourIP: IPv4Address,
                                  toMAC: MACAddress, toIP: IPv4Address) -> Int {
        write(into: out, operation: operationReply, destination: toMAC, senderMAC: ourMAC, senderIP: ourIP, targetMAC: toMAC, targetIP: toIP)
    }

    /// Writes a broadcast ARP request, "who has `target`? tell `senderIP`", padded to 60 bytes;
    /// returns its length. The target hardware address is zero (RFC 826 leaves it unspecified).
    public static func writeRequest(into out: UnsafeMutableRawBufferPointer, senderMAC: MACAddress, senderIP: IPv4Address,
                                    target: IPv4Address) -> Int {
        write(into: out, operation: operationRequest, destination: .broadcast, senderMAC: senderMAC, senderIP: senderIP,
              targetMAC: MACAddress(0, 0, 0, 0, 0, 0), targetIP: target)
    }

    static func write(into out: UnsafeMutableRawBufferPointer, operation: UInt16, destination: MACAddress,
                      senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress, targetIP: IPv4Address) -> Int {
        let length = Ethernet.minimumFrameLength
        precondition(out.count >= length)
        for i in 0..<length { out[i] = 0 }
        Ethernet.writeHeader(into: out, destination: destination, source: senderMAC, type: Ethernet.typeARP)
        let a = Ethernet.headerLength
        out.setBE16(a, 1)  // hardware type: Ethernet
        out.setBE16(a + 2, Ethernet.typeIPv4)
        out[a + 4] = 6
        out[a + 5] = 4
        out.setBE16(a + 6, operation)
        senderMAC.write(to: out, at: a + 8)
        out.setBE32(a + 14, senderIP.value)
        targetMAC.write(to: out, at: a + 18)
        out.setBE32(a + 24, targetIP.value)
        return length
    }
}
