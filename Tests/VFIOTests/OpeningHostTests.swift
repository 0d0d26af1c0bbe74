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
import VFIOTestSupport
@testable import VFIO

/// Opening this machine's own functions through VFIO, read-only: it fails before touching
/// anything, with the error that names the first obstacle, and every binding stays as it was.
@Suite struct OpeningHostTests {
    static let devices = "/sys/bus/pci/devices"
    static var addresses: [PCIAddress] { Sysfs.listDirectory(devices).compactMap { try? PCIAddress(parsing: $0) } }

    /// The error is the first obstacle (no IOMMU group, then the foreign driver); sysfs is read
    /// directly here, not through the library.
    @Test(.enabled(if: !addresses.isEmpty, "no PCI devices in /sys"))
    func openingAHostFunctionFailsCleanlyWithTheUsefulError() throws {
        for address in Self.addresses {
            let driver = linkBasename("\(Self.devices)/\(address)/driver")
            guard driver != "vfio-pci" else { continue }
            let group = linkBasename("\(Self.devices)/\(address)/iommu_group")
            let expected: VFIOError = group == nil ? .noIOMMU(address) : .notBoundToVFIO(address, driver: driver)
            #expect(throws: expected) { try VFIODevice(address: address) }
            #expect(linkBasename("\(Self.devices)/\(address)/driver") == driver)
        }
    }

    @Test(.enabled(if: !pathExists("/dev/vfio/vfio"), "/dev/vfio/vfio exists here"))
    func containerWithoutTheVFIOModuleSaysToLoadIt() {
        #expect(throws: VFIOError.vfioNotLoaded) { try VFIOContainer() }
    }
}
