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

import Testing
import VFIO

/// Every message names the cause and the fix, because it is what a user reads on stderr.
@Suite struct VFIOErrorTests {
    static let bdf = PCIAddress(bus: 1, device: 0, function: 0)

    static let cases: [(VFIOError, [String])] = [
        (.vfioNotLoaded, ["/dev/vfio/vfio", "modprobe vfio-pci"]),
        (.permissionDenied(path: "/dev/vfio/12"), ["/dev/vfio/12", "udev", "vfio group"]),
        (.invalidAddress("01:00", reason: "missing '.function'"), ["'01:00'", "missing '.function'", "DDDD:BB:DD.F"]),
        (.noSuchDevice(bdf), ["0000:01:00.0", "/sys/bus/pci/devices"]),
        (.notBoundToVFIO(bdf, driver: "nvme"), ["bound to nvme", "not vfio-pci", "bind it to vfio-pci"]),
        (.notBoundToVFIO(bdf, driver: nil), ["bound to no driver", "driver_override"]),
        (.noIOMMU(bdf), ["0000:01:00.0", "no IOMMU group", "intel_iommu=on", "amd_iommu=on"]),
        (.groupNotViable(group: 7, others: ["0000:01:00.1 (snd_hda_intel)"]), ["group 7", "0000:01:00.1 (snd_hda_intel)", "bind each of them to vfio-pci"]),
        (.memlockTooLow(current: 64 << 10, needed: 4 << 20), ["64 KiB", "4 MiB", "ulimit -l", "limits.conf"]),
        (.noHugepages, ["hugepages", "nr_hugepages"]),
        (.iovaExhausted(requested: 4096), ["4096 bytes", "release DMA buffers", "dma_entry_limit"]),
        (.outOfRange(what: "BAR index", value: 7, limit: 5), ["BAR index 7", "limit 5"]),
        (.interruptsUnavailable(kind: "MSI-X", requested: 9, available: 8), ["8 MSI-X", "9 requested", "fewer queues"]),
        (.dmaFault(iova: 0x1000, length: 512), ["0x1000", "512 bytes", "not mapped"]),
        (.timedOut(what: "CSTS.RDY", milliseconds: 500), ["500 ms", "CSTS.RDY"]),
        (.system(operation: "VFIO_IOMMU_MAP_DMA", errno: 12), ["VFIO_IOMMU_MAP_DMA", "Cannot allocate memory", "errno 12"]),
        (.deviceMisbehaved("CQE for unknown command id"), ["CQE for unknown command id", "reset"]),
        (.noIOMMUModeNotAllowed, ["no-IOMMU", "unrestricted DMA", "allowNoIOMMU"]),
        (.groupBusy(group: 12), ["group 12", "already open", "another process", "fuser -v /dev/vfio/12"]),
        (.regionNotMappable(index: 4, reason: "an I/O port BAR"), ["region 4", "I/O port BAR"]),
    ]

    @Test(arguments: cases.indices)
    func descriptionNamesTheCauseAndTheFix(_ index: Int) {
        let (error, fragments) = Self.cases[index]
        for fragment in fragments {
            #expect(error.description.contains(fragment), "\(error.description) lacks '\(fragment)'")
        }
        #expect(!error.description.contains("\n"), "one line")
        #expect(!error.description.contains("vfioctl"), "a library message names no vfioctl command: \(error.description)")
    }

    @Test func memlockMessageSaysUnlimitedForTheUnlimitedLimit() {
        #expect(VFIOError.memlockTooLow(current: .max, needed: 1 << 30).description.contains("unlimited"))
    }
}

@Suite struct IOMMUGroupMemberTests {
    @Test func groupMembersWithDMAOwningDriversBlockViability() {
        let address = PCIAddress(bus: 2, device: 0, function: 0)
        for driver in [nil, "vfio-pci", "pci-stub", "pcieport"] as [String?] {
            #expect(IOMMUGroupMember(address: address, driver: driver).allowsVFIO, "\(driver ?? "none")")
        }
        for driver in ["nvme", "e1000e", "snd_hda_intel", "virtio-pci"] {
            #expect(!IOMMUGroupMember(address: address, driver: driver).allowsVFIO, "\(driver)")
        }
    }
}
