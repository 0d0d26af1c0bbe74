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

import NetFrames
import Testing

@Suite struct AddressTests {
    @Test func macAddressesParseWithColonsOrDashesAndPrintLowerCase() {
        #expect(MACAddress(parsing: "52:54:00:12:34:56") == ourMAC)
        #expect(MACAddress(parsing: "52-54-00-12-34-56") == ourMAC)
        #expect(MACAddress(parsing: "52:54:00:AB:cd:EF")?.description == "52:54:00:ab:cd:ef")
        #expect(MACAddress(0x02, 0, 0, 0, 0, 9).description == "02:00:00:00:00:09")
    }

    @Test(arguments: ["52:54:00:12:34", "52:54:00:12:34:56:78", "5:54:00:12:34:56", "52:54:00:12:34:gg", "", "525400123456", "52:54:00:12:34:+5"])
    func malformedMACAddressesAreRefused(text: String) {
        #expect(MACAddress(parsing: text) == nil)
    }

    @Test func groupAndZeroAddressesAreNoStationAddresses() {
        #expect(MACAddress.broadcast.isMulticast)
        #expect(MACAddress(0x01, 0x00, 0x5E, 0, 0, 1).isMulticast)
        #expect(!MACAddress(0x01, 0x00, 0x5E, 0, 0, 1).isValidStationAddress)
        #expect(!MACAddress(0, 0, 0, 0, 0, 0).isValidStationAddress)
        #expect(ourMAC.isValidStationAddress)
    }

    @Test func macAddressesReadAndWriteInTransmissionOrder() {
        let (bytes, _) = building(8) { ourMAC.write(to: $0, at: 2) }
        #expect(bytes == hex("0000 5254 0012 3456"))
        #expect(bytes.withUnsafeBytes { MACAddress(reading: $0, at: 2) } == ourMAC)
    }

    @Test func ipv4AddressesAreDottedQuadsHeldInHostOrder() {
        #expect(IPv4Address(parsing: "10.77.0.2")?.value == 0x0A4D_0002)
        #expect(IPv4Address(parsing: "255.255.255.255")?.value == 0xFFFF_FFFF)
        #expect(IPv4Address(192, 168, 0, 199).description == "192.168.0.199")
        #expect(IPv4Address(0x0A4D_0001) == peerIP)
    }

    @Test(arguments: ["10.77.0", "10.77.0.2.1", "256.1.1.1", "1..2.3", "+1.2.3.4", "1.2.3.0004", "a.b.c.d", ""])
    func malformedIPv4AddressesAreRefused(text: String) {
        #expect(IPv4Address(parsing: text) == nil)
    }

    @Test func bigEndianFieldsRoundTrip() {
        let (bytes, _) = building(6) { b in
            b.setBE16(0, 0x0800)
            b.setBE32(2, 0x0A4D_0002)
        }
        #expect(bytes == hex("0800 0a4d 0002"))
        #expect(bytes.withUnsafeBytes { $0.be16(0) } == 0x0800)
        #expect(bytes.withUnsafeBytes { $0.be32(2) } == 0x0A4D_0002)
    }
}
