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

import Synchronization
import VFIO

/// The shadow doorbell and event index buffers of Doorbell Buffer Config (NVMe base 1.3, 5.7;
/// admin opcode 7Ch; Linux `nvme_dbbuf_dma_alloc`, `nvme_dbbuf_set`), laid out like the doorbell
/// registers: queue q's SQ tail at 2q strides, its CQ head one stride further (a stride is
/// 4 << CAP.DSTRD bytes).
///
/// Used for the I/O queues when Identify Controller OACS bit 8 advertises the command, unless
/// `ControllerOptions.shadowDoorbells` is off. The admin queue keeps writing its MMIO doorbells
/// only, as in Linux: admin commands are rare. The pages belong to the controller and go with
/// it, after it is disabled; like all DMA memory they stay mapped if that cannot be proven.
final class DoorbellBuffers: @unchecked Sendable {
    let shadowDoorbells: DMABuffer
    let eventIndexes: DMABuffer
    /// Bytes between two doorbells (4 << CAP.DSTRD).
    let strideBytes: Int
    /// Set when the controller refused the command after a reset: event indexes stay beyond
    /// every ring (`requireMMIOWrites`), also for queues created later.
    let mmioOnly = Atomic<Bool>(false)

    /// Pages for queues 0...`highestQueueID` at `stride` (CAP.DSTRD), zeroed.
    init(highestQueueID: Int, stride: Int, allocator: DMAAllocator) throws(NVMeError) {
        strideBytes = 4 << stride
        let length = max(PRPBuilder.pageSize, (2 * highestQueueID + 2) * strideBytes)
        shadowDoorbells = try allocator.allocateForNVMe(length: length)
        eventIndexes = try allocator.allocateForNVMe(length: length)
    }

    /// The Doorbell Buffer Config command for these pages.
    var command: SubmissionQueueEntry {
        .doorbellBufferConfig(shadowDoorbells: shadowDoorbells.iova.rawValue, eventIndexes: eventIndexes.iova.rawValue)
    }

    /// Queue `id`'s shadow doorbells, or nil if its entries lie beyond the pages.
    func shadows(queue id: UInt16) -> (submission: ShadowDoorbell, completion: ShadowDoorbell)? {
        let sq = 2 * Int(id) * strideBytes, cq = sq + strideBytes
        guard cq + 4 <= shadowDoorbells.length else { return nil }
        return (
            ShadowDoorbell(value: shadowDoorbells.address + sq, eventIndex: eventIndexes.address + sq),
            ShadowDoorbell(value: shadowDoorbells.address + cq, eventIndex: eventIndexes.address + cq))
    }

    /// Zeroes queue `id`'s four words before its queues are created (again): the controller
    /// takes the shadow tail of a new SQ as written, so a value left from an earlier queue with
    /// the same id would make it fetch entries that were never written.
    func clear(queue id: UInt16) {
        guard let entries = shadows(queue: id) else { return }
        let event: UInt32 = mmioOnly.load(ordering: .acquiring) ? .max : 0
        for shadow in [entries.submission, entries.completion] {
            DMAWord.storeRelease32(shadow.value, 0)
            DMAWord.storeRelease32(shadow.eventIndex, event)
        }
    }

    /// Both pages back to zero, before the command is sent (again, after a controller reset).
    func clearAll() {
        shadowDoorbells.bytes.initializeMemory(as: UInt8.self, repeating: 0)
        eventIndexes.bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// Every event index set beyond any ring, so every update writes the MMIO doorbell too
    /// (`ShadowDoorbell.needsEvent` does not trust an index outside the ring): how queue pairs
    /// keep working when a controller refuses the command after a reset, having taken it before.
    func requireMMIOWrites() {
        mmioOnly.store(true, ordering: .releasing)
        eventIndexes.bytes.initializeMemory(as: UInt8.self, repeating: 0xFF)
    }
}

extension Controller {
    /// Whether the I/O queues use shadow doorbells (Doorbell Buffer Config): the controller
    /// advertises it, `ControllerOptions.shadowDoorbells` is on, and it took the command.
    public var usesShadowDoorbells: Bool {
        guard let doorbellBuffers else { return false }
        return !doorbellBuffers.mmioOnly.load(ordering: .acquiring)
    }

    /// At bring-up, after Number of Queues: the buffers, given to the controller, or nil when it
    /// does not advertise the command (OACS bit 8), the option is off, or it refuses (logged).
    static func configureDoorbellBuffers(
        admin: inout AdminQueue, device: Device, registers: MMIORegion, identity: IdentifyController,
        doorbells: DoorbellStride, queuePairs: Int, options: ControllerOptions
    ) throws(NVMeError) -> DoorbellBuffers? {
        guard options.shadowDoorbells, identity.oacs.contains(.doorbellBufferConfig) else { return nil }
        let buffers = try DoorbellBuffers(highestQueueID: queuePairs, stride: doorbells.exponent, allocator: device.dma)
        do {
            try admin.execute(
                buffers.command, data: nil, name: "Doorbell Buffer Config", device: device, registers: registers,
                timeoutMilliseconds: options.adminTimeoutMilliseconds)
        } catch {
            guard case .commandFailed = error else { throw error }
            options.logger.notice("NVMe \(device.name): shadow doorbells not used: \(error)")
            return nil
        }
        options.logger.debug("NVMe \(device.name): I/O queues use shadow doorbells (Doorbell Buffer Config)")
        return buffers
    }

    /// After a controller reset, which made the controller forget the buffers (7.3.2): both pages
    /// zeroed (no queue exists yet) and the command sent again. A controller that now refuses it
    /// keeps working with MMIO doorbells only; a timeout fails the reset like any admin command.
    func reconfigureDoorbellBuffers(_ queue: inout AdminQueue) throws(NVMeError) {
        guard let doorbellBuffers, !doorbellBuffers.mmioOnly.load(ordering: .acquiring) else { return }
        doorbellBuffers.clearAll()
        do {
            try queue.execute(
                doorbellBuffers.command, data: nil, name: "Doorbell Buffer Config after reset", device: device,
                registers: registers, timeoutMilliseconds: options.adminTimeoutMilliseconds)
        } catch {
            guard case .commandFailed = error else { throw error }
            logger.warning("NVMe \(device.name): Doorbell Buffer Config refused after the reset (\(error)); MMIO doorbells only from now on")
            doorbellBuffers.requireMMIOWrites()
        }
    }
}
