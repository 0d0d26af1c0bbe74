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

import Testing
import VFIO

@Suite struct PCIAddressTests {
    @Test func parsesTheFullForm() throws {
        let a = try PCIAddress(parsing: "0001:3b:1f.7")
        #expect(a == PCIAddress(domain: 1, bus: 0x3b, device: 0x1f, function: 7))
        #expect(a.description == "0001:3b:1f.7")
    }

    @Test func parsesTheShortFormAsDomainZero() throws {
        #expect(try PCIAddress(parsing: "01:00.0") == PCIAddress(domain: 0, bus: 1, device: 0, function: 0))
    }

    @Test func acceptsUpperCaseHexAndPrintsLowerCase() throws {
        let a = try PCIAddress(parsing: "ABCD:EF:1A.3")
        #expect(a == PCIAddress(domain: 0xabcd, bus: 0xef, device: 0x1a, function: 3))
        #expect(a.description == "abcd:ef:1a.3")
    }

    @Test func roundTripsThroughDescription() throws {
        for text in ["0000:00:00.0", "ffff:ff:1f.7", "0000:01:00.1", "0010:a0:05.4"] {
            #expect(try PCIAddress(parsing: text).description == text)
        }
    }

    @Test(arguments: [
        "", "0", "0000", "0000:01", "0000:01:00", "01:00", ":01:00.0", "0000::00.0",
        // wrong widths
        "000:01:00.0", "00000:01:00.0", "0000:1:00.0", "0000:001:00.0", "0000:01:0.0", "0000:01:000.0",
        "0000:01:00.00", "1:00.0", "01:0.0", "0000:01:00.",
        // not hex
        "000g:01:00.0", "0000:0x:00.0", "0000:01:0z.0", "0000:01:00.a", "0000:01:00.-1", "+000:01:00.0",
        " 000:01:00.0", "0000:01:00.0 ", "0000:01:00 .0",
        // device above 1f, function above 7
        "0000:01:20.0", "0000:01:ff.0", "0000:01:00.8", "0000:01:00.f",
        // extra fields
        "0000:00:01:00.0", "0000:01:00.0.1", "01:00.0.0", "0000:01:00.0:", "0000:01.00.0",
    ])
    func rejectsMalformedAddresses(_ text: String) {
        #expect(throws: VFIOError.self) { try PCIAddress(parsing: text) }
    }

    @Test func rejectionSaysWhatIsWrongAndShowsTheForm() {
        do {
            _ = try PCIAddress(parsing: "0000:01:20.0")
            Issue.record("device 0x20 was accepted")
        } catch {
            #expect(error.description.contains("at most 1f"))
            #expect(error.description.contains("DDDD:BB:DD.F"))
        }
    }

    @Test func ordersByDomainBusDeviceFunction() throws {
        let sorted = try ["0001:00:00.0", "0000:02:00.0", "0000:01:1f.7", "0000:01:02.0", "0000:01:02.1"]
            .map { try PCIAddress(parsing: $0) }.sorted().map(\.description)
        #expect(sorted == ["0000:01:02.0", "0000:01:02.1", "0000:01:1f.7", "0000:02:00.0", "0001:00:00.0"])
    }
}
