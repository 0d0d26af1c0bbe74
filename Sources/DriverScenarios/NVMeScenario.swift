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

import VFIO

/// A driver scenario of the NVMe layer: a behaviour the driver must show on any NVMe controller,
/// written once and run on two devices (see `NVMeTarget`). A type per scenario, because a
/// scenario is generic over the device and a stored closure cannot be.
///
/// A scenario throws (`ScenarioFailure` for a failed expectation, or the driver's error) to fail.
/// `Sendable` so that its metatype can be captured by a check that runs it.
public protocol NVMeScenario: Sendable {
    /// Stable name: CI, the HIL results and the tests key on it.
    static var name: String { get }
    /// What it proves, for `vfio-hil --list`.
    static var summary: String { get }
    static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome
}

/// Every NVMe scenario, in the order vfio-hil runs them.
public enum NVMeScenarios {
    public static var all: [any NVMeScenario.Type] {
        [
            BringUpIdentifies.self, ShutdownAndBringUpAgain.self, PollMode.self, InterruptMode.self,
            HybridMode.self, QueuePairsUpToTheGrant.self, PRPListsAndSplitRequests.self, LBAOutOfRange.self,
            AdminLogsAndFeatures.self, ResetWithReadsOutstanding.self, AERNamespaceAttachDetach.self, SharedVectorInterrupt.self, SharedVectorHybrid.self,
            ControllerMemoryBufferQueues.self, SGLRoundTrip.self, SplitRequestsOverMDTS.self,
        ]
    }

    public static var names: [String] { all.map { $0.name } }

    public static func named(_ name: String) -> (any NVMeScenario.Type)? {
        all.first { $0.name == name }
    }
}
