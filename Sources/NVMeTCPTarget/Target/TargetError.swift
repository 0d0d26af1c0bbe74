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

/// Why a target could not start or serve; each `description` names the cause and the fix.
public enum TargetError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidConfiguration([String])
    case noNamespaceToExport
    case namespaceNotExportable(UInt32, available: [UInt32])
    /// A socket call failed: the call (with its address) and errno.
    case socket(String, errno: Int32)
    case badListenAddress(String)
    /// The backend controller failed under the target (its error, as the driver describes it).
    case backend(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let problems):
            "invalid target configuration: " + problems.joined(separator: "; ")
        case .noNamespaceToExport:
            "the controller has no namespace without metadata to export; format one with ms=0 or use another controller"
        case .namespaceNotExportable(let id, let available):
            "namespace \(id) cannot be exported (missing, detached, or formatted with metadata); exportable: \(available.map(String.init).joined(separator: ", "))"
        case .socket(let call, let errno):
            "\(call) failed: \(VFIOError.errnoText(errno))"
        case .badListenAddress(let text):
            "listen address '\(text)' is not IPv4ADDRESS:PORT; give e.g. 127.0.0.1:4420"
        case .backend(let what):
            "the backend NVMe controller failed: \(what); check the device (vfioctl nvme identify) and restart the target"
        }
    }
}
