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
import Testing
import VFIO

/// Tests that need a real function bound to vfio-pci (inside the HIL VM). Set
/// VFIO_TEST_DEVICE=BDF to run them; vfio-hil runs the same ground in the VM.
@Suite(.enabled(if: environmentValue("VFIO_TEST_DEVICE") != nil, "set VFIO_TEST_DEVICE=BDF of a function bound to vfio-pci (runs in the HIL VM)"))
struct RealDeviceTests {
    var address: PCIAddress { get throws { try PCIAddress(parsing: environmentValue("VFIO_TEST_DEVICE") ?? "") } }

    @Test func opensAndReadsConfigIdentity() throws {
        let device = try VFIODevice(address: try address)
        let node = PCISysfsNode(address: try address)
        let vendor = Sysfs.readText("\(node.path)/vendor").flatMap { UInt16($0.dropFirst(2), radix: 16) }
        let deviceID = Sysfs.readText("\(node.path)/device").flatMap { UInt16($0.dropFirst(2), radix: 16) }
        #expect(try device.readConfig16(at: 0) == vendor)
        #expect(try device.readConfig16(at: 2) == deviceID)
        #expect(device.regions.count >= 9)
    }

    @Test func mapsBAR0() throws {
        let device = try VFIODevice(address: try address)
        let bar0 = try device.region(bar: 0)
        #expect(bar0.length >= 4096)
        #expect(bar0.load32(at: 0) != UInt32.max)
    }

    @Test func mapsAndUnmapsDMA() throws {
        let device = try VFIODevice(address: try address)
        do {
            let buffer = try device.dma.allocate(length: 1 << 20)
            #expect(device.dma.mapper.iovaRanges.contains { $0.contains(buffer.iova.rawValue) })
        }
        #expect(device.dma.liveMappings == 0)
    }

    @Test func loopbackSignalsTheVectorsEventFD() throws {
        let device = try VFIODevice(address: try address)
        try #require(device.interruptCount(.msix) > 0)
        try device.enableInterrupts(.msix, count: 1)
        let fd = try #require(device.interruptEventFD(vector: 0))
        try device.triggerInterruptLoopback(vector: 0)
        var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        #expect(Glibc.poll(&poll, 1, 2000) == 1)
        try device.disableInterrupts()
    }

    @Test func reopensAfterRelease() throws {
        for _ in 0..<2 { _ = try VFIODevice(address: try address) }
    }
}
