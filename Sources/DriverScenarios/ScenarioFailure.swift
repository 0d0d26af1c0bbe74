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

/// A driver scenario's failed expectation: the reason printed after `FAIL name:` by vfio-hil, and
/// the error a test of the emulated device fails with.
public struct ScenarioFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How a scenario ended when it did not fail: it passed, or it does not apply to this device
/// (the reason says why, e.g. the controller grants too few queue pairs).
public enum ScenarioOutcome: Sendable, Equatable {
    case pass
    case skip(String)
}

/// Throws a `ScenarioFailure` with `reason` unless `condition` holds.
public func expect(_ condition: Bool, _ reason: @autoclosure () -> String) throws(ScenarioFailure) {
    if !condition { throw ScenarioFailure(reason()) }
}

/// `0x` and the value in hexadecimal, for messages about registers.
public func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }
