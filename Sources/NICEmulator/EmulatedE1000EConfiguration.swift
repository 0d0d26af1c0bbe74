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

import E1000ESpec
import NetFrames
import PCIEmulation
import VFIO

/// How an emulated NIC is built.
public struct EmulatedE1000EConfiguration: Sendable {
    /// Where the device does its work: `.stepped` (only inside `service()`, deterministic) or
    /// `.threaded` (its own thread; `service()` does nothing).
    public typealias Mode = EmulationMode

    /// The device's time: interrupt throttling (ITR/EITR) is measured against it.
    public enum Clock: Sendable, Hashable {
        /// CLOCK_MONOTONIC.
        case monotonic
        /// Starts at zero and moves only with `EmulatedE1000E.advanceClock(nanoseconds:)`, so
        /// throttling tests are exact. Stepped mode only.
        case manual
    }

    public var mode: Mode = .stepped
    public var clock: Clock = .monotonic
    /// The permanent address: in the EEPROM (words 0-2) and loaded into RAL0/RAH0 at reset.
    public var macAddress = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
    /// A cable is plugged in (the PHY sees a link partner). STATUS.LU also needs CTRL.SLU.
    public var cableConnected = true
    /// Frames waiting on the wire side before the device takes them; more are dropped and
    /// counted in `NICEmulatorStatistics.framesDroppedAtInbox`.
    public var inboxLimit = 4096
    /// A name for messages.
    public var name = "emulated e1000e"
    public var faultPlan = NICFaultPlan.none

    public init(mode: Mode = .stepped, clock: Clock = .monotonic, macAddress: MACAddress = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56),
                cableConnected: Bool = true, faultPlan: NICFaultPlan = .none) {
        self.mode = mode
        self.clock = clock
        self.macAddress = macAddress
        self.cableConnected = cableConnected
        self.faultPlan = faultPlan
    }

    func validationErrors() -> [String] {
        var problems: [String] = []
        if clock == .manual && mode == .threaded { problems.append("a manual clock needs stepped mode") }
        if inboxLimit < 1 { problems.append("inboxLimit must be at least 1") }
        if !macAddress.isValidStationAddress { problems.append("the MAC address \(macAddress) is not a unicast station address") }
        return problems
    }
}

/// Why an emulated NIC could not be created.
public enum NICEmulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidConfiguration([String])
    /// The register window or MSI-X memory could not be mapped.
    case mapping(bytes: Int, errno: Int32)
    /// The device thread could not be started.
    case threadStart(errno: Int32)
    /// Register trapping needs x86-64.
    case unsupportedArchitecture
    /// Register trapping cannot run under ThreadSanitizer (see `EmulatedE1000E.unavailableReason`).
    case underThreadSanitizer

    public var description: String {
        switch self {
        case .invalidConfiguration(let problems):
            return "invalid emulated e1000e configuration: \(problems.joined(separator: "; "))"
        case .mapping(let bytes, let errno):
            return "could not map \(bytes) bytes for the emulated e1000e: \(VFIOError.errnoText(errno)); raise the memory limit"
        case .threadStart(let errno):
            return "could not start the emulated e1000e thread: \(VFIOError.errnoText(errno)); use .stepped mode or raise the thread limit"
        case .unsupportedArchitecture:
            return "the emulated e1000e traps register accesses by decoding x86-64 instructions; run it on x86-64"
        case .underThreadSanitizer:
            return "the emulated e1000e cannot run under ThreadSanitizer (its register trap would fault inside the sanitizer's lock); run it in a build without --sanitize=thread"
        }
    }
}
