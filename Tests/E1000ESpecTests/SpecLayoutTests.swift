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
import Testing
import VFIO

/// The spec types against the 82574 datasheet and QEMU's e1000_regs.h: sizes, offsets and bits.
@Suite struct SpecLayoutTests {
    @Test func descriptorsAreSixteenBytesWithFieldsAtTheirDatasheetOffsets() {
        #expect(MemoryLayout<LegacyReceiveDescriptor>.size == 16)
        #expect(MemoryLayout<ExtendedReceiveDescriptor>.size == 16)
        #expect(MemoryLayout<LegacyTransmitDescriptor>.size == 16)
        #expect(MemoryLayout<LegacyReceiveDescriptor>.offset(of: \.length) == LegacyReceiveDescriptor.lengthOffset)
        #expect(MemoryLayout<LegacyReceiveDescriptor>.offset(of: \.status) == LegacyReceiveDescriptor.statusOffset)
        #expect(MemoryLayout<LegacyReceiveDescriptor>.offset(of: \.errors) == LegacyReceiveDescriptor.errorsOffset)
        #expect(MemoryLayout<ExtendedReceiveDescriptor>.offset(of: \.statusError) == ExtendedReceiveDescriptor.statusOffset)
        #expect(MemoryLayout<ExtendedReceiveDescriptor>.offset(of: \.length) == ExtendedReceiveDescriptor.lengthOffset)
        #expect(MemoryLayout<ExtendedReceiveDescriptor>.offset(of: \.multipleReceiveQueues) == ExtendedReceiveDescriptor.multipleReceiveQueuesOffset)
        #expect(MemoryLayout<ExtendedReceiveDescriptor>.offset(of: \.rssHash) == ExtendedReceiveDescriptor.rssHashOffset)
        #expect(MemoryLayout<LegacyTransmitDescriptor>.offset(of: \.command) == LegacyTransmitDescriptor.commandOffset)
        #expect(MemoryLayout<LegacyTransmitDescriptor>.offset(of: \.status) == LegacyTransmitDescriptor.statusOffset)
    }

    @Test func extendedDescriptorReadFormatCarriesTheBufferAddressInItsFirstQuadword() {
        let d = ExtendedReceiveDescriptor(bufferAddress: 0x1234_5678_9ABC_DEF0)
        #expect(d.bufferAddress == 0x1234_5678_9ABC_DEF0)
        #expect(d.statusError.rawValue == 0)
        var wb = ExtendedReceiveDescriptor(multipleReceiveQueues: 0x0102, rssHash: 7, statusError: ExtendedReceiveStatus(rawValue: 0), length: 60, vlan: 0)
        wb.statusError.status = [.descriptorDone, .endOfPacket]
        wb.statusError.errors = [.crc]
        #expect(wb.statusError.rawValue == 0x0100_0003)
        #expect(wb.rssType == 2 && wb.rssQueue == 1)
    }

    @Test func registerOffsetsMatchTheDatasheet() {
        #expect(E1000ERegister.deviceControl.offset == 0x0000)
        #expect(E1000ERegister.deviceStatus.offset == 0x0008)
        #expect(E1000ERegister.eepromRead.offset == 0x0014)
        #expect(E1000ERegister.interruptCauseRead.offset == 0x00C0)
        #expect(E1000ERegister.interruptMaskSet.offset == 0x00D0)
        #expect(E1000ERegister.interruptMaskClear.offset == 0x00D8)
        #expect(E1000ERegister.extendedInterruptAutoClear.offset == 0x00DC)
        #expect(E1000ERegister.interruptVectorAllocation.offset == 0x00E4)
        #expect(E1000ERegister.vectorThrottle(4).offset == 0x00F8)
        #expect(E1000ERegister.receiveControl.offset == 0x0100)
        #expect(E1000ERegister.transmitControl.offset == 0x0400)
        #expect(E1000ERegister.receiveQueue(1).tail.offset == 0x2918)
        #expect(E1000ERegister.transmitQueue(0).tail.offset == 0x3818)
        #expect(E1000ERegister.transmitQueue(1).control.offset == 0x3928)
        #expect(E1000ERegister.transmitArbitration(1).offset == 0x3940)
        #expect(E1000ERegister.receiveAddressHigh(0).offset == 0x5404)
        #expect(E1000ERegister.multipleReceiveQueuesCommand.offset == 0x5818)
        #expect(E1000ERegister.redirectionTable(31).offset == 0x5C7C)
        #expect(E1000ERegister.rssKey(9).offset == 0x5CA4)
        #expect(StatisticsRegister.goodPacketsReceived.rawValue == 0x4074)
        #expect(StatisticsRegister.goodOctetsTransmittedHigh.rawValue == 0x4094)
    }

    @Test func interruptCauseBitsMatchLinux() {
        #expect(InterruptCause.receiveTimer.rawValue == 0x80)
        #expect(InterruptCause.receiveQueue0.rawValue == 0x0010_0000)
        #expect(InterruptCause.transmitQueue1.rawValue == 0x0080_0000)
        #expect(InterruptCause.other.rawValue == 0x0100_0000)
    }

    @Test func ivarEntriesAreFourBitsWithAValidBit() {
        var ivar = InterruptVectorAllocation(rawValue: 0)
        ivar.setVector(0, for: .receiveQueue0)
        ivar.setVector(1, for: .receiveQueue1)
        ivar.setVector(2, for: .transmitQueue0)
        ivar.setVector(3, for: .transmitQueue1)
        ivar.setVector(4, for: .other)
        #expect(ivar.rawValue == 0x000C_BA98)
        #expect(ivar.vector(for: .transmitQueue1) == 3)
        ivar.setVector(nil, for: .receiveQueue1)
        #expect(ivar.vector(for: .receiveQueue1) == nil)
    }

    @Test func macAddressRoundTripsThroughRALAndRAH() {
        let mac = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
        #expect(mac.receiveAddressLow == 0x1200_5452)
        #expect(mac.receiveAddressHigh.rawValue == 0x8000_5634)
        #expect(MACAddress(receiveAddressLow: mac.receiveAddressLow, high: mac.receiveAddressHigh) == mac)
        #expect(mac.description == "52:54:00:12:34:56")
        #expect(!MACAddress.broadcast.isValidStationAddress)
        #expect(!MACAddress(0, 0, 0, 0, 0, 0).isValidStationAddress)
    }

    @Test func receiveControlEncodesTheDriversSetting() {
        var rctl = ReceiveControl(rawValue: 0)
        rctl.enable = true
        rctl.broadcastAccept = true
        rctl.stripCRC = true
        rctl.bufferSize = .bytes2048
        #expect(rctl.rawValue == 0x0400_8002)
        #expect(rctl.bufferBytes == 2048)
    }

    @Test func eepromReadUsesThe82571FamilyLayout() {
        let r = EEPROMRead(readAddress: 2)
        #expect(r.rawValue == 0x9)
        #expect(EEPROMRead(rawValue: 0x5634_0002 | 2 << 2).data == 0x5634)
    }
}
