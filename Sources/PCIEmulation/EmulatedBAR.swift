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
#if canImport(Glibc)
import Glibc
#endif

/// Plain memory standing in for a BAR whose registers need no trap (the NVMe controller's BAR0,
/// the e1000e's MSI-X BAR3): anonymous, zeroed and page aligned, as a BAR mapping is; unmapped
/// when the last owner lets go, so a device thread can never touch freed register memory.
public final class EmulatedBAR: Sendable {
    public let region: MMIORegion

    /// Maps `length` bytes (a page multiple).
    public init(length: Int) throws(VFIOError) {
        let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw .system(operation: "mmap of \(length) bytes for an emulated BAR", errno: errno)
        }
        region = MMIORegion(base: p, length: length)
    }

    /// Maps `length` bytes, a failure reported as the emulator's own error, built by `failure`
    /// from the length and errno (each emulator names its fix in its own words).
    public static func map<E: Error>(length: Int, orThrow failure: (_ bytes: Int, _ errno: Int32) -> E) throws(E) -> EmulatedBAR {
        do { return try EmulatedBAR(length: length) } catch { throw failure(length, error.errno ?? 0) }
    }

    deinit { _ = munmap(region.base, region.length) }
}
