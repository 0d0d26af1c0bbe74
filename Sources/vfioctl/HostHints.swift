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
import NVMe
import VFIO
import VFIOHost

/// The line vfioctl prints for an error. Library messages end with a fix that names no vfioctl
/// command (a library user has none); where the tool has a command for it, the fix is replaced by
/// that command. A device VFIO cannot open is described: what it is, which driver holds it, what
/// of the host it carries, and what would be needed.
func toolMessage(for error: any Error) -> String {
    if let host = error as? HostError { return toolMessage(for: host) }
    if let vfio = underlyingVFIOError(error) { return toolMessage(for: vfio) ?? "\(error)" }
    return driverMessage(for: error) ?? "\(error)"
}

/// The VFIOError inside a driver's or the host layer's error, if that is what it is.
func underlyingVFIOError(_ error: any Error) -> VFIOError? {
    switch error {
    case let vfio as VFIOError: return vfio
    case NVMeError.vfio(let vfio): return vfio
    case NICError.vfio(let vfio): return vfio
    case HostError.vfio(let vfio): return vfio
    default: return nil
    }
}

func toolMessage(for error: HostError) -> String {
    switch error {
    case .vfio(let vfio):
        return toolMessage(for: vfio) ?? error.description
    case .deviceInUse(_, let uses):
        return "\(error.cause); \(DeviceUse.remedies(of: uses)), or pass --force if you are sure"
    case .cannotCheckYet(let address, _):
        return "\(error.cause); it stays with its kernel driver: once that driver is up, run: vfioctl bind \(address)"
    case .notBindable, .bindFailed:
        return error.description
    }
}

/// nil where the library's own fix stands.
func toolMessage(for error: VFIOError) -> String? {
    let cause = HostError.splitAtFix(error.description).cause
    switch error {
    case .vfioNotLoaded:
        return "\(cause); run: vfioctl setup (it loads vfio-pci)"
    case .noSuchDevice:
        return "\(cause); run: vfioctl list"
    case .notBoundToVFIO(let address, _):
        return explainUnopenable(address, error: error) ?? "\(cause); run: vfioctl bind \(address)"
    case .noIOMMU(let address):
        return explainUnopenable(address, error: error) ?? error.description
    case .groupNotViable(_, let others):
        let addresses = others.compactMap { $0.split(separator: " ").first.map(String.init) }
        return "\(cause); run: vfioctl bind \(addresses.joined(separator: " "))"
    case .noHugepages:
        return "\(cause); run: vfioctl setup --hugepages 512"
    case .noIOMMUModeNotAllowed:
        return "\(cause); pass --allow-noiommu if you accept that"
    default:
        return nil
    }
}

/// "0000:00:02.0 is a Mass storage controller [1af4:1001] (...) driven by virtio-pci, and it
/// backs / (/dev/vda, ext4); VFIO cannot take it: the IOMMU is off; it would need: the IOMMU on
/// (...), the host to stop using it (unmount it), then vfioctl bind 0000:00:02.0". nil when the
/// function cannot be read (the plain message stands).
func explainUnopenable(_ address: PCIAddress, error: VFIOError) -> String? {
    let discovery = HostRoots.discovery
    guard let info = try? discovery.function(at: address) else { return nil }
    let verdict = discovery.verdict(for: info)
    var text = "\(address) is \(info.identity) \(info.driver.map { "driven by \($0)" } ?? "with no driver")"
    let uses = verdict.uses
    let root = uses.first { if case .mountedFilesystem(_, "/", _) = $0 { true } else { false } }
    let backsRoot = root != nil
    if case .mountedFilesystem(let device, _, let type)? = root {
        text += ", and it backs / (/dev/\(device), \(type))"
        if uses.count > 1 { text += " and more (\(uses.count - 1) other uses)" }
    } else if !uses.isEmpty {
        text += ", and the host uses it: " + uses.map(\.description).joined(separator: ", ")
    }
    switch error {
    case .noIOMMU: text += "; VFIO cannot take it: the IOMMU is off (no IOMMU group)"
    default: text += "; VFIO cannot take it: it is not bound to vfio-pci"
    }
    var needs: [String] = []
    for obstacle in verdict.obstacles {
        switch obstacle {
        case .notBindable(let reason):
            return text + "; it cannot be used through VFIO at all: it is \(reason)"
        case .noIOMMUGroup:
            needs.append("the IOMMU on (boot with intel_iommu=on or amd_iommu=on, and iommu=pt)")
        case .groupShared(let group, let others):
            needs.append("the other functions of IOMMU group \(group) (\(others.map(\.address.description).joined(separator: ", "))) bound to vfio-pci too")
        case .notBoundToVFIO, .inUse:
            continue
        }
    }
    if backsRoot {
        needs.append("the host to stop using it (it holds /: boot from another disk)")
    } else if !uses.isEmpty {
        needs.append("the host to stop using it (\(DeviceUse.remedies(of: uses)))")
    }
    if info.driver != "vfio-pci" { needs.append("then vfioctl bind \(address)") }
    return needs.isEmpty ? text : text + "; it would need: " + needs.joined(separator: ", ")
}
