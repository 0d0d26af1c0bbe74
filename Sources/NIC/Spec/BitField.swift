/// Bit-field helpers for register accessors. Ranges are datasheet bit numbers, half-open
/// (`16..<18` is bits 17:16). Setters mask the value to the field width.
extension FixedWidthInteger where Self: UnsignedInteger {
    @inlinable @inline(__always)
    static func nicFieldMask(_ width: Int) -> Self {
        width >= Self.bitWidth ? ~0 : (1 << width) &- 1
    }

    @inlinable @inline(__always)
    func nicBits(_ range: Range<Int>) -> Self {
        (self >> range.lowerBound) & Self.nicFieldMask(range.count)
    }

    @inlinable @inline(__always)
    mutating func setNICBits(_ range: Range<Int>, to value: Self) {
        let mask = Self.nicFieldMask(range.count)
        self = (self & ~(mask << range.lowerBound)) | ((value & mask) << range.lowerBound)
    }

    @inlinable @inline(__always)
    func nicBit(_ index: Int) -> Bool { self & (1 << index) != 0 }

    @inlinable @inline(__always)
    mutating func setNICBit(_ index: Int, _ on: Bool) {
        if on { self |= 1 << index } else { self &= ~(1 << index) }
    }
}
