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

import VFIO

/// Admin commands for users (NVMe base 1.4, 5). Each takes the admin lock for one command; none
/// is meant for the I/O path.
extension Controller {
    /// Runs any admin command, with an optional data buffer, and returns its CQE. A failing status
    /// is thrown as `.commandFailed(command: name, status:)`.
    ///
    /// With recovery enabled, a command that times out or meets CSTS.CFS resets the controller
    /// (the admin queue is hung or the controller failed) before its error is thrown; the command
    /// itself is not retried, since admin commands need not be idempotent.
    @discardableResult
    public func adminCommand(_ command: SubmissionQueueEntry, data: DMASlice? = nil, name: String) throws(NVMeError) -> CompletionQueueEntry {
        try adminCommand(command, data: data, name: name, onSuccess: nil)
    }

    /// `adminCommand`, running `onSuccess` under the admin lock right after the command succeeded
    /// (before any reset can slip in between).
    func adminCommand(
        _ command: SubmissionQueueEntry, data: DMASlice? = nil, name: String, onSuccess: ((inout AdminQueue) -> Void)?
    ) throws(NVMeError) -> CompletionQueueEntry {
        if closedFlag.load(ordering: .acquiring) { throw .closed }
        if let failure = recoveryFailure { throw failure }
        try checkNotQuiesced()
        if let data, data.domain != device.dma.domain {
            throw .foreignDMAMemory(iova: data.iova.rawValue, buffer: data.domain, device: device.dma.domain)
        }
        let generation = resetGeneration.load(ordering: .acquiring)
        do {
            return try executeAdmin(command, data: data, name: name, onSuccess: onSuccess)
        } catch {
            quietAfterAdminFailure(error, name: name, generation: generation)
            throw error
        }
    }

    /// An admin command that timed out or met CSTS.CFS may still be running on the device, with
    /// its data buffer and the admin queue's PRP list page: before the caller frees the one or the
    /// next command reuses the other, the controller is reset (recovery) or quiesced.
    func quietAfterAdminFailure(_ error: NVMeError, name: String, generation: UInt64) {
        switch error {
        case .timedOut, .controllerFatal:
            if options.recovery.enabled {
                let before = quiesceCount
                do {
                    // A reset disables the controller first, which ends the command.
                    try recover(reason: "\(name): \(error)", observedGeneration: generation)
                    return
                } catch {
                    // A failed reset quiesced the device itself.
                    if quiesceCount != before { return }
                }
            }
            quiesce(reason: "\(name): \(error)")
        case .deviceRemoved:
            markFailed(.deviceRemoved)
            quiesce(reason: "\(name): \(error)")
        default:
            break
        }
    }

    /// The admin command path without the closed check or recovery, for `close()` and recovery
    /// itself. `timeoutMilliseconds` defaults to the controller's admin timeout.
    @discardableResult
    func executeAdmin(
        _ command: SubmissionQueueEntry, data: DMASlice? = nil, name: String, timeoutMilliseconds: Int? = nil,
        onSuccess: ((inout AdminQueue) -> Void)? = nil
    ) throws(NVMeError) -> CompletionQueueEntry {
        let device = self.device, registers = self.registers, timeout = timeoutMilliseconds ?? options.adminTimeoutMilliseconds
        return try admin.withLock { (queue) throws(NVMeError) -> CompletionQueueEntry in
            let cqe = try queue.execute(command, data: data, name: name, device: device, registers: registers, timeoutMilliseconds: timeout)
            onSuccess?(&queue)
            return cqe
        }
    }

    /// Runs an admin command that returns `length` bytes, through a temporary DMA buffer.
    public func adminCommand(_ command: SubmissionQueueEntry, returning length: Int, name: String) throws(NVMeError) -> [UInt8] {
        guard length > 0, length <= maximumTransferBytes else {
            throw .invalidArgument("admin transfer of \(length) bytes (1...\(maximumTransferBytes))")
        }
        let buffer: DMABuffer
        do {
            buffer = try device.dma.allocate(length: length)
        } catch {
            throw .vfio(error)
        }
        try adminCommand(command, data: buffer.slice(offset: 0, length: length), name: name)
        return Array(UnsafeRawBufferPointer(buffer.bytes).prefix(length))
    }

    func decode<T: NVMeDataStructure>(_ bytes: [UInt8], _ name: String) throws(NVMeError) -> T {
        do {
            return try T(bytes: bytes)
        } catch {
            throw .malformedData("\(name): \(error)")
        }
    }

    // MARK: Identify (5.15)

    /// Identify Controller, fetched again (the copy from bring-up is `identity`).
    public func identifyController() throws(NVMeError) -> IdentifyController {
        try decode(adminCommand(.identify(cns: .controller), returning: 4096, name: "Identify Controller"), "Identify Controller")
    }

    /// Identify Namespace for `id`.
    public func identifyNamespace(_ id: UInt32) throws(NVMeError) -> IdentifyNamespace {
        try decode(
            adminCommand(.identify(cns: .namespace, namespaceID: id), returning: 4096, name: "Identify Namespace \(id)"),
            "Identify Namespace \(id)")
    }

    /// Active namespace ids (first page: up to 1024 ids above `after`).
    public func activeNamespaceIDs(after: UInt32 = 0) throws(NVMeError) -> [UInt32] {
        let list: ActiveNamespaceList = try decode(
            adminCommand(.identify(cns: .activeNamespaceList, namespaceID: after), returning: 4096, name: "Identify Active Namespace List"),
            "Identify Active Namespace List")
        return list.namespaceIDs
    }

    // MARK: Get Log Page (5.14)

    /// Raw log page bytes (`length` a multiple of 4).
    public func logPage(_ id: LogPageIdentifier, length: Int, offset: UInt64 = 0, namespaceID: UInt32 = 0xFFFF_FFFF) throws(NVMeError) -> [UInt8] {
        guard length > 0, length % 4 == 0 else { throw .invalidArgument("log page length \(length) must be a positive multiple of 4") }
        return try adminCommand(
            .getLogPage(id, dwords: length / 4, offset: offset, namespaceID: namespaceID), returning: length,
            name: "Get Log Page \(id)")
    }

    /// SMART / Health Information (log 02h), controller-wide unless a namespace is given.
    public func smartHealthLog(namespaceID: UInt32 = 0xFFFF_FFFF) throws(NVMeError) -> SMARTHealthLog {
        try decode(logPage(.smartHealth, length: SMARTHealthLog.encodedSize, namespaceID: namespaceID), "SMART / Health log")
    }

    /// Error Information (log 01h): the newest `count` entries (at most ELPE + 1), newest first.
    /// Entries with error count 0 are unused and left out.
    public func errorLog(count: Int? = nil) throws(NVMeError) -> [ErrorInformationEntry] {
        let available = Int(identity.errorLogPageEntries) + 1
        let n = max(1, min(count ?? available, available))
        let size = ErrorInformationEntry.encodedSize
        let bytes = try logPage(.errorInformation, length: n * size)
        var entries: [ErrorInformationEntry] = []
        for i in 0..<n {
            let entry: ErrorInformationEntry = try decode(Array(bytes[(i * size)..<((i + 1) * size)]), "Error Information entry \(i)")
            if entry.errorCount != 0 { entries.append(entry) }
        }
        return entries
    }

    // MARK: Features (5.13, 5.21)

    /// Get Features: the value (CQE DW0).
    public func feature(_ id: FeatureIdentifier, select: FeatureSelect = .current, cdw11: UInt32 = 0) throws(NVMeError) -> UInt32 {
        try adminCommand(.getFeatures(id, select: select, cdw11: cdw11), name: "Get Features \(id)").commandSpecific
    }

    /// Set Features: returns CQE DW0 (some features report what was actually set).
    ///
    /// The value is remembered and set again after a controller reset (recovery or `reset()`),
    /// since a reset returns features to their defaults; Number of Queues is the driver's own.
    @discardableResult
    public func setFeature(_ id: FeatureIdentifier, value: UInt32, save: Bool = false) throws(NVMeError) -> UInt32 {
        try adminCommand(.setFeatures(id, cdw11: value, save: save), name: "Set Features \(id)") { queue in
            queue.featuresToRestore.remember(id, cdw11: value)
        }.commandSpecific
    }

    /// Volatile Write Cache (FID 06h), when the controller has one (VWC).
    public func setVolatileWriteCache(enabled: Bool) throws(NVMeError) {
        try setFeature(.volatileWriteCache, value: VolatileWriteCache(enabled: enabled).dword)
    }

    // MARK: Abort (5.1)

    /// Asks the controller to abort command `commandID` of submission queue `queue`. Returns true
    /// when the controller reports it aborted it (CQE DW0 bit 0 clear); the command then completes
    /// on its own queue with "Command Abort Requested", which its owner must still reap. Abort is
    /// best effort (the command may complete normally first).
    @discardableResult
    public func abort(queue: UInt16, commandID: UInt16) throws(NVMeError) -> Bool {
        let cqe = try adminCommand(.abort(submissionQueue: queue, commandID: commandID), name: "Abort (queue \(queue), command id \(commandID))")
        return cqe.commandSpecific & 1 == 0
    }

    // MARK: Namespaces

    /// The active namespace `id` with its geometry, for the blocking and async APIs.
    public func namespace(_ id: UInt32) throws(NVMeError) -> Namespace<Device> {
        let table = namespaceTable.withLock { $0 }
        guard let info = table.usable.first(where: { $0.id == id }) else {
            if let reason = table.unusable[id] { throw .namespaceUnusable(id, reason: reason) }
            if table.removed.contains(id) { throw .namespaceNotAttached(id) }
            throw .noSuchNamespace(id, available: table.usable.map(\.id))
        }
        return Namespace(controller: self, info: info)
    }

    /// Identify Namespace data captured at bring-up or the last rescan.
    public func identifyData(namespace id: UInt32) -> IdentifyNamespace? { namespaceTable.withLock { $0.identify[id] } }
}
