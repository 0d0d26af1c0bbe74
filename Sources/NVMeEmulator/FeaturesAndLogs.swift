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
import VFIO

extension ControllerEngine {
    /// Get Features (5.13). SEL: current, default, saved (= default: nothing is saveable) and
    /// supported capabilities (changeable, not saveable, not namespace specific).
    mutating func getFeatures(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let select = sqe.featureSelect
        guard select <= 3 else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        let defaults = FeatureState(vectors: configuration.msixVectors, volatileWriteCache: configuration.volatileWriteCache)
        let state = select == 0 ? features : defaults
        let value: UInt32
        switch FeatureIdentifier(rawValue: sqe.featureIdentifier) {
        case .arbitration: value = state.arbitration
        case .powerManagement: value = state.powerManagement
        case .volatileWriteCache:
            guard configuration.volatileWriteCache else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
            value = state.volatileWriteCache
        case .numberOfQueues:
            // Before Set Features, what could be granted (as QEMU answers).
            let granted = state.grantedQueues ?? (configuration.maxIOQueuePairs, configuration.maxIOQueuePairs)
            value = NumberOfQueues(submissionQueues: granted.submission, completionQueues: granted.completion).dword
        case .interruptCoalescing: value = state.interruptCoalescing
        case .interruptVectorConfiguration:
            let vector = Int(sqe.cdw11 & 0xFFFF)
            guard vector < configuration.msixVectors else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
            value = UInt32(vector) | (state.coalescingDisabled[vector] ? 1 << 16 : 0)
        case .asynchronousEventConfiguration: value = state.asynchronousEventConfiguration
        default: return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        if select == 3 { return CommandOutcome(status: .success, result: 0b100) }
        return CommandOutcome(status: .success, result: value)
    }

    /// Set Features (5.21). Nothing is saveable: SV set is Feature Identifier Not Saveable.
    mutating func setFeatures(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        guard !sqe.saveFeature else { return CommandOutcome(status: .featureIdentifierNotSaveable.withDoNotRetry()) }
        let value = sqe.cdw11
        switch FeatureIdentifier(rawValue: sqe.featureIdentifier) {
        case .arbitration:
            features.arbitration = value
        case .powerManagement:
            // NPSS is 0: power state 0 only.
            guard value & 0x1F == 0 else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
            features.powerManagement = value & 0xFF
        case .volatileWriteCache:
            guard configuration.volatileWriteCache else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
            features.volatileWriteCache = value & 1
        case .numberOfQueues:
            // 5.21.1.7: 65535 (zero-based) is invalid; after I/O queues exist the count is fixed.
            guard value & 0xFFFF != 0xFFFF, value >> 16 != 0xFFFF else {
                return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
            }
            let anyIOQueue = submissionQueues.dropFirst().contains { $0 != nil } || completionQueues.dropFirst().contains { $0 != nil }
            guard !anyIOQueue else { return CommandOutcome(status: .commandSequenceError.withDoNotRetry()) }
            let requested = NumberOfQueues(dword: value)
            let granted = (min(requested.submissionQueues, configuration.maxIOQueuePairs),
                           min(requested.completionQueues, configuration.maxIOQueuePairs))
            features.grantedQueues = granted
            return CommandOutcome(status: .success, result: NumberOfQueues(submissionQueues: granted.0, completionQueues: granted.1).dword)
        case .interruptCoalescing:
            features.interruptCoalescing = value & 0xFFFF
        case .interruptVectorConfiguration:
            let vector = Int(value & 0xFFFF)
            guard vector < configuration.msixVectors else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
            // CD cannot be set for vector 0, the admin queue's (5.21.1.9).
            let disable = value & (1 << 16) != 0
            guard !(vector == 0 && disable) else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
            features.coalescingDisabled[vector] = disable
        case .asynchronousEventConfiguration:
            features.asynchronousEventConfiguration = value
        default:
            return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        return .success
    }

    /// Get Log Page (5.14): 01h error information, 02h SMART / health, 03h firmware slot. The
    /// offset must be dword aligned and inside the page; bytes past the page's end read as zero.
    /// Reading a page with RAE clear re-enables the asynchronous events it reports (5.2).
    mutating func getLogPage(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let length = sqe.logPageDwordCount * 4
        let offset = sqe.logPageOffset
        let retainEvent = sqe.cdw10 & (1 << 15) != 0
        var page: [UInt8]
        switch LogPageIdentifier(rawValue: sqe.logPageIdentifier) {
        case .errorInformation: page = errorLogPage()
        case .smartHealth:
            guard sqe.namespaceID == 0 || sqe.namespaceID == 0xFFFF_FFFF || activeNamespaceIndex(sqe.namespaceID) != nil else {
                return CommandOutcome(status: .invalidNamespaceOrFormat.withDoNotRetry())
            }
            page = healthLogPage()
        case .firmwareSlot: page = firmwareSlotLogPage()
        case .changedNamespaceList: page = changedNamespaceListPage(clear: false)
        default: return CommandOutcome(status: .invalidLogPage.withDoNotRetry())
        }
        guard offset & 3 == 0, offset < UInt64(page.count) else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        let limit = maxTransferBytes ?? (1 << 20)
        guard length <= limit else { return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry()) }
        var data = [UInt8](repeating: 0, count: length)
        let available = min(length, page.count - Int(offset))
        data.replaceSubrange(0..<available, with: page[Int(offset)..<Int(offset) + available])
        let status = data.withUnsafeBytes { copyToHost(sqe, $0) }
        if status.isSuccess && !retainEvent {
            maskedEventLogPages.remove(sqe.logPageIdentifier)
            if sqe.logPageIdentifier == LogPageIdentifier.changedNamespaceList.rawValue { _ = changedNamespaceListPage(clear: true) }
        }
        return CommandOutcome(status: status, bytes: status.isSuccess ? length : 0)
    }

    /// 64 entries, newest first; unused entries are zero (error count 0).
    func errorLogPage() -> [UInt8] {
        var data = [UInt8](repeating: 0, count: Self.errorLogEntries * 64)
        data.withUnsafeMutableBytes { raw in
            for (i, entry) in errorLog.reversed().enumerated() {
                do {
                    try entry.encode(into: UnsafeMutableRawBufferPointer(rebasing: raw[(i * 64)..<(i * 64 + 64)]))
                } catch {
                    preconditionFailure("encoding an error log entry: \(error)")
                }
            }
        }
        return data
    }

    func healthLogPage() -> [UInt8] {
        var log = SMARTHealthLog()
        log.criticalWarning = SMARTHealthLog.CriticalWarning(rawValue: criticalWarning)
        log.compositeTemperature = 313
        log.availableSpare = 100
        log.availableSpareThreshold = 10
        let read = statistics.io[Int(IOOpcode.read.rawValue)]
        let written = statistics.io[Int(IOOpcode.write.rawValue)]
        // Data units are thousands of 512-byte units, rounded up (5.14.1.2).
        log.dataUnitsRead = LogCounter128(low: (read.bytesTransferred / 512 + 999) / 1000)
        log.dataUnitsWritten = LogCounter128(low: (written.bytesTransferred / 512 + 999) / 1000)
        log.hostReadCommands = LogCounter128(low: UInt64(read.commands))
        log.hostWriteCommands = LogCounter128(low: UInt64(written.commands))
        log.powerCycles = LogCounter128(low: 1)
        log.powerOnHours = LogCounter128(low: (MonotonicClock.nanoseconds() - createdAt) / 3_600_000_000_000)
        log.numberOfErrorLogEntries = LogCounter128(low: errorCount)
        var data = [UInt8](repeating: 0, count: SMARTHealthLog.encodedSize)
        encode(log, into: &data)
        return data
    }

    /// Firmware Slot Information (5.14.1.3): slot 1 active, revision "1.0".
    func firmwareSlotLogPage() -> [UInt8] {
        var data = [UInt8](repeating: 0, count: 512)
        data[0] = 0x01
        let revision = Array("1.0     ".utf8)
        data.replaceSubrange(8..<16, with: revision)
        return data
    }
}
