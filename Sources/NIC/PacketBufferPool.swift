import VFIO

/// Preallocated packet buffers, 2 KiB each, carved from one DMA mapping, with a stack of free
/// indices (ixy's mempool, Linux's page pool in spirit).
///
/// `allocate()` and `free(_:)` are a pop and a push on arrays made at creation: no allocation, no
/// lock, no reference counting per packet. A queue owns its pool (`~Copyable`, one thread). The
/// queue takes a buffer back only after the device has written back DD for the descriptor that
/// referenced it, so memory the device may still read or write is never handed out twice;
/// `free` traps on a double free, which would break that rule.
public struct PacketBufferPool: ~Copyable {
    /// Bytes per buffer: RCTL.BSIZE 2048 (BSEX clear), enough for a 1522-byte frame.
    public static let bufferSize = 2048

    /// Buffers in the pool.
    public let capacity: Int
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let baseIOVA: UInt64
    @usableFromInline let freeStack: UnsafeMutablePointer<Int32>
    @usableFromInline var freeCount: Int
    /// One byte per buffer: 1 while handed out. Catches double frees and frees of buffers never
    /// allocated, either of which could give the device's memory to someone else.
    @usableFromInline let inUse: UnsafeMutablePointer<UInt8>
    let memory: DMABuffer

    /// Maps `count` buffers in one allocation.
    public init(allocator: DMAAllocator, count: Int) throws(VFIOError) {
        precondition(count > 0 && count < Int(Int32.max))
        memory = try allocator.allocate(length: count * Self.bufferSize, alignment: 4096)
        base = memory.address
        baseIOVA = memory.iova.rawValue
        capacity = count
        freeStack = .allocate(capacity: count)
        inUse = .allocate(capacity: count)
        inUse.initialize(repeating: 0, count: count)
        // Lowest index on top, so a fresh pool hands out buffers in address order.
        for i in 0..<count { freeStack[i] = Int32(count - 1 - i) }
        freeCount = count
    }

    deinit {
        freeStack.deallocate()
        inUse.deallocate()
    }

    /// Buffers not handed out.
    @inlinable public var available: Int { freeCount }

    /// Takes a free buffer's index, or nil when every buffer is in use (backpressure).
    @inlinable @inline(__always)
    public mutating func allocate() -> Int? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        let index = Int(freeStack[freeCount])
        inUse[index] = 1
        return index
    }

    /// Gives a buffer back. Only once the device is done with it (its descriptor's DD was seen).
    @inlinable @inline(__always)
    public mutating func free(_ index: Int) {
        precondition(index >= 0 && index < capacity && inUse[index] == 1, "packet buffer freed twice or never allocated")
        inUse[index] = 0
        freeStack[freeCount] = Int32(truncatingIfNeeded: index)
        freeCount &+= 1
    }

    /// Whether a buffer is handed out (for tests and assertions).
    @inlinable public func isInUse(_ index: Int) -> Bool {
        precondition(index >= 0 && index < capacity)
        return inUse[index] == 1
    }

    /// CPU address of a buffer.
    @inlinable @inline(__always)
    public func address(of index: Int) -> UnsafeMutableRawPointer { base + index &* Self.bufferSize }

    /// Device address (IOVA) of a buffer.
    @inlinable @inline(__always)
    public func iova(of index: Int) -> UInt64 { baseIOVA &+ UInt64(index &* Self.bufferSize) }

    /// The buffer index an IOVA falls in, or nil when it lies outside the pool.
    @inlinable public func index(ofIOVA iova: UInt64) -> Int? {
        guard iova >= baseIOVA else { return nil }
        let offset = iova &- baseIOVA
        guard offset < UInt64(capacity &* Self.bufferSize) else { return nil }
        return Int(offset) / Self.bufferSize
    }
}
