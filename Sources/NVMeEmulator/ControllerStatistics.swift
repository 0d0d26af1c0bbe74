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

/// Counters for one opcode.
public struct OpcodeStatistics: Sendable, Hashable {
    /// Commands fetched and executed (or failed).
    public var commands = 0
    /// Of those, completed with a status other than success.
    public var failures = 0
    /// Data bytes moved between host memory and the controller.
    public var bytesTransferred: UInt64 = 0

    public init() {}
}

/// What the emulated controller has done, for tests and benchmarks.
public struct ControllerStatistics: Sendable, Hashable {
    /// Admin commands by opcode.
    public var admin: [UInt8: OpcodeStatistics] = [:]
    /// I/O commands by opcode.
    public var io: [UInt8: OpcodeStatistics] = [:]
    /// Completion queue entries written (duplicates and corrupted ones included).
    public var completionsPosted = 0
    /// Times a completion had to wait because its CQ was full (NVMe base 1.4, 4.1: the
    /// controller must not overrun the head).
    public var completionQueueFullStalls = 0
    /// Interrupt messages sent to an eventfd.
    public var interruptsSignalled = 0
    /// Interrupts held pending because their vector was masked (delivered on unmask).
    public var interruptsHeldMasked = 0
    /// New doorbell values seen.
    public var doorbellWrites = 0
    /// Doorbell writes that broke the rules (NVMe base 1.4, 4.1, Asynchronous Event "Invalid
    /// Doorbell Write Value" or "Write to Invalid Doorbell Register").
    public var invalidDoorbellWrites = 0
    /// Transfers whose data pointer was an SGL, and the SGL segments read from host memory for
    /// them (0 for a Data Block in the command itself): how tests see which form the driver chose.
    public var sglTransfers = 0
    public var sglSegmentsRead = 0

    public init() {}

    public func admin(_ opcode: UInt8) -> OpcodeStatistics { admin[opcode] ?? OpcodeStatistics() }
    public func io(_ opcode: UInt8) -> OpcodeStatistics { io[opcode] ?? OpcodeStatistics() }
}

/// The engine's counters: fixed arrays indexed by opcode, so counting costs no hashing.
struct StatisticsCounters {
    var admin = [OpcodeStatistics](repeating: OpcodeStatistics(), count: 256)
    var io = [OpcodeStatistics](repeating: OpcodeStatistics(), count: 256)
    var totals = ControllerStatistics()

    mutating func count(admin isAdmin: Bool, opcode: UInt8, failed: Bool, bytes: Int) {
        let i = Int(opcode)
        if isAdmin {
            admin[i].commands += 1
            if failed { admin[i].failures += 1 }
            admin[i].bytesTransferred += UInt64(bytes)
        } else {
            io[i].commands += 1
            if failed { io[i].failures += 1 }
            io[i].bytesTransferred += UInt64(bytes)
        }
    }

    var snapshot: ControllerStatistics {
        var s = totals
        for i in 0..<256 {
            if admin[i].commands > 0 { s.admin[UInt8(i)] = admin[i] }
            if io[i].commands > 0 { s.io[UInt8(i)] = io[i] }
        }
        return s
    }
}
