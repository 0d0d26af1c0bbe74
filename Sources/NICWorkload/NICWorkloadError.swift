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

import NIC
import VFIO

/// Why a NIC workload could not run, or what its figures show went wrong.
public enum NICWorkloadError: Error, Sendable, CustomStringConvertible {
    case nic(NICError)
    /// A queue or peer thread could not be started.
    case vfio(VFIOError)
    /// The link did not come up in time.
    case linkDown(device: String, waitedMilliseconds: Int)
    /// The run ended short of its goal or the other end of the wire saw wrong frames: the
    /// sentence says what was wanted and what happened.
    case shortfall(String)

    public var description: String {
        switch self {
        case .nic(let error): return error.description
        case .vfio(let error): return error.description
        case .linkDown(let device, let ms):
            return "\(device): link is down after \(ms) ms; check the cable (QEMU: `set_link NETDEV on` in the monitor) or wait longer for it"
        case .shortfall(let what): return what
        }
    }
}

extension E1000E {
    /// Waits for the link (bring-up already waited a second) or fails with the fix.
    @usableFromInline
    func requireLink(timeoutMilliseconds: Int) throws(NICWorkloadError) {
        guard waitForLink(timeoutMilliseconds: timeoutMilliseconds).isUp else {
            throw .linkDown(device: device.name, waitedMilliseconds: timeoutMilliseconds)
        }
    }
}
