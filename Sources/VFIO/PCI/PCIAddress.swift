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

/// A PCI function address (bus/device/function with a segment), e.g. `0000:01:00.0`.
///
/// Parsing is strict: hex digits only, exact field widths, device ≤ 0x1f, function ≤ 7. Both the
/// full form and the short `01:00.0` form (segment 0) are accepted, as `lspci` prints them.
@frozen
public struct PCIAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var domain: UInt16
    public var bus: UInt8
    public var device: UInt8
    public var function: UInt8

    public init(domain: UInt16 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F`.
    public init(parsing text: String) throws(VFIOError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let domainText: Substring
        let busText: Substring
        let slotText: Substring
        switch parts.count {
        case 3: (domainText, busText, slotText) = (parts[0], parts[1], parts[2])
        case 2: (domainText, busText, slotText) = ("0000", parts[0], parts[1])
        default: throw .invalidAddress(text, reason: "expected two or three ':'-separated fields")
        }
        let slot = slotText.split(separator: ".", omittingEmptySubsequences: false)
        guard slot.count == 2 else { throw .invalidAddress(text, reason: "missing '.function'") }
        guard domainText.count == 4, let domain = Self.hex(domainText) else {
            throw .invalidAddress(text, reason: "domain must be 4 hex digits")
        }
        guard busText.count == 2, let bus = Self.hex(busText) else {
            throw .invalidAddress(text, reason: "bus must be 2 hex digits")
        }
        guard slot[0].count == 2, let device = Self.hex(slot[0]), device <= 0x1f else {
            throw .invalidAddress(text, reason: "device must be 2 hex digits, at most 1f")
        }
        guard slot[1].count == 1, let function = Self.hex(slot[1]), function <= 7 else {
            throw .invalidAddress(text, reason: "function must be one digit 0-7")
        }
        self.init(domain: UInt16(domain), bus: UInt8(bus), device: UInt8(device), function: UInt8(function))
    }

    private static func hex(_ s: Substring) -> UInt32? {
        var value: UInt32 = 0
        for c in s.utf8 {
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return s.isEmpty ? nil : value
    }

    /// The canonical sysfs form, `0000:01:00.0`.
    public var description: String {
        func pad(_ v: UInt32, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(UInt32(domain), 4)):\(pad(UInt32(bus), 2)):\(pad(UInt32(device), 2)).\(function)"
    }

    public static func < (a: PCIAddress, b: PCIAddress) -> Bool {
        (a.domain, a.bus, a.device, a.function) < (b.domain, b.bus, b.device, b.function)
    }
}
