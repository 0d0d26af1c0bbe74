/// Choices made at controller bring-up.
public struct ControllerOptions: Sendable {
    /// I/O queue pairs to ask for with Set Features Number of Queues; the controller may grant
    /// fewer, and the driver uses what it grants.
    public var ioQueuePairs: Int
    /// Default entries per I/O queue (capped by CAP.MQES + 1). `depth` is one less.
    public var ioQueueEntries: Int
    /// Entries of the admin SQ and CQ (2...4096, capped by CAP.MQES + 1).
    public var adminQueueEntries: Int
    /// Upper bound for one admin command.
    public var adminTimeoutMilliseconds: Int
    /// Upper bound for one I/O command in the blocking and async APIs.
    public var ioTimeoutMilliseconds: Int
    /// Enable MSI-X (one vector for the admin queue and one per I/O queue pair). Without it, only
    /// the poll completion mode is available.
    public var interrupts: Bool

    public init(
        ioQueuePairs: Int = 4, ioQueueEntries: Int = 256, adminQueueEntries: Int = 32,
        adminTimeoutMilliseconds: Int = 10_000, ioTimeoutMilliseconds: Int = 30_000, interrupts: Bool = true
    ) {
        self.ioQueuePairs = ioQueuePairs
        self.ioQueueEntries = ioQueueEntries
        self.adminQueueEntries = adminQueueEntries
        self.adminTimeoutMilliseconds = adminTimeoutMilliseconds
        self.ioTimeoutMilliseconds = ioTimeoutMilliseconds
        self.interrupts = interrupts
    }
}
