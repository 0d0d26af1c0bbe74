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

/// Interrupt coalescing (NVMe base 1.4, 5.21.1.8-9): fewer interrupts for more latency. The
/// emulated controller's tests measure the effect (one message per threshold instead of one per
/// completion); QEMU 7.2 ignores the feature.
extension Controller {
    /// Interrupt Coalescing (FID 08h): the aggregation threshold and time in effect.
    public func interruptCoalescing() throws(NVMeError) -> InterruptCoalescing {
        InterruptCoalescing(dword: try feature(.interruptCoalescing))
    }

    /// Sets Interrupt Coalescing (FID 08h): the controller raises an I/O CQ's interrupt after
    /// `aggregationThreshold` completions or `aggregationTime` x 100 µs, whichever comes first,
    /// for every vector whose coalescing is not disabled (FID 09h). Fewer interrupts, more latency.
    public func setInterruptCoalescing(_ coalescing: InterruptCoalescing) throws(NVMeError) {
        try setFeature(.interruptCoalescing, value: coalescing.dword)
    }

    /// Interrupt Vector Configuration (FID 09h): CDW11.IV bits 15:0, CD bit 16 (coalescing disable).
    public func setInterruptCoalescing(enabled: Bool, vector: Int) throws(NVMeError) {
        guard vector >= 0, vector < max(1, interruptVectors) else {
            throw .invalidArgument("vector \(vector) is not enabled (0..<\(interruptVectors))")
        }
        try setFeature(.interruptVectorConfiguration, value: UInt32(vector) | (enabled ? 0 : 1 << 16))
    }
}
