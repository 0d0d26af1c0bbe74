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

/// How a command's data is described to the controller: PRPs (NVMe base 1.4, 4.3) or SGLs (4.4).
///
/// SGLs describe any dword-aligned buffer with one descriptor per piece, so one command can carry
/// a scattered (iovec) request, and a contiguous buffer of any size is one Data Block in the
/// command itself, with no list page. PRPs work on every controller but want page-aligned pieces.
///
/// `.automatic` does what Linux does (`sgl_threshold`, 32 KiB): on a controller with SGLs, a
/// scattered request and a contiguous one above `sglThreshold` go as SGLs, smaller contiguous ones
/// as PRPs, which for one or two pages are just PRP1 and PRP2 and the cheapest path the driver has
/// (186 instructions per 4 KiB read; forcing an SGL costs an out-of-line call: docs/performance.md).
public enum DataPointerPolicy: Sendable, Equatable {
    /// On a controller with SGLs (Identify Controller SGLS): SGLs for scattered requests and for
    /// contiguous ones above `sglThreshold`, PRPs below. PRPs only elsewhere.
    case automatic
    /// PRPs always (a scattered request must then be page aligned between its pieces).
    case prp
    /// SGLs always: opening a controller or setting it on a queue pair without SGL support fails.
    case sgl

    /// The contiguous transfer size above which `.automatic` sends SGLs (Linux's default).
    public static let sglThreshold = 32 << 10

    /// The largest contiguous transfer sent with PRPs (`QueuePair.prpLimit`): -1 when every data
    /// transfer is an SGL, the transfer limit when none is.
    func prpLimit(usesSGL: Bool, maximumTransferBytes: Int) -> Int {
        guard usesSGL else { return maximumTransferBytes }
        return self == .sgl ? -1 : min(Self.sglThreshold, maximumTransferBytes)
    }

    /// Whether data goes as SGLs under this policy on a controller with `support`, or the error
    /// that says why this policy cannot be used there.
    func usesSGL(_ support: SGLSupport) throws(NVMeError) -> Bool {
        switch self {
        case .automatic: return support.supported
        case .prp: return false
        case .sgl:
            guard support.supported else {
                throw .invalidArgument(
                    "SGLs were asked for, but the controller does not support them (Identify Controller SGLS 0x\(String(support.rawValue, radix: 16))); use the .automatic or .prp data pointer policy")
            }
            return true
        }
    }
}

extension QueuePair {
    /// Whether this pair may describe data with SGLs (scattered requests, and contiguous ones above
    /// `prpTransferLimit`). Set from `ControllerOptions.dataPointers` at creation.
    public var usesSGLs: Bool { usesSGL }

    /// Switches this pair's data pointers, e.g. to force PRPs on one pair of an SGL controller.
    /// Commands in flight keep what they were built with; throws for `.sgl` on a controller
    /// without SGL support, and then changes nothing.
    public mutating func setDataPointers(_ policy: DataPointerPolicy) throws(NVMeError) {
        usesSGL = try policy.usesSGL(controller.identity.sglSupport)
        prpLimit = policy.prpLimit(usesSGL: usesSGL, maximumTransferBytes: maximumTransferBytes)
    }

    /// The largest contiguous transfer this pair sends with PRPs; larger ones go as SGLs when
    /// `usesSGLs` (-1: every one does).
    public var prpTransferLimit: Int { prpLimit }
}
