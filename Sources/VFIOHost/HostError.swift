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

/// Every failure of host administration (discovery, binding, setup), with the object it concerns.
///
/// `description` is one line: the cause, then after the last `; ` the fix (`remedy`). The fix names
/// no `vfioctl` command; the tool replaces it with its own where it has one.
public enum HostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A failure the VFIO layer names (no such device, no IOMMU group, group not viable, a system
    /// call, permission).
    case vfio(VFIOError)
    /// The host uses the function (a mounted filesystem, swap, a holder, a process, data on its
    /// disk, an up interface, SR-IOV functions): binding it away would take that away. Overridden
    /// only by an explicit force.
    case deviceInUse(PCIAddress, uses: [DeviceUse])
    /// vfio-pci cannot take the function whatever the host does (a bridge).
    case notBindable(PCIAddress, reason: String)
    /// The function cannot be checked yet (binding from udev, before its driver has shown its
    /// disks or interfaces), so it is left to its kernel driver.
    case cannotCheckYet(PCIAddress, reason: String)
    /// The kernel did not move the function to the expected driver; the previous binding was restored.
    case bindFailed(PCIAddress, expected: String, actual: String?)

    /// What went wrong, without the fix.
    public var cause: String {
        switch self {
        case .vfio(let error):
            return Self.splitAtFix(error.description).cause
        case .deviceInUse(let a, let uses):
            return "refusing to touch \(a): \(uses.map(\.description).joined(separator: "; "))"
        case .notBindable(let a, let reason):
            return "refusing to bind \(a): it is \(reason)"
        case .cannotCheckYet(let a, let reason):
            return "not binding \(a) from udev: \(reason)"
        case .bindFailed(let a, let expected, let actual):
            return "\(a) did not bind to \(expected) (now \(actual ?? "no driver")); the previous driver was restored"
        }
    }

    /// What to do about it, naming no `vfioctl` command.
    public var remedy: String {
        switch self {
        case .vfio(let error):
            return Self.splitAtFix(error.description).fix ?? ""
        case .deviceInUse(_, let uses):
            return DeviceUse.remedies(of: uses) + ", or force the binding if you are sure"
        case .notBindable:
            return "bind the endpoint functions behind it instead"
        case .cannotCheckYet:
            return "it stays with its kernel driver: bind it once that driver has brought it up"
        case .bindFailed:
            return "see dmesg"
        }
    }

    public var description: String {
        let fix = remedy
        return fix.isEmpty ? cause : "\(cause); \(fix)"
    }

    /// A one-line message split at its last `; `: the cause, and the fix after it (nil when there
    /// is no `; `). Every message of VFIO and VFIOHost ends with its fix (docs/errors.md).
    public static func splitAtFix(_ message: String) -> (cause: String, fix: String?) {
        let bytes = Array(message.utf8)
        var index = bytes.count - 2
        while index >= 0, !(bytes[index] == UInt8(ascii: ";") && bytes[index + 1] == UInt8(ascii: " ")) { index -= 1 }
        guard index >= 0 else { return (message, nil) }
        return (String(decoding: bytes[..<index], as: UTF8.self), String(decoding: bytes[(index + 2)...], as: UTF8.self))
    }
}
