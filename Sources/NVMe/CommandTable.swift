import VFIO

/// What the driver remembers about one outstanding command, indexed by command id (SPDK's
/// `nvme_tracker`, libvfn's `nvme_rq`). Hot fields first: the reaper reads `token` and
/// `inFlight`, the submitter writes the PRP list through `prpList`.
@frozen
public struct CommandTracker {
    /// The caller's completion token, returned with the status.
    public var token: UInt64
    /// This command id's own PRP list page (CPU address), preallocated: never shared, never
    /// reused before this id's completion is consumed.
    public let prpList: UnsafeMutablePointer<UInt64>
    /// The same page's IOVA, for PRP2.
    public let prpListIOVA: UInt64
    /// Submitted and its completion not yet consumed. A CQE naming an id without it is rejected.
    public var inFlight: Bool
    /// Opcode, for reports of timed-out commands.
    public var opcode: UInt8
    /// Monotonic nanoseconds at submission (the queue pair's coarse clock), for timeouts.
    public var submittedAt: UInt64

    @inlinable
    init(prpList: UnsafeMutablePointer<UInt64>, prpListIOVA: UInt64) {
        token = 0
        self.prpList = prpList
        self.prpListIOVA = prpListIOVA
        inFlight = false
        opcode = 0
        submittedAt = 0
    }
}

/// Command ids and their trackers for one submission queue: a preallocated stack of free ids
/// and an array of trackers indexed by id. Pop and push are O(1) with no allocation, no lock and
/// no reference counting. Owned by its queue (not thread-safe, by design).
@frozen @usableFromInline
struct CommandTable {
    @usableFromInline let trackers: UnsafeMutablePointer<CommandTracker>
    @usableFromInline let freeIDs: UnsafeMutablePointer<UInt16>
    @usableFromInline let capacity: Int
    @usableFromInline var freeCount: Int

    /// `capacity` ids (at most 65535: 0xFFFF means "no command" in the error log), each with the
    /// list page `listPages.chunk(id)`.
    init(capacity: Int, listPages: borrowing DMASlab) {
        precondition(capacity > 0 && capacity <= 0xFFFF && capacity <= listPages.capacity)
        self.capacity = capacity
        trackers = .allocate(capacity: capacity)
        freeIDs = .allocate(capacity: capacity)
        for id in 0..<capacity {
            let page = listPages.chunk(id)
            trackers.advanced(by: id).initialize(to: CommandTracker(
                prpList: page.address.bindMemory(to: UInt64.self, capacity: PRPBuilder.entriesPerListPage),
                prpListIOVA: page.iova.rawValue))
            // Lowest ids on top of the stack: the first commands get ids 0, 1, 2, ...
            freeIDs[id] = UInt16(capacity - 1 - id)
        }
        freeCount = capacity
    }

    /// Frees the tables; the owner calls it once, from its `deinit`.
    func deallocate() {
        trackers.deinitialize(count: capacity)
        trackers.deallocate()
        freeIDs.deallocate()
    }

    @inlinable var inFlightCount: Int { capacity - freeCount }

    /// Takes a free id, or nil when all are in flight.
    @inlinable @inline(__always)
    mutating func acquire() -> UInt16? {
        guard freeCount > 0 else { return nil }
        freeCount &-= 1
        return freeIDs[freeCount]
    }

    /// Gives back an id whose completion has been consumed (or that was never submitted).
    @inlinable @inline(__always)
    mutating func release(_ id: UInt16) {
        freeIDs[freeCount] = id
        freeCount &+= 1
    }

    /// Whether `id` (from a CQE: untrusted) names a command in flight.
    @inlinable @inline(__always)
    func isOutstanding(_ id: UInt16) -> Bool {
        Int(id) < capacity && trackers[Int(id)].inFlight
    }
}
