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

import NVMeSpec

/// Which namespaces are attached to the emulated controller, their current sizes, and the
/// namespaces changed since the host last read the Changed Namespace List (NVMe base 1.4, 5.14.1.4
/// and 5.23): what a driver's asynchronous event handling and rescan are tested against.
///
/// Every namespace of the configuration exists in the subsystem (NSIDs 1...NN); a detached one is
/// an allocated, inactive NSID, as QEMU's `detached=on` namespaces are.
struct NamespaceAttachmentState {
    /// NSIDs not attached to this controller (deleted ones included).
    var detached: Set<UInt32> = []
    /// NSIDs deleted by Namespace Management: no namespace behind them until a create.
    var unallocated: Set<UInt32> = []
    /// Current NSZE of resized namespaces, by NSID (at most the configured capacity).
    var resizedBlocks: [UInt32: UInt64] = [:]
    /// Changed NSIDs in order, each once, until a Get Log Page 04h with RAE clear.
    var changed: [UInt32] = []
    /// More than 1024 changed: the page reports FFFFFFFFh.
    var changedOverflowed = false
}

extension ControllerEngine {
    /// The controller's CNTLID (Identify Controller), the one a Controller List must name.
    static let controllerID: UInt16 = 1

    /// Whether `nsid` is a valid NSID (1...NN): allocated or not, attached or not.
    func isValidNamespaceID(_ nsid: UInt32) -> Bool { nsid >= 1 && nsid <= UInt32(namespaces.count) }

    /// Whether a namespace exists behind `nsid` (valid and not deleted).
    func isAllocatedNamespace(_ nsid: UInt32) -> Bool { isValidNamespaceID(nsid) && !attachment.unallocated.contains(nsid) }

    /// NSZE of the namespace at `index` now.
    func namespaceBlocks(_ index: Int) -> UInt64 {
        attachment.resizedBlocks[UInt32(index + 1)] ?? configuration.namespaces[index].capacityInBlocks
    }

    /// The status for a command naming an NSID that is not active: an allocated but detached
    /// NSID is Invalid Field in Command (NVMe base 1.4, 6.1.5, as QEMU answers), any other
    /// Invalid Namespace or Format.
    func inactiveNamespaceStatus(_ nsid: UInt32) -> NVMeStatus {
        isValidNamespaceID(nsid) ? .invalidFieldInCommand.withDoNotRetry() : .invalidNamespaceOrFormat.withDoNotRetry()
    }

    /// Records that `nsid`'s Identify Namespace data changed and, when the list was empty (no
    /// notice outstanding for it), queues a Namespace Attribute Changed notice (type 2, info 00h,
    /// log page 04h).
    mutating func noteNamespaceChanged(_ nsid: UInt32, notify: Bool = true) {
        let wasEmpty = attachment.changed.isEmpty && !attachment.changedOverflowed
        if !attachment.changed.contains(nsid) {
            if attachment.changed.count < ChangedNamespaceList.capacity {
                attachment.changed.append(nsid)
            } else {
                attachment.changedOverflowed = true
            }
        }
        if wasEmpty && notify {
            events.append(AsynchronousEvent(type: 2, info: 0, logPage: LogPageIdentifier.changedNamespaceList.rawValue))
        }
    }

    /// Changed Namespace List page; a read with RAE clear empties it.
    mutating func changedNamespaceListPage(clear: Bool) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: ChangedNamespaceList.encodedSize)
        encode(ChangedNamespaceList(namespaceIDs: attachment.changedOverflowed ? [] : attachment.changed,
                                    overflowed: attachment.changedOverflowed), into: &data)
        if clear {
            attachment.changed.removeAll()
            attachment.changedOverflowed = false
        }
        return data
    }

    /// Namespace Attachment (NVMe base 1.4, 5.23), checked in QEMU's order: a valid NSID of the
    /// subsystem, a SEL of attach or detach, a Controller List that names this controller only,
    /// then the namespace's current state.
    mutating func namespaceAttachment(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let nsid = sqe.namespaceID
        guard isAllocatedNamespace(nsid) else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        guard let select = NamespaceAttachmentSelect(rawValue: sqe.namespaceSelect) else {
            return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        var raw = [UInt8](repeating: 0, count: ControllerList.encodedSize)
        let copied = raw.withUnsafeMutableBytes { copyFromHost(sqe, into: $0) }
        guard copied.isSuccess else { return CommandOutcome(status: copied) }
        let list: ControllerList
        do {
            list = try raw.withUnsafeBytes { try ControllerList(bytes: $0) }
        } catch {
            return CommandOutcome(status: .controllerListInvalid.withDoNotRetry())
        }
        guard !list.controllerIDs.isEmpty, list.controllerIDs.allSatisfy({ $0 == Self.controllerID }) else {
            return CommandOutcome(status: .controllerListInvalid.withDoNotRetry())
        }
        switch select {
        case .attach:
            guard attachment.detached.contains(nsid) else { return CommandOutcome(status: .namespaceAlreadyAttached.withDoNotRetry()) }
            attachment.detached.remove(nsid)
        case .detach:
            guard !attachment.detached.contains(nsid) else { return CommandOutcome(status: .namespaceNotAttached.withDoNotRetry()) }
            attachment.detached.insert(nsid)
        }
        noteNamespaceChanged(nsid)
        return CommandOutcome(status: .success, bytes: raw.count)
    }
}

extension ControllerEngine {
    /// Namespace Management (NVMe base 1.4, 5.22). The emulated subsystem has a fixed pool of
    /// NSIDs, one per configured namespace, each with its configured block size and largest size:
    /// delete frees an NSID (its blocks read as zeroes afterwards), create takes the lowest free
    /// one that is large enough, in LBA format 0, detached. Thin provisioning (NCAP below NSZE)
    /// is refused.
    mutating func namespaceManagement(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        switch NamespaceManagementSelect(rawValue: sqe.namespaceSelect) {
        case .create: return createNamespace(sqe)
        case .delete: return deleteNamespace(sqe.namespaceID)
        case nil: return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
    }

    mutating func createNamespace(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        var raw = [UInt8](repeating: 0, count: IdentifyNamespace.encodedSize)
        let copied = raw.withUnsafeMutableBytes { copyFromHost(sqe, into: $0) }
        guard copied.isSuccess else { return CommandOutcome(status: copied) }
        // Host data: NSZE (bytes 7:0), NCAP (15:8), FLBAS (26), read as raw fields.
        let (size, capacity, flbas) = raw.withUnsafeBytes { bytes in
            (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
             bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian, bytes[26])
        }
        guard size >= 1, capacity >= 1, capacity <= size else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        guard capacity == size else { return CommandOutcome(status: .thinProvisioningNotSupported.withDoNotRetry()) }
        guard flbas == 0 else { return CommandOutcome(status: .invalidFormat.withDoNotRetry()) }
        let free = attachment.unallocated.sorted()
        guard !free.isEmpty else { return CommandOutcome(status: .namespaceIdentifierUnavailable.withDoNotRetry()) }
        guard let nsid = free.first(where: { size <= configuration.namespaces[Int($0) - 1].capacityInBlocks }) else {
            return CommandOutcome(status: .namespaceInsufficientCapacity.withDoNotRetry())
        }
        attachment.unallocated.remove(nsid)
        attachment.detached.insert(nsid)
        attachment.resizedBlocks[nsid] = size
        return CommandOutcome(status: .success, result: nsid, bytes: raw.count)
    }

    mutating func deleteNamespace(_ nsid: UInt32) -> CommandOutcome {
        guard isAllocatedNamespace(nsid) else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        let index = Int(nsid) - 1
        let namespace = configuration.namespaces[index]
        let dataZeroed = namespaces[index].zero(at: 0, length: namespace.capacityInBlocks * UInt64(namespace.blockSize))
        let metadataZeroed = metadataStores.indices.contains(index)
            ? metadataStores[index]?.zero(at: 0, length: namespace.capacityInBlocks * UInt64(namespace.metadataSize)) ?? true : true
        guard dataZeroed && metadataZeroed else { return CommandOutcome(status: .internalError) }
        // Deleting an attached namespace changes what this controller sees (5.22).
        if !attachment.detached.contains(nsid) { noteNamespaceChanged(nsid) }
        attachment.detached.insert(nsid)
        attachment.unallocated.insert(nsid)
        attachment.resizedBlocks[nsid] = nil
        return .success
    }
}

extension EmulatedNVMeController {
    /// Attaches or detaches namespace `nsid` as another host of the subsystem would (or as QEMU's
    /// `detached=on` starts it): with `notify`, the controller reports a Namespace Attribute
    /// Changed event. False for an NSID that is not one of the configured namespaces.
    @discardableResult
    public func setNamespaceAttached(_ nsid: UInt32, _ attached: Bool, notify: Bool = true) -> Bool {
        core.withEngine { e in
            guard e.isAllocatedNamespace(nsid) else { return false }
            let changed = attached ? e.attachment.detached.remove(nsid) != nil : e.attachment.detached.insert(nsid).inserted
            if changed && notify { e.noteNamespaceChanged(nsid) }
            return true
        }
    }

    /// Changes namespace `nsid`'s size (NSZE = NCAP) to `blocks`, 1 up to its configured capacity
    /// (the backing storage is sized for that), and reports a Namespace Attribute Changed event.
    /// False for an unknown NSID or a size out of range.
    @discardableResult
    public func resizeNamespace(_ nsid: UInt32, blocks: UInt64) -> Bool {
        core.withEngine { e in
            guard e.isValidNamespaceID(nsid), blocks >= 1, blocks <= e.configuration.namespaces[Int(nsid) - 1].capacityInBlocks else {
                return false
            }
            e.attachment.resizedBlocks[nsid] = blocks
            e.noteNamespaceChanged(nsid)
            return true
        }
    }

    /// Sets the SMART / Health Critical Warning the health log reports and, for a warning newly
    /// set, raises a SMART / Health event (type 1; information 00h reliability, 01h temperature,
    /// 02h spare below threshold; log page 02h).
    public func setCriticalWarning(_ warning: SMARTHealthLog.CriticalWarning) {
        core.withEngine { e in
            let added = warning.rawValue & ~e.criticalWarning
            e.criticalWarning = warning.rawValue
            guard added != 0 else { return }
            let info: UInt8 = added & 0x1 != 0 ? 0x02 : added & 0x2 != 0 ? 0x01 : 0x00
            e.events.append(AsynchronousEvent(type: 1, info: info, logPage: LogPageIdentifier.smartHealth.rawValue))
        }
    }

    /// NSIDs attached to the controller now.
    public var attachedNamespaces: [UInt32] {
        core.withEngine { e in (1...UInt32(e.namespaces.count)).filter { !e.attachment.detached.contains($0) } }
    }
}
