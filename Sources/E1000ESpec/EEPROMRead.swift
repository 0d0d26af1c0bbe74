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

import VFIO

/// EERD, EEPROM read (82574 datasheet 10.2.2.4): write START with a word address, poll DONE, take
/// DATA. On the 82571 family (82574 included) the address starts at bit 2 and DONE is bit 1
/// (Linux `E1000_NVM_RW_ADDR_SHIFT` = 2, `E1000_NVM_RW_REG_DONE` = 2).
@frozen
public struct EEPROMRead: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// A read request for `address` (a 16-bit word index).
    @inlinable public init(readAddress address: UInt16) {
        rawValue = 0
        start = true
        self.address = address
    }

    /// EERD.START: begin a read.
    @inlinable public var start: Bool { get { rawValue.bit(0) } set { rawValue.setBit(0, newValue) } }
    /// EERD.DONE: the read finished and DATA is valid.
    @inlinable public var done: Bool { get { rawValue.bit(1) } set { rawValue.setBit(1, newValue) } }
    /// EERD.ADDR: word address (bits 15:2).
    @inlinable public var address: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(2..<16)) }
        set { rawValue.setBits(2..<16, to: UInt32(newValue)) }
    }
    /// EERD.DATA: the word read (bits 31:16).
    @inlinable public var data: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(16..<32)) }
        set { rawValue.setBits(16..<32, to: UInt32(newValue)) }
    }
}
