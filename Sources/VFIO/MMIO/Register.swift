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

import CShims

/// An integer width that MMIO can load and store in one access.
public protocol MMIOWidth: FixedWidthInteger & UnsignedInteger & Sendable {
    static func load(from region: MMIORegion, at offset: Int) -> Self
    static func store(_ value: Self, to region: MMIORegion, at offset: Int)
}

extension UInt8: MMIOWidth {
    @inlinable @inline(__always)
    public static func load(from region: MMIORegion, at offset: Int) -> UInt8 { region.load8(at: offset) }
    @inlinable @inline(__always)
    public static func store(_ value: UInt8, to region: MMIORegion, at offset: Int) { region.store8(value, at: offset) }
}
extension UInt16: MMIOWidth {
    @inlinable @inline(__always)
    public static func load(from region: MMIORegion, at offset: Int) -> UInt16 { region.load16(at: offset) }
    @inlinable @inline(__always)
    public static func store(_ value: UInt16, to region: MMIORegion, at offset: Int) { region.store16(value, at: offset) }
}
extension UInt32: MMIOWidth {
    @inlinable @inline(__always)
    public static func load(from region: MMIORegion, at offset: Int) -> UInt32 { region.load32(at: offset) }
    @inlinable @inline(__always)
    public static func store(_ value: UInt32, to region: MMIORegion, at offset: Int) { region.store32(value, at: offset) }
}
extension UInt64: MMIOWidth {
    @inlinable @inline(__always)
    public static func load(from region: MMIORegion, at offset: Int) -> UInt64 { region.load64(at: offset) }
    @inlinable @inline(__always)
    public static func store(_ value: UInt64, to region: MMIORegion, at offset: Int) { region.store64(value, at: offset) }
}

/// A register's value type: a typed view over a raw integer (e.g. NVMe `CC`, `CSTS`).
public protocol RegisterValue: Sendable {
    associatedtype RawValue: MMIOWidth
    init(rawValue: RawValue)
    var rawValue: RawValue { get }
}

extension UInt8: RegisterValue { public init(rawValue: UInt8) { self = rawValue }; public var rawValue: UInt8 { self } }
extension UInt16: RegisterValue { public init(rawValue: UInt16) { self = rawValue }; public var rawValue: UInt16 { self } }
extension UInt32: RegisterValue { public init(rawValue: UInt32) { self = rawValue }; public var rawValue: UInt32 { self } }
extension UInt64: RegisterValue { public init(rawValue: UInt64) { self = rawValue }; public var rawValue: UInt64 { self } }

/// A register at a fixed offset in a region, with a typed value: `Register<ControllerConfiguration>(offset: 0x14)`.
/// Driver logic names registers, never raw offsets.
@frozen
public struct Register<Value: RegisterValue>: Sendable {
    public let offset: Int
    @inlinable
    public init(offset: Int) { self.offset = offset }
}
