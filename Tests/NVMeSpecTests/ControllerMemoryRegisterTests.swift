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

import NVMeSpec
import Testing

// The CMB and PMR registers (NVMe base 1.4, 3.1.11-13, 3.1.25-26) pinned to literal encodings.

@Test func controllerMemoryBufferLocationFieldsSitWhereTheSpecPutsThem() {
    // CMBLOC: BIR bits 2:0, OFST bits 31:12.
    let location = ControllerMemoryBufferLocation(rawValue: 0x0012_3FFA)
    #expect(location.baseIndicator == 2)
    #expect(location.offsetUnits == 0x123)
    var built = ControllerMemoryBufferLocation(rawValue: 0)
    built.baseIndicator = 5
    built.offsetUnits = 0xF_FFFF
    #expect(built.rawValue == 0xFFFF_F005)
    built.baseIndicator = 2
    #expect(built.rawValue == 0xFFFF_F002)
}

@Test func controllerMemoryBufferSizeFieldsSitWhereTheSpecPutsThem() {
    // CMBSZ: SQS 0, CQS 1, LISTS 2, RDS 3, WDS 4, SZU 11:8, SZ 31:12.
    let size = ControllerMemoryBufferSize(rawValue: 0x0004_021E)
    #expect(!size.submissionQueues)
    #expect(size.completionQueues && size.lists && size.readData && size.writeData)
    #expect(size.sizeUnitCode == 2)
    #expect(size.sizeUnits == 0x40)
    #expect(size.unitBytes == 1 << 20)
    var built = ControllerMemoryBufferSize(rawValue: 0)
    built.submissionQueues = true
    built.sizeUnitCode = 2
    built.sizeUnits = 64
    #expect(built.rawValue == 0x0004_0201)
    #expect(ControllerMemoryBufferSize(rawValue: 0x700).unitBytes == nil)
}

@Test func controllerMemoryBufferControlKeepsTheBaseAddressApartFromTheEnables() {
    // CMBMSC: CRE 0, CMSE 1, CBA 63:12.
    var control = ControllerMemoryBufferControl(rawValue: 0)
    control.registersEnabled = true
    control.memorySpaceEnabled = true
    control.baseAddress = 0xFE00_1234_5678
    #expect(control.rawValue == 0xFE00_1234_5003)
    #expect(control.baseAddress == 0xFE00_1234_5000)
    control.memorySpaceEnabled = false
    #expect(control.rawValue == 0xFE00_1234_5001)
    #expect(ControllerMemoryBufferStatus(rawValue: 1).baseAddressInvalid)
    #expect(!ControllerMemoryBufferStatus(rawValue: 0xFFFF_FFFE).baseAddressInvalid)
}

@Test func persistentMemoryCapabilitiesFieldsSitWhereTheSpecPutsThem() {
    // PMRCAP: RDS 3, WDS 4, BIR 7:5, PMRTU 9:8, PMRWBM 13:10, PMRTO 23:16, CMSS 24.
    let caps = PersistentMemoryCapabilities(rawValue: 0x01_2A_0D_B8)
    #expect(caps.readData && caps.writeData)
    #expect(caps.baseIndicator == 5)
    #expect(caps.timeUnits == 1)
    #expect(caps.writeBarrierMechanisms == 3)
    #expect(caps.timeout == 0x2A)
    #expect(caps.controllerMemorySpace)
}
