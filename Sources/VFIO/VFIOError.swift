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

#if canImport(Glibc)
import Glibc
#endif

/// Every failure of the VFIO layer, with the errno and the object it concerns.
///
/// `description` is one line that names the cause and then, after the last `; `, the fix, because
/// it is what a user reads on stderr. The fix names no command of `vfioctl`: a library user has
/// none; the tool replaces that last clause with its own command where it has one.
public enum VFIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `/dev/vfio/vfio` is missing: the vfio-pci module is not loaded.
    case vfioNotLoaded
    /// Opening a VFIO node failed for lack of permission.
    case permissionDenied(path: String)
    /// A PCI address string did not parse.
    case invalidAddress(String, reason: String)
    /// No PCI function at this address.
    case noSuchDevice(PCIAddress)
    /// The function is bound to another driver (or none) instead of vfio-pci.
    case notBoundToVFIO(PCIAddress, driver: String?)
    /// The function has no IOMMU group: the IOMMU is off (`intel_iommu=on` / `amd_iommu=on`).
    case noIOMMU(PCIAddress)
    /// The group holds other devices that are not bound to vfio-pci (or pci-stub), so the IOMMU
    /// cannot isolate it. `others` lists "BDF (driver)".
    case groupNotViable(group: Int, others: [String])
    /// A mapping would exceed RLIMIT_MEMLOCK (bytes).
    case memlockTooLow(current: UInt64, needed: UInt64)
    /// 2 MiB hugepages were required but none are reserved.
    case noHugepages
    /// The IOVA space (or the kernel's `dma_avail` mapping count) is exhausted.
    case iovaExhausted(requested: Int)
    /// A region index, offset or length is outside what the device reported.
    case outOfRange(what: String, value: UInt64, limit: UInt64)
    /// The device does not offer this interrupt type, or not that many vectors.
    case interruptsUnavailable(kind: String, requested: Int, available: Int)
    /// An emulated DMA access touched an IOVA that was not mapped.
    case dmaFault(iova: UInt64, length: Int)
    /// A wait ran out of time.
    case timedOut(what: String, milliseconds: Int)
    /// A system call failed; `operation` names the call and its object.
    case system(operation: String, errno: Int32)
    /// The device reported something impossible (untrusted input failed a check).
    case deviceMisbehaved(String)
    /// No-IOMMU mode is needed but was not explicitly allowed.
    case noIOMMUModeNotAllowed
    /// The group's node is already open: another process (or another container in this one)
    /// holds the IOMMU group, and VFIO lets one owner have it at a time.
    case groupBusy(group: Int)
    /// A region (BAR) cannot be mapped: I/O port BAR, unimplemented, or vfio-pci refused mmap.
    case regionNotMappable(index: Int, reason: String)
    /// The VFIO backend asked for (`container` or `iommufd`) cannot be used here; `reason` names
    /// what is missing and the fix.
    case backendUnavailable(kind: String, reason: String)
    /// No-IOMMU DMA could not get pinned, physically contiguous memory or its physical address.
    case physicalMemory(String)

    public var description: String {
        switch self {
        case .vfioNotLoaded:
            return "/dev/vfio/vfio is missing: the vfio-pci module is not loaded; load it: modprobe vfio-pci"
        case .permissionDenied(let path):
            return "permission denied opening \(path); install udev/60-vfio.rules and add yourself to the vfio group, or run as root"
        case .invalidAddress(let text, let reason):
            return "'\(text)' is not a PCI address (\(reason)); expected DDDD:BB:DD.F or BB:DD.F, e.g. 0000:01:00.0"
        case .noSuchDevice(let a):
            return "no PCI device at \(a); check the address against /sys/bus/pci/devices (lspci -D lists them)"
        case .notBoundToVFIO(let a, let driver):
            let current = driver.map { "bound to \($0)" } ?? "bound to no driver"
            return "\(a) is \(current), not vfio-pci; bind it to vfio-pci first (driver_override, then drivers_probe)"
        case .noIOMMU(let a):
            return "\(a) has no IOMMU group: the IOMMU is off; boot with intel_iommu=on (or amd_iommu=on) iommu=pt, or opt in to no-IOMMU mode (unsafe)"
        case .groupNotViable(let group, let others):
            return "IOMMU group \(group) is not viable: \(others.joined(separator: ", ")) must be bound to vfio-pci too or unbound; bind each of them to vfio-pci"
        case .memlockTooLow(let current, let needed):
            return "RLIMIT_MEMLOCK is \(Self.bytes(current)) but DMA mappings need \(Self.bytes(needed)); raise it: ulimit -l unlimited (or memlock in /etc/security/limits.conf)"
        case .noHugepages:
            return "no 2 MiB hugepages are reserved; reserve some: echo 512 > /proc/sys/vm/nr_hugepages"
        case .iovaExhausted(let requested):
            return "no free IOVA range (or DMA mapping slot) for \(requested) bytes; release DMA buffers or raise vfio_iommu_type1 dma_entry_limit"
        case .outOfRange(let what, let value, let limit):
            return "\(what) \(value) is out of range (limit \(limit))"
        case .interruptsUnavailable(let kind, let requested, let available):
            return "device offers \(available) \(kind) vectors, \(requested) requested; use fewer queues or another interrupt type"
        case .dmaFault(let iova, let length):
            return "DMA fault: \(length) bytes at IOVA 0x\(String(iova, radix: 16)) are not mapped"
        case .timedOut(let what, let ms):
            return "timed out after \(ms) ms waiting for \(what)"
        case .system(let operation, let errno):
            return "\(operation) failed: \(Self.errnoText(errno)) (errno \(errno))"
        case .deviceMisbehaved(let what):
            return "device misbehaved: \(what); reset it or check the hardware"
        case .noIOMMUModeNotAllowed:
            return "only no-IOMMU VFIO is available; it gives the device unrestricted DMA: opt in explicitly (allowNoIOMMU) if you accept that"
        case .groupBusy(let group):
            return "IOMMU group \(group) is already open (/dev/vfio/\(group) is busy: another process, or another container in this one); find the holder with fuser -v /dev/vfio/\(group)"
        case .regionNotMappable(let index, let reason):
            return "region \(index) cannot be mapped: \(reason); use another BAR or read/write it through the device fd"
        case .backendUnavailable(let kind, let reason):
            return "the \(kind) VFIO backend cannot be used: \(reason)"
        case .physicalMemory(let reason):
            return "no-IOMMU DMA: \(reason)"
        }
    }

    /// The errno of a failed system call (`.system`), for callers that wrap it in their own error.
    public var errno: Int32? {
        if case .system(_, let errno) = self { return errno }
        return nil
    }

    /// The errno text from strerror, without Foundation.
    public static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "unknown error" }
        return String(cString: text)
    }

    static func bytes(_ n: UInt64) -> String {
        if n == UInt64.max { return "unlimited" }
        if n >= 1 << 30 { return "\(n >> 30) GiB" }
        if n >= 1 << 20 { return "\(n >> 20) MiB" }
        if n >= 1 << 10 { return "\(n >> 10) KiB" }
        return "\(n) B"
    }
}
