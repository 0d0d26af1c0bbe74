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
import DriverScenarios
import NVMe
import VFIO

/// Checks of the NVMe driver against QEMU's controller through vfio-pci: every driver scenario of
/// DriverScenarios (the ones the emulated controller's tests run, unchanged, here on a real VFIO
/// device with a real IOMMU and real MSI-X), then the two checks that need the host: the pattern
/// it wrote before boot, and blocks left for the kernel's driver to read after.
let nvmeChecks: [HILCheck] = NVMeScenarios.all.map { scenario in
    HILCheck(scenario.name, scenario.summary) { context in try scenario.run(nvmeTarget(context)) }
} + [
    HILCheck("nvme-read-host-pattern", "reads the blocks the host wrote at HIL_PATTERN_LBA of every namespace and compares them byte for byte") { context in
        guard let dir = context.environment["HIL_PATTERN_DIR"], let lbaText = context.environment["HIL_PATTERN_LBA"],
              let lba = UInt64(lbaText), let countText = context.environment["HIL_PATTERN_BLOCKS"], let blocks = Int(countText)
        else { return .skip("no HIL_PATTERN_DIR/LBA/BLOCKS") }
        let rig = try NVMeScenarioRig(nvmeTarget(context))
        var checked = 0
        for info in rig.controller.namespaces {
            guard let expected = readWholeFile("\(dir)/pattern-ns\(info.id).bin") else { continue }
            let ns = try rig.controller.namespace(info.id)
            let buffer = try rig.device.dma.allocate(length: blocks * info.blockSize + 4096)
            // From a mid-page offset, to read through PRP1 with an offset.
            let slice = buffer.slice(offset: 512, length: blocks * info.blockSize)
            try ns.read(lba: lba, blocks: blocks, into: slice)
            try expect(expected.count == slice.length, "pattern-ns\(info.id).bin has \(expected.count) bytes, read \(slice.length)")
            try expect(slice.bytes.elementsEqual(expected), "namespace \(info.id): blocks at \(lba) differ from what the host wrote")
            checked += 1
        }
        try rig.controller.close()
        return checked == 0 ? .skip("no pattern files in \(dir)") : .pass
    },

    HILCheck("nvme-write-handoff", "writes a pattern through our driver and leaves it in HIL_HANDOFF_DIR for the kernel driver to read back") { context in
        guard let dir = context.environment["HIL_HANDOFF_DIR"] else { return .skip("no HIL_HANDOFF_DIR") }
        let rig = try NVMeScenarioRig(nvmeTarget(context))
        for info in rig.controller.namespaces {
            let ns = try rig.controller.namespace(info.id)
            let blocks = max(1, 32768 / info.blockSize)
            let lba = info.blockCount / 2 + 77
            let buffer = try rig.device.dma.allocate(length: blocks * info.blockSize)
            fillPattern(buffer.whole, seed: UInt64(info.id) &* 0x9E37 &+ lba)
            try ns.write(lba: lba, blocks: blocks, from: buffer.whole)
            try ns.flush()
            let written = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<(blocks * info.blockSize)])
            try expect(writeWholeFile("\(dir)/ns\(info.id)-lba\(lba).bin", written), "cannot write \(dir)/ns\(info.id)-lba\(lba).bin")
        }
        try rig.controller.close()
        return .pass
    },
]

/// The controller under test as the scenarios see it: a fresh `VFIODevice` per opening, and the
/// facts the host configured QEMU with (HIL_SERIAL, HIL_MDTS, HIL_MAX_IOQPAIRS, HIL_NAMESPACES).
func nvmeTarget(_ context: HILContext) -> NVMeTarget<VFIODevice> {
    let environment = context.environment
    let facts = NVMeFacts(
        serialNumber: environment["HIL_SERIAL"],
        maximumDataTransferSize: environment["HIL_MDTS"].flatMap { Int($0) },
        maximumQueuePairs: environment["HIL_MAX_IOQPAIRS"].flatMap { Int($0) },
        namespaces: (environment["HIL_NAMESPACES"] ?? "").split(separator: " ").compactMap { NamespaceFact(parsing: $0) })
    let address = context.address, options = context.deviceOptions
    return NVMeTarget(facts: facts, log: context.log) { try VFIODevice(address: address, options: options) }
}

func readWholeFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return n == 0 ? result : nil }
        result += chunk[0..<n]
    }
}

func writeWholeFile(_ path: String, _ bytes: UnsafeMutableRawBufferPointer) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return false }
        done += n
    }
    return true
}
