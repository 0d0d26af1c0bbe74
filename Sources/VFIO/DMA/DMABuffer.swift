/// Memory the device can reach: a virtual address for the CPU, an IOVA for the device.
///
/// `~Copyable`, so exactly one owner releases it: `deinit` unmaps it from the IOMMU, frees the IOVA
/// and unmaps the memory. Moving it (`consuming`) hands ownership on; borrowing it lends it for an
/// I/O, which must complete before the buffer can be released.
public struct DMABuffer: ~Copyable, @unchecked Sendable {
    public let address: UnsafeMutableRawPointer
    public let iova: IOVA
    public let length: Int
    @usableFromInline let allocator: DMAAllocator

    init(address: UnsafeMutableRawPointer, iova: IOVA, length: Int, allocator: DMAAllocator) {
        self.address = address
        self.iova = iova
        self.length = length
        self.allocator = allocator
    }

    deinit {
        allocator.release(address: address, iova: iova, length: length)
    }

    /// The buffer's bytes, for filling and checking data.
    @inlinable
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: address, count: length) }

    @inlinable
    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(bytes)
    }

    /// A borrowed view of `[offset, offset+length)`, e.g. to do I/O from the middle of a buffer.
    @inlinable
    public func slice(offset: Int, length: Int) -> DMASlice {
        precondition(offset >= 0 && length >= 0 && offset + length <= self.length, "slice outside the DMA buffer")
        return DMASlice(address: address + offset, iova: iova + offset, length: length)
    }

    /// The whole buffer as a view.
    @inlinable
    public var whole: DMASlice { DMASlice(address: address, iova: iova, length: length) }
}

/// A non-owning view of mapped memory: address, IOVA and length. Valid only while the owning
/// `DMABuffer` lives; the driver keeps the owner borrowed for the I/O's duration.
@frozen
public struct DMASlice: @unchecked Sendable {
    public let address: UnsafeMutableRawPointer
    public let iova: IOVA
    public let length: Int

    @inlinable
    public init(address: UnsafeMutableRawPointer, iova: IOVA, length: Int) {
        self.address = address
        self.iova = iova
        self.length = length
    }

    @inlinable
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: address, count: length) }

    @inlinable
    public func slice(offset: Int, length: Int) -> DMASlice {
        precondition(offset >= 0 && length >= 0 && offset + length <= self.length, "slice outside the DMA slice")
        return DMASlice(address: address + offset, iova: iova + offset, length: length)
    }
}
