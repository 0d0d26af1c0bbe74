import VFIO

/// An Ethernet MAC address, six bytes in transmission order.
@frozen
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    @inlinable public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }

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

    /// Bit 0 of the first byte: a group (multicast or broadcast) address.
    @inlinable public var isMulticast: Bool { bytes.0 & 1 != 0 }
    /// All zeros: what an unprogrammed EEPROM or a cleared RAL/RAH gives.
    @inlinable public var isZero: Bool { self == MACAddress(0, 0, 0, 0, 0, 0) }
    /// FF:FF:FF:FF:FF:FF.
    public static let broadcast = MACAddress(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
    /// A unicast, non-zero address: the only kind a NIC may own (a station address).
    @inlinable public var isValidStationAddress: Bool { !isMulticast && !isZero }

    @inlinable public static func == (a: MACAddress, b: MACAddress) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2
            && a.bytes.3 == b.bytes.3 && a.bytes.4 == b.bytes.4 && a.bytes.5 == b.bytes.5
    }
    @inlinable public func hash(into hasher: inout Hasher) { hasher.combine(receiveAddressLow); hasher.combine(receiveAddressHigh.addressHigh) }

    public var description: String {
        let b = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5]
        return b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
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
