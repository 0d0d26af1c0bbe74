import DriverScenarios
import VFIO

/// One hardware-in-the-loop check: a name (stable: CI and the guest script key on it) and a body
/// that passes, skips with a reason, or throws to fail (`ScenarioFailure` from `expect`, or the
/// driver's own error).
///
/// Checks live in tables (`vfioChecks` in VFIOChecks.swift, `nvmeChecks` in NVMeChecks.swift);
/// another layer adds its own table in its own file and lists it in `checkTables` in main.swift.
/// Each check opens what it needs and releases it before returning, so one failure does not
/// cascade into the next.
struct HILCheck: Sendable {
    let name: String
    /// What it proves, for `--list`.
    let summary: String
    let body: @Sendable (HILContext) throws -> ScenarioOutcome

    init(_ name: String, _ summary: String, _ body: @escaping @Sendable (HILContext) throws -> ScenarioOutcome) {
        self.name = name
        self.summary = summary
        self.body = body
    }
}

/// What every check gets: the device under test and the facts the guest script passes in the
/// environment (HIL_CONTROLLER, HIL_SERIAL, HIL_NAMESPACES, ...; see scripts/hil-test.sh).
struct HILContext: Sendable {
    let address: PCIAddress
    let environment: [String: String]
    /// Logs go to stderr; stdout carries result lines and `# ` figures for the results file.
    let log: @Sendable (String) -> Void
}
