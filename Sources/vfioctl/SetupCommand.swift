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

import ArgumentParser
import VFIO
import VFIOHost

/// `vfioctl setup`: prepare a host for VFIO (module, hugepages) and report what still blocks it.
struct Setup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load vfio-pci, reserve hugepages, and report the IOMMU state and memlock limit.")

    @Option(help: "Reserve this many 2 MiB hugepages for DMA buffers.")
    var hugepages: Int?

    @Flag(help: "Only report; change nothing.")
    var check = false

    func run() throws {
        try reportingErrors {
            let host = HostSetup()
            // Validate every option before changing anything, so a typo leaves the host as it was.
            if let hugepages, hugepages < 0 { throw ValidationFailure("--hugepages must be 0 or more (got \(hugepages))") }
            if !check {
                try host.loadVFIOModule()
                if let hugepages {
                    let got = try host.reserveHugepages(hugepages)
                    if got < hugepages {
                        printError("vfioctl: only \(got) of \(hugepages) hugepages could be reserved (memory is fragmented); try again early after boot")
                    }
                }
            }
            let r = host.report()
            print("vfio-pci module:   \(r.vfioModuleLoaded ? "loaded" : "not loaded (run: vfioctl setup)")")
            print("/dev/vfio/vfio:    \(r.vfioDeviceNodePresent ? "present" : "missing")")
            let iommu = r.iommuUnits > 0 ? "on (\(r.iommuUnits) units, \(r.iommuGroups) groups)" : "off: boot with intel_iommu=on (or amd_iommu=on)"
            print("IOMMU:             \(iommu)\(r.iommuCommandLine.isEmpty ? "" : "  [" + r.iommuCommandLine.joined(separator: " ") + "]")")
            for offer in VFIOBackendSupport().offers() {
                let label = "VFIO \(offer.kind.rawValue):"
                let state = offer.unusableReason.map { "not usable: \($0)" } ?? "usable"
                print(label + String(repeating: " ", count: max(1, 19 - label.count)) + state)
            }
            if r.noIOMMUModeEnabled { print("WARNING:           vfio no-IOMMU mode is enabled: devices can DMA anywhere in memory") }
            print("hugepages (2 MiB): \(r.hugepagesTotal) reserved, \(r.hugepagesFree) free")
            let memlock = r.memlockSoft == UInt64.max ? "unlimited" : "\(r.memlockSoft >> 10) KiB"
            print("memlock limit:     \(memlock)\(r.memlockSoft != UInt64.max && r.memlockSoft < 64 << 20 ? " (low: DMA buffers are pinned; raise with ulimit -l unlimited)" : "")")
        }
    }
}
