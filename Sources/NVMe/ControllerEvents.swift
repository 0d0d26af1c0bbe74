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

/// One asynchronous event the controller reported (NVMe base 1.4, 5.2), after the driver handled
/// it: the log page that clears it read (with RAE clear, so the controller reports the next one),
/// namespaces rescanned for a Namespace Attribute Changed notice, and the request re-armed.
public struct ControllerEvent: Sendable, Equatable, CustomStringConvertible {
    /// What the driver found, per event type.
    public enum Kind: Sendable, Equatable {
        /// Error status (type 0): the newest Error Information entry, if the log had one.
        case error(ErrorInformationEntry?)
        /// SMART / Health status (type 1): the health log, with its Critical Warning.
        case smartHealth(SMARTHealthLog)
        /// Notice 00h, Namespace Attribute Changed: what the rescan found.
        case namespacesChanged(NamespaceChanges)
        /// Another type or notice: reported as the device gave it; its log page (`logPage`) was
        /// not read, so that event type stays masked until the caller reads it.
        case other
        /// The log page that clears the event could not be read or decoded (the reason).
        case unreadable(String)
        /// The request itself completed with an error status (Asynchronous Event Request Limit
        /// Exceeded, or anything else): it is not submitted again, so one fewer stays outstanding.
        case requestFailed(NVMeStatus)
    }

    /// CQE DW0 as the device gave it (type, information, log page).
    public let information: AsynchronousEventInformation
    public let kind: Kind

    public init(information: AsynchronousEventInformation, kind: Kind) {
        self.information = information
        self.kind = kind
    }

    /// A short name: "error", "smart-health", "namespaces-changed", "notice", ...
    public var name: String {
        switch kind {
        case .error: "error"
        case .smartHealth: "smart-health"
        case .namespacesChanged: "namespaces-changed"
        case .other: information.type.description
        case .unreadable: "unreadable"
        case .requestFailed: "request-failed"
        }
    }

    public var description: String {
        switch kind {
        case .error(let entry):
            guard let entry else { return "error event (info 0x\(String(information.info, radix: 16))): the error log is empty" }
            return "error event (info 0x\(String(information.info, radix: 16))): error count \(entry.errorCount), queue \(entry.submissionQueueID), command id \(entry.commandID), status \(entry.status)"
        case .smartHealth(let log):
            return "SMART / health event (info 0x\(String(information.info, radix: 16))): critical warning 0x\(String(log.criticalWarning.rawValue, radix: 16)), temperature \(log.compositeTemperature) K, spare \(log.availableSpare) %"
        case .namespacesChanged(let changes):
            return "namespace attribute changed: \(changes)"
        case .other:
            return "event \(information)"
        case .unreadable(let reason):
            return "event \(information): its log page could not be read: \(reason)"
        case .requestFailed(let status):
            return "an Asynchronous Event Request failed with \(status); it is not submitted again"
        }
    }
}

extension Controller {
    /// Starts asynchronous event reporting: sets Asynchronous Event Configuration (SMART / Health
    /// critical warnings and the notices the controller supports, OAES), remembered so a reset
    /// sets it again, and keeps min(AERL + 1, 16) Asynchronous Event Requests outstanding from now
    /// on, re-armed after each event and after every controller reset.
    ///
    /// Events are then handled and returned by `pollAsynchronousEvents()` or delivered by
    /// `asynchronousEvents()`. Calling it again changes the configuration only.
    public func enableAsynchronousEvents(
        _ configuration: AsynchronousEventConfiguration = [.smartCriticalWarnings, .namespaceAttributeNotices]
    ) throws(NVMeError) {
        // Notice bits (8 and up) only where OAES says the controller has them: others are reserved.
        let value = configuration.rawValue & 0xFF | configuration.rawValue & identity.oaes & ~0xFF
        try setFeature(.asynchronousEventConfiguration, value: value)
        // AERL is device data: zero-based, capped so the admin queue keeps room for commands.
        let target = min(Int(identity.asyncEventRequestLimit) + 1, AsynchronousEventRequests.cap)
        _ = try withAdminQueue(name: "Asynchronous Event Request") { (queue) throws(NVMeError) -> Int in
            queue.eventRequests.target = max(queue.eventRequests.target, target)
            return queue.armEventRequests()
        }
    }

    /// Asynchronous Event Requests the device holds now (0 before `enableAsynchronousEvents`).
    public var outstandingEventRequests: Int { admin.withLock { $0.eventRequests.outstanding.count } }

    /// Handles every Asynchronous Event Request that completed since the last call, without
    /// waiting: reads the log page that clears each event, rescans namespaces for a Namespace
    /// Attribute Changed notice, and re-arms the requests. Returns the events, oldest first.
    ///
    /// Bounded whatever the device does: each call handles at most the requests that were
    /// outstanding (each command id is accepted once), and a request that fails is not re-armed,
    /// so a flood of completions cannot keep it busy.
    public func pollAsynchronousEvents() throws(NVMeError) -> [ControllerEvent] {
        let device = self.device
        let completions = try withAdminQueue(name: "reaping Asynchronous Event Requests") { queue in
            queue.takeEventCompletions(device: device)
        }
        var events: [ControllerEvent] = []
        for cqe in completions { events.append(try handleEvent(cqe)) }
        if !completions.isEmpty {
            _ = try withAdminQueue(name: "Asynchronous Event Request") { queue in queue.armEventRequests() }
        }
        return events
    }

    /// One completed request: read what clears it, act on it.
    private func handleEvent(_ cqe: CompletionQueueEntry) throws(NVMeError) -> ControllerEvent {
        let information = AsynchronousEventInformation(dword: cqe.commandSpecific)
        guard cqe.status.isSuccess else {
            admin.withLock { $0.eventRequests.target = max(0, $0.eventRequests.target - 1) }
            logger.warning("NVMe \(device.name): an Asynchronous Event Request failed with \(cqe.status); not re-armed")
            return ControllerEvent(information: information, kind: .requestFailed(cqe.status))
        }
        do throws(NVMeError) {
            switch information.type {
            case .errorStatus where information.logPage == LogPageIdentifier.errorInformation.rawValue:
                return ControllerEvent(information: information, kind: .error(try errorLog(count: 1).first))
            case .smartHealth where information.logPage == LogPageIdentifier.smartHealth.rawValue:
                return ControllerEvent(information: information, kind: .smartHealth(try smartHealthLog()))
            case .notice where information.isNamespaceAttributeChanged:
                let list: ChangedNamespaceList = try decode(
                    logPage(.changedNamespaceList, length: ChangedNamespaceList.encodedSize), "Changed Namespace List")
                let changes = try rescanNamespaces(changed: list.overflowed ? nil : Set(list.namespaceIDs))
                return ControllerEvent(information: information, kind: .namespacesChanged(changes))
            default:
                return ControllerEvent(information: information, kind: .other)
            }
        } catch {
            switch error {
            case .commandFailed, .malformedData:
                return ControllerEvent(information: information, kind: .unreadable("\(error)"))
            default:
                throw error
            }
        }
    }

    /// The controller's asynchronous events as an `AsyncSequence`, polling every `pollInterval`
    /// (admin completions are reaped by polling, as every admin command is). Call
    /// `enableAsynchronousEvents()` first. The sequence ends when the task is cancelled or the
    /// controller is closed, and throws the error that made the controller unusable.
    public func asynchronousEvents(pollInterval: Duration = .milliseconds(10)) -> ControllerEvents<Device> {
        ControllerEvents(controller: self, pollInterval: pollInterval)
    }
}

/// `Controller.asynchronousEvents()`: each iterator polls the controller (a few admin register
/// reads when nothing happened) and sleeps `pollInterval` in between.
public struct ControllerEvents<Device: PCIFunction>: AsyncSequence, Sendable {
    public typealias Element = ControllerEvent
    let controller: Controller<Device>
    let pollInterval: Duration

    public struct AsyncIterator: AsyncIteratorProtocol {
        let controller: Controller<Device>
        let pollInterval: Duration
        var buffered: [ControllerEvent] = []

        public mutating func next() async throws -> ControllerEvent? {
            while buffered.isEmpty {
                if Task.isCancelled { return nil }
                do {
                    buffered = try controller.pollAsynchronousEvents()
                } catch {
                    if error == .closed { return nil }
                    throw error
                }
                if buffered.isEmpty {
                    do {
                        try await Task.sleep(for: pollInterval)
                    } catch {
                        return nil
                    }
                }
            }
            return buffered.removeFirst()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(controller: controller, pollInterval: pollInterval) }
}
