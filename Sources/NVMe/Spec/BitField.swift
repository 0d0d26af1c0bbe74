/// Bit-field helpers for register and command dword accessors. Ranges are spec bit numbers,
/// half-open (`0..<16` is bits 15:00). Setters mask the value to the field width.
extension FixedWidthInteger where Self: UnsignedInteger {
    @inlinable @inline(__always)
    static func fieldMask(_ width: Int) -> Self {
        width >= Self.bitWidth ? ~0 : (1 << width) &- 1
    }

    @inlinable @inline(__always)
    func bits(_ range: Range<Int>) -> Self {
        (self >> range.lowerBound) & Self.fieldMask(range.count)
    }

    @inlinable @inline(__always)
    mutating func setBits(_ range: Range<Int>, to value: Self) {
        let mask = Self.fieldMask(range.count)
        self = (self & ~(mask << range.lowerBound)) | ((value & mask) << range.lowerBound)
    }

    @inlinable @inline(__always)
    func bit(_ index: Int) -> Bool { self & (1 << index) != 0 }

    @inlinable @inline(__always)
    mutating func setBit(_ index: Int, _ on: Bool) {
        if on { self |= 1 << index } else { self &= ~(1 << index) }
    }
}
