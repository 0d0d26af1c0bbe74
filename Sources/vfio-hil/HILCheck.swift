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

    /// The backend this run must use (HIL_VFIO_BACKEND: container or iommufd), or nil for the
    /// automatic choice; a boot that offers both runs vfio-hil once per backend.
    var requiredBackend: VFIOBackendKind? { environment["HIL_VFIO_BACKEND"].flatMap(VFIOBackendKind.init(rawValue:)) }

    /// HIL_NOIOMMU=1: the boot has no IOMMU and VFIO runs in no-IOMMU mode, so the checks opt in
    /// (`allowNoIOMMU`) and expect physical addresses instead of IOMMU mappings.
    var expectsNoIOMMU: Bool { environment["HIL_NOIOMMU"] == "1" }

    /// Every check opens its devices with these, so that the whole run goes through one backend.
    var deviceOptions: VFIODevice.Options {
        VFIODevice.Options(allowNoIOMMU: expectsNoIOMMU,
                           vfioBackend: requiredBackend.flatMap { VFIOBackendPreference(rawValue: $0.rawValue) } ?? .automatic)
    }

    /// The function under test, opened through the backend this run asks for.
    func openDevice() throws(VFIOError) -> VFIODevice {
        try VFIODevice(address: address, options: deviceOptions)
    }
}
