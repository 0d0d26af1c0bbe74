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
import VFIO

/// How the 82574 holds a station address: RAL[n] the low four bytes (byte 0 lowest), RAH[n] the
/// top two and the address-valid bit (datasheet 10.2.5.13-14).
extension MACAddress {
    /// The address held by RAL (bytes 0-3, byte 0 lowest) and RAH (bytes 4-5 in bits 15:0).
    @inlinable public init(receiveAddressLow low: UInt32, high: ReceiveAddressHigh) {
        let h = high.addressHigh
        self.init(UInt8(truncatingIfNeeded: low), UInt8(truncatingIfNeeded: low >> 8),
                  UInt8(truncatingIfNeeded: low >> 16), UInt8(truncatingIfNeeded: low >> 24),
                  UInt8(truncatingIfNeeded: h), UInt8(truncatingIfNeeded: h >> 8))
    }

    /// RAL's value for this address.
    @inlinable public var receiveAddressLow: UInt32 {
        UInt32(bytes.0) | UInt32(bytes.1) << 8 | UInt32(bytes.2) << 16 | UInt32(bytes.3) << 24
    }
    /// RAH's value for this address, marked valid (AV).
    @inlinable public var receiveAddressHigh: ReceiveAddressHigh {
        var h = ReceiveAddressHigh(rawValue: 0)
        h.addressHigh = UInt16(bytes.4) | UInt16(bytes.5) << 8
        h.addressValid = true
        return h
    }
}

/// RAH[n], receive address high (82574 datasheet 10.2.5.14): the top two bytes of the station
/// address and the address-valid bit. RAL[n] holds the low four bytes as a plain `UInt32`.
@frozen
public struct ReceiveAddressHigh: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// RAH.RAH (bits 15:0): address bytes 4 and 5.
    @inlinable public var addressHigh: UInt16 {
        get { UInt16(truncatingIfNeeded: rawValue.bits(0..<16)) }
        set { rawValue.setBits(0..<16, to: UInt32(newValue)) }
    }
    /// RAH.ASEL (bits 17:16): 0 destination address.
    @inlinable public var addressSelect: UInt32 { get { rawValue.bits(16..<18) } set { rawValue.setBits(16..<18, to: newValue) } }
    /// RAH.AV: the filter entry is valid.
    @inlinable public var addressValid: Bool { get { rawValue.bit(31) } set { rawValue.setBit(31, newValue) } }
}
