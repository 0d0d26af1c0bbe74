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

import CShims

/// CPU and compiler barriers, named as in Linux (`asm/barrier.h`).
///
/// The driver protocol uses them at exactly two points: `write()` between building an entry in
/// DMA memory and the doorbell store that hands it to the device, and `dmaRead()` between seeing a
/// completion's phase tag and reading the rest of it.
public enum Barrier {
    /// `wmb()`: earlier stores (to DMA memory) are visible to the device before later ones (MMIO).
    @inlinable @inline(__always)
    public static func write() { shim_wmb() }

    /// `rmb()`: earlier loads complete before later loads, MMIO included.
    @inlinable @inline(__always)
    public static func read() { shim_rmb() }

    /// `mb()`: full barrier for loads and stores.
    @inlinable @inline(__always)
    public static func full() { shim_mb() }

    /// `dma_rmb()`: orders two loads from coherent DMA memory (phase tag, then the entry).
    @inlinable @inline(__always)
    public static func dmaRead() { shim_dma_rmb() }

    /// `dma_wmb()`: orders two stores to coherent DMA memory.
    @inlinable @inline(__always)
    public static func dmaWrite() { shim_dma_wmb() }

    /// Stops the compiler, not the CPU, from moving memory accesses across this point.
    @inlinable @inline(__always)
    public static func compiler() { shim_compiler_barrier() }

    /// The spin-wait hint (`pause` on x86-64, `yield` on arm64), used while polling a phase bit.
    @inlinable @inline(__always)
    public static func cpuPause() { shim_cpu_pause() }
}
