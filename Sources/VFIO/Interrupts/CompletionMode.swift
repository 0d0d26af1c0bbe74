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

/// How a thread waits for completions on its queue (an NVMe CQ, a NIC's RX/TX ring).
///
/// Shared by every driver on this framework, so a user picks the mode the same way for a disk
/// and a NIC.
///
/// - `poll`: spin on the CQ's phase tag; the first `spin.spinsBeforePause` empty checks of a wait
///   without the CPU's pause hint, the later ones with it (`SpinPolicy`). Lowest latency, one core
///   busy.
/// - `interrupt`: sleep on the CQ's MSI-X eventfd; the "top half" (the kernel's, or the emulated
///   device's, eventfd signal) only wakes the thread, whose "bottom half" reaps and drains.
/// - `hybrid`: NAPI style (Linux `napi_schedule`/`napi_complete_done`): an interrupt wakes the
///   reaper, which masks the vector and polls until the CQ has stayed empty for `idlePolls`
///   consecutive polls, then unmasks, drains the eventfd, checks the CQ once more (closing the race
///   with a completion that arrived while masked), and sleeps again.
@frozen
public struct CompletionMode: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case poll
        case interrupt
        case hybrid
    }

    public let kind: Kind
    /// Hybrid only: consecutive empty polls (each a `pause`, ~40 ns to ~140 ns) before re-arming.
    public let idlePolls: Int
    /// Poll only: how an empty check spends its time (`SpinPolicy.default`: 4096 free spins, then
    /// the pause hint). Hybrid mode's polling phase pauses on every empty check: its budget
    /// `idlePolls` is counted in pauses.
    public let spin: SpinPolicy

    @usableFromInline
    init(kind: Kind, idlePolls: Int, spin: SpinPolicy = .default) {
        self.kind = kind
        self.idlePolls = idlePolls
        self.spin = spin
    }

    // Computed and inlinable rather than stored: a stored `static let` is reached through a
    // lazily initialised global's addressor, a call on every wait that names `.poll` (5
    // instructions per QD1 I/O in bench.sh's swift-qd1-wait); this folds to constants.
    @inlinable public static var poll: CompletionMode { CompletionMode(kind: .poll, idlePolls: 0) }

    /// Poll with a chosen spin policy (`.alwaysPause` is the loop before the policy existed).
    @inlinable public static func poll(spin: SpinPolicy) -> CompletionMode {
        CompletionMode(kind: .poll, idlePolls: 0, spin: spin)
    }
    @inlinable public static var interrupt: CompletionMode { CompletionMode(kind: .interrupt, idlePolls: 0) }
    /// Hybrid with a budget of 2000 empty polls (tens of microseconds) before sleeping again.
    @inlinable public static var hybrid: CompletionMode { CompletionMode(kind: .hybrid, idlePolls: 2000) }

    /// Hybrid with a chosen polling budget.
    @inlinable public static func hybrid(idlePolls: Int) -> CompletionMode {
        CompletionMode(kind: .hybrid, idlePolls: max(1, idlePolls))
    }

    /// Whether the mode needs the queue pair's MSI-X vector.
    @inlinable public var usesInterrupts: Bool { kind != .poll }

    public var description: String {
        switch kind {
        case .poll: return spin == .default ? "poll" : "poll(spin: \(spin))"
        case .interrupt: return "interrupt"
        case .hybrid: return idlePolls == CompletionMode.hybrid.idlePolls ? "hybrid" : "hybrid(idlePolls: \(idlePolls))"
        }
    }
}
