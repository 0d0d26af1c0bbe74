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

/// How a poll loop spends an empty check: the first `spinsBeforePause` empty checks in a row spin
/// without the pause hint, the ones after pause (`Barrier.cpuPause`).
///
/// The pause hint spares power and an SMT sibling, but costs a poll loop latency where a check is
/// cheap: about 140 cycles per empty check on recent Intel cores, a VM exit under KVM's pause-loop
/// exiting, and under QEMU's TCG an exit from the translated-code loop on every spin (poll mode
/// with the hint ran at 0.8x the IOPS of the same build without it, docs/performance.md). A short
/// wait, the common case at low queue depth, therefore spins freely; a long one pauses.
@frozen
public struct SpinPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Empty checks in a row made without the pause hint; every later one pauses.
    public let spinsBeforePause: UInt32

    @inlinable
    public init(spinsBeforePause: UInt32) { self.spinsBeforePause = spinsBeforePause }

    /// 4096 free spins (a few microseconds on bare metal, hundreds under TCG: most of one QD1 I/O
    /// of a real or emulated drive), then pause.
    @inlinable public static var `default`: SpinPolicy { SpinPolicy(spinsBeforePause: 4096) }
    /// Pause on every empty check (the loops' behaviour before the policy existed).
    @inlinable public static var alwaysPause: SpinPolicy { SpinPolicy(spinsBeforePause: 0) }
    /// Never pause (libvfn's and SPDK's poll loops): lowest latency, a busy core.
    @inlinable public static var neverPause: SpinPolicy { SpinPolicy(spinsBeforePause: .max) }

    public var description: String {
        switch spinsBeforePause {
        case 0: return "pause"
        case .max: return "no pause"
        default: return "\(spinsBeforePause) spins, then pause"
        }
    }
}

/// One wait's application of a `SpinPolicy`: counts empty checks in a row (saturating at the
/// policy's bound, so a long wait never wraps back to spinning freely) and pauses past it.
@frozen
public struct Spinner: Sendable {
    public let policy: SpinPolicy
    @usableFromInline var count: UInt32 = 0

    /// Empty checks in a row so far, at most `policy.spinsBeforePause`.
    @inlinable public var emptyChecks: UInt32 { count }

    @inlinable
    public init(_ policy: SpinPolicy) { self.policy = policy }

    /// After a check that found nothing: counts it, or pauses once the free spins are used up.
    /// Returns whether it paused.
    @inlinable @inline(__always) @discardableResult
    public mutating func empty() -> Bool {
        if count < policy.spinsBeforePause {
            count &+= 1
            return false
        }
        Barrier.cpuPause()
        return true
    }

    /// After a check that found work: the next empty check spins freely again.
    @inlinable @inline(__always)
    public mutating func found() { count = 0 }
}
