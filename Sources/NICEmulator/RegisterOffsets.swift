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

/// BAR0 offsets the emulator dispatches on, taken from `E1000ERegister` (NIC/Spec) where it has
/// them. The few it does not have are defined here with their datasheet section.
enum Offset {
    static let ctrl = E1000ERegister.deviceControl.offset
    static let status = E1000ERegister.deviceStatus.offset
    /// EECD, EEPROM/flash control (82574 datasheet 10.2.2.3); not in NIC/Spec.
    static let eecd = 0x0010
    static let eerd = E1000ERegister.eepromRead.offset
    static let ctrlExt = E1000ERegister.extendedDeviceControl.offset
    static let mdic = E1000ERegister.mdiControl.offset
    static let icr = E1000ERegister.interruptCauseRead.offset
    static let itr = E1000ERegister.interruptThrottle.offset
    static let ics = E1000ERegister.interruptCauseSet.offset
    static let ims = E1000ERegister.interruptMaskSet.offset
    static let imc = E1000ERegister.interruptMaskClear.offset
    static let eiac = E1000ERegister.extendedInterruptAutoClear.offset
    static let iam = E1000ERegister.interruptAutoMask.offset
    static let ivar = E1000ERegister.interruptVectorAllocation.offset
    static let eitr0 = E1000ERegister.vectorThrottle(0).offset
    static let rctl = E1000ERegister.receiveControl.offset
    static let tctl = E1000ERegister.transmitControl.offset
    static let tipg = E1000ERegister.transmitInterPacketGap.offset
    static let pba = E1000ERegister.packetBufferAllocation.offset
    static let rxcsum = E1000ERegister.receiveChecksumControl.offset
    static let rfctl = E1000ERegister.receiveFilterControl.offset
    static let mta0 = E1000ERegister.multicastTable(0).offset
    static let ral0 = E1000ERegister.receiveAddressLow(0).offset
    static let mrqc = E1000ERegister.multipleReceiveQueuesCommand.offset
    static let reta0 = E1000ERegister.redirectionTable(0).offset
    static let rssrk0 = E1000ERegister.rssKey(0).offset
    static let tarc0 = E1000ERegister.transmitArbitration(0).offset
    static let tarc1 = E1000ERegister.transmitArbitration(1).offset
    static let rdtr = E1000ERegister.receiveDelayTimer.offset
    static let radv = E1000ERegister.receiveAbsoluteDelay.offset
    static let tidv = E1000ERegister.transmitInterruptDelay.offset
    static let tadv = E1000ERegister.transmitAbsoluteDelay.offset
    /// PBACLR, MSI-X PBA clear (82574 datasheet 10.2.4.11); not in NIC/Spec.
    static let pbaclr = 0x5B68
    /// SWSM, software semaphore (10.2.9.x): QEMU returns it and sets bit 0 on read; not in NIC/Spec.
    static let swsm = 0x5B50

    static let statisticsRange = 0x4000..<0x4104
    /// IAC, interrupt assertion count (10.2.7), the last counter.
    static let iac = 0x4100
    static let barLength = E1000ERegister.barLength

    static func ring(receive: Bool, _ queue: Int) -> DescriptorRingRegisters {
        receive ? E1000ERegister.receiveQueue(queue) : E1000ERegister.transmitQueue(queue)
    }
}

/// Interrupt cause bits by raw value, for masks the emulator combines (NIC/Spec `InterruptCause`).
enum Cause {
    static let txdw = InterruptCause.transmitDescriptorWritten.rawValue
    static let txqe = InterruptCause.transmitQueueEmpty.rawValue
    static let lsc = InterruptCause.linkStatusChange.rawValue
    static let rxdmt0 = InterruptCause.receiveDescriptorMinimum.rawValue
    static let rxo = InterruptCause.receiveOverrun.rawValue
    static let rxt0 = InterruptCause.receiveTimer.rawValue
    static let mdac = InterruptCause.mdioAccessComplete.rawValue
    static let srpd = InterruptCause.smallReceivePacket.rawValue
    static let ack = InterruptCause.receiveACK.rawValue
    static let rxq0 = InterruptCause.receiveQueue0.rawValue
    static let rxq1 = InterruptCause.receiveQueue1.rawValue
    static let txq0 = InterruptCause.transmitQueue0.rawValue
    static let txq1 = InterruptCause.transmitQueue1.rawValue
    static let other = InterruptCause.other.rawValue
    static let asserted = InterruptCause.asserted.rawValue
    /// MNG (bit 18), management event; not named in NIC/Spec.
    static let mng: UInt32 = 1 << 18
    static let txdLow = InterruptCause.transmitDescriptorLow.rawValue

    /// Causes that MSI-X reports through OTHER (QEMU `E1000_ICR_OTHER_CAUSES`).
    static let otherCauses: UInt32 = lsc | rxo | mdac | srpd | ack | mng
    /// Causes IMS accepts (QEMU `e1000e_set_ims`' valid mask).
    static let imsValid: UInt32 = txdw | txqe | lsc | rxdmt0 | rxo | rxt0 | mdac | txdLow | srpd | ack | mng
        | rxq0 | rxq1 | txq0 | txq1 | other
    /// The MSI-X queue causes and OTHER.
    static let msixCauses: UInt32 = rxq0 | rxq1 | txq0 | txq1 | other
}
