import VFIO

/// One hardware-in-the-loop check: a name (stable: CI and the guest script key on it) and a body
/// that passes, fails with a reason, or skips with a reason.
///
/// Checks live in tables (`vfioChecks` in VFIOChecks.swift); another layer adds its own table in
/// its own file and lists it in `checkTables` in main.swift. Each check opens what it needs and
/// releases it before returning, so one failure does not cascade into the next.
struct HILCheck: Sendable {
    let name: String
    /// What it proves, for `--list`.
    let summary: String
    let body: @Sendable (HILContext) throws -> HILOutcome

    init(_ name: String, _ summary: String, _ body: @escaping @Sendable (HILContext) throws -> HILOutcome) {
        self.name = name
        self.summary = summary
        self.body = body
    }
}

enum HILOutcome: Sendable {
    case pass
    case fail(String)
    case skip(String)
}

/// A failed expectation, with the reason printed after `FAIL name:`.
struct HILFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What every check gets: the device under test and the facts the guest script passes in the
/// environment (HIL_CONTROLLER, HIL_SERIAL, HIL_NAMESPACES, ...; see scripts/hil-test.sh).
struct HILContext: Sendable {
    let address: PCIAddress
    let environment: [String: String]
    /// Logs go to stderr; stdout carries only result lines.
    let log: @Sendable (String) -> Void
}

/// Throws a `HILFailure` with `reason` unless `condition` holds.
func expect(_ condition: Bool, _ reason: @autoclosure () -> String) throws {
    if !condition { throw HILFailure(reason()) }
}

func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }
