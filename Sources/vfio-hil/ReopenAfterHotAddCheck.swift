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
import Logging
import NVMe
import VFIO
import VFIOHost

/// Issue 17's hot-add as a long-running program lives it: one process drives the controller,
/// loses it to a hot-remove, learns of its return from `PCIWatcher`, and drives the new function
/// without restarting, reading back through our driver every write the old one acknowledged.
/// The host side (scripts/hil/hotplug.sh, hotplug-nvme/reopen-in-process) unplugs the function
/// once I/O runs, plugs it back and hands it to vfio-pci (`vfioctl bind`), as the opt-in udev
/// rule would. Environment: as `nvme-hot-remove-writer` (HIL_HOTPLUG_MODE, HIL_HOTPLUG_READY,
/// HIL_HOTPLUG_ACKED), and HIL_HOTPLUG_SECONDS for how long each step may take (120 by default).
let reopenAfterHotAddCheck = HILCheck(
    "nvme-reopen-after-hot-add",
    "writes until the function is removed and released, waits with PCIWatcher for it to come back on vfio-pci, then in the same process opens it again and reads back every acknowledged write"
) { context in
    let setup = try HotRemoveSetup(context.environment)
    // Started before the first open: only later changes are reported, the removal included.
    var watcher = PCIWatcher()
    var writer = HotRemoveWriter()
    let options = ControllerOptions(ioQueuePairs: 1, ioQueueEntries: 32, logger: Logger(label: "vfio-hil.reopen"))
    do {
        let device = try context.openDevice()
        let controller = try Controller(device: device, options: options)
        try writer.run(controller, setup)
        try? controller.close()
    }
    try expect(writer.error == .deviceRemoved, "the writer ended with \(writer.error.map { "\($0)" } ?? "no error") instead of deviceRemoved")
    try writer.writeList(setup)

    // The function leaves sysfs, then a new one appears at the same address.
    let deadline = Deadline(milliseconds: setup.seconds * 1000)
    var removed = false
    var returned = false
    while !returned && !deadline.hasPassed {
        for change in watcher.waitForChanges(timeoutMilliseconds: 1000, intervalMilliseconds: 50) where change.address == context.address {
            switch change {
            case .removed: removed = true
            case .added: returned = removed
            }
        }
    }
    try expect(returned, "PCIWatcher saw \(removed ? "the removal but not the return" : "no removal") of \(context.address) within \(setup.seconds) s")
    let node = PCISysfsNode(address: context.address)
    while node.driver != "vfio-pci" && !deadline.hasPassed { usleep(50_000) }
    try expect(node.driver == "vfio-pci", "the re-added \(context.address) is bound to \(node.driver ?? "no driver"), not vfio-pci, \(setup.seconds) s after the removal")

    // The same process takes the new function and reads what the old one acknowledged.
    let device = try context.openDevice()
    let controller = try Controller(device: device, options: options)
    let namespace = try controller.namespace(1)
    let blocks = HotRemoveWriter.bytesPerWrite / writer.blockSize
    let buffer = try device.dma.allocate(length: HotRemoveWriter.bytesPerWrite)
    var bad: [UInt64] = []
    for lba in writer.acknowledged.sorted() {
        try namespace.read(lba: lba, blocks: blocks, into: buffer.whole, mode: setup.mode)
        for k in 0..<blocks {
            let expected = hotRemovePattern(mode: setup.modeName, lba: lba + UInt64(k), blockSize: writer.blockSize)
            let same = expected.withUnsafeBytes { memcmp($0.baseAddress!, buffer.bytes.baseAddress!.advanced(by: k * writer.blockSize), writer.blockSize) == 0 }
            if !same {
                bad.append(lba)
                break
            }
        }
    }
    try? controller.close()
    resultInfo("\(setup.modeName): reopened \(context.address) in the same process; \(writer.acknowledged.count) acknowledged writes read back through our driver")
    try expect(!writer.acknowledged.isEmpty, "no write was acknowledged before the removal")
    try expect(bad.isEmpty, "\(bad.count) of \(writer.acknowledged.count) acknowledged writes differ on the re-added function, first at LBA \(bad.first ?? 0)")
    return .pass
}
