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

/// Bit-field helpers for typed registers, commands and descriptors. Ranges are spec bit numbers,
/// half-open (`0..<16` is bits 15:00, `16..<18` bits 17:16). Setters mask the value to the
/// field width. Used by the spec modules of every device.
extension FixedWidthInteger where Self: UnsignedInteger {
    /// A mask of `width` low bits (all bits when `width` is the type's width or more).
    @inlinable @inline(__always)
    public static func fieldMask(_ width: Int) -> Self {
        width >= Self.bitWidth ? ~0 : (1 << width) &- 1
    }

    /// The field at `range`, shifted down to bit 0.
    @inlinable @inline(__always)
    public func bits(_ range: Range<Int>) -> Self {
        (self >> range.lowerBound) & Self.fieldMask(range.count)
    }

    /// Replaces the field at `range` with the low bits of `value`.
    @inlinable @inline(__always)
    public mutating func setBits(_ range: Range<Int>, to value: Self) {
        let mask = Self.fieldMask(range.count)
        self = (self & ~(mask << range.lowerBound)) | ((value & mask) << range.lowerBound)
    }

    /// Whether bit `index` is set.
    @inlinable @inline(__always)
    public func bit(_ index: Int) -> Bool { self & (1 << index) != 0 }

    /// Sets or clears bit `index`.
    @inlinable @inline(__always)
    public mutating func setBit(_ index: Int, _ on: Bool) {
        if on { self |= 1 << index } else { self &= ~(1 << index) }
    }
}
