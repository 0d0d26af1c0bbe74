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
import NVMe
import VFIO

/// Asynchronous events with a namespace change, end to end: a namespace of the controller's NVM
/// subsystem that is not attached (QEMU's `detached=on`) is attached through the driver, the
/// Namespace Attribute Changed event arrives and is handled, verified I/O reaches the namespace;
/// detached again, the event arrives and I/O to it fails with `.namespaceNotAttached`. It leaves
/// the namespace detached, as it found it. Skips on a controller without Namespace Attachment
/// (OACS bit 3), without Namespace Attribute Notices (OAES bit 8), or without a detached namespace.
public enum AERNamespaceAttachDetach: NVMeScenario {
    public static let name = "aer-namespace-attach-detach"
    public static let summary = "a detached namespace is attached through the driver: the Namespace Attribute Changed AER arrives, the rescan lists it, verified I/O; detached: the AER arrives, its I/O fails with namespaceNotAttached"

    public static func run<Device: PCIFunction>(_ target: NVMeTarget<Device>) throws -> ScenarioOutcome {
        let rig = try NVMeScenarioRig(target)
        let c = rig.controller
        defer { try? c.close() }
        guard c.identity.oacs.contains(.namespaceManagement) else { return .skip("no Namespace Attachment (OACS bit 3 clear)") }
        guard c.identity.oaes & (1 << 8) != 0 else { return .skip("no Namespace Attribute Notices (OAES bit 8 clear)") }
        let active = Set(c.namespaces.map(\.id)).union(c.unusableNamespaces.keys)
        guard let nsid = try c.allocatedNamespaceIDs().first(where: { !active.contains($0) }) else {
            return .skip("no detached namespace: Identify CNS 10h lists only the active ones \(active.sorted())")
        }
        try c.enableAsynchronousEvents()
        rig.log("namespace \(nsid) is allocated and detached; \(c.outstandingEventRequests) Asynchronous Event Requests outstanding")
        do {
            try attachAndUse(nsid, rig)
        } catch {
            _ = try? c.detachNamespace(nsid)
            throw error
        }
        // Detached: the event again, then the namespace is gone from the driver's view.
        let detached = try c.detachNamespace(nsid)
        try expect(detached.removed == [nsid], "the rescan after the detach found \(detached), expected namespace \(nsid) removed")
        let event = try namespaceEvent(c, rig, after: "the detach")
        try expect(c.namespaces.allSatisfy { $0.id != nsid }, "namespace \(nsid) is still listed after the detach and its event")
        rig.log("detach: \(event)")
        do {
            _ = try c.namespace(nsid)
            throw ScenarioFailure("namespace(\(nsid)) succeeded after the detach")
        } catch NVMeError.namespaceNotAttached(nsid) {}
        return .pass
    }

    /// Attach, the event, the rescanned geometry, a verified write and read.
    static func attachAndUse<Device: PCIFunction>(_ nsid: UInt32, _ rig: NVMeScenarioRig<Device>) throws {
        let c = rig.controller
        let attached = try c.attachNamespace(nsid)
        try expect(attached.added == [nsid], "the rescan after the attach found \(attached), expected namespace \(nsid) added")
        let event = try namespaceEvent(c, rig, after: "the attach")
        let ns = try c.namespace(nsid)
        rig.log("attach: \(event); namespace \(nsid): \(ns.blockCount) blocks of \(ns.blockSize) B")
        let blocks = max(1, 16384 / ns.blockSize)
        let length = blocks * ns.blockSize
        let out = try rig.device.dma.allocate(length: length)
        let back = try rig.device.dma.allocate(length: length)
        let lba = ns.blockCount / 2
        fillPattern(out.slice(offset: 0, length: length), seed: UInt64(nsid) &* 977)
        try ns.write(lba: lba, blocks: blocks, from: out.slice(offset: 0, length: length))
        try ns.read(lba: lba, blocks: blocks, into: back.slice(offset: 0, length: length))
        try expect(out.bytes.prefix(length).elementsEqual(back.bytes.prefix(length)),
                   "data read back from LBA \(lba) of the attached namespace \(nsid) differs from what was written")
        // Keep the Namespace value: after the detach its I/O must fail with the reason.
        try c.detachNamespace(nsid)
        _ = try namespaceEvent(c, rig, after: "the detach of the used namespace")
        do {
            try ns.read(lba: lba, blocks: blocks, into: back.slice(offset: 0, length: length))
            throw ScenarioFailure("a read of namespace \(nsid) succeeded after it was detached")
        } catch NVMeError.namespaceNotAttached(nsid) {}
        // Attached again for the caller's own detach.
        try expect(try c.attachNamespace(nsid).added == [nsid], "namespace \(nsid) did not come back on a second attach")
        _ = try namespaceEvent(c, rig, after: "the second attach")
    }

    /// Polls for the Namespace Attribute Changed event the controller sends after an attachment
    /// change (QEMU sends it to the controller that ran the command too), for up to 10 s.
    static func namespaceEvent<Device: PCIFunction>(
        _ c: Controller<Device>, _ rig: NVMeScenarioRig<Device>, after what: String
    ) throws -> ControllerEvent {
        let deadline = Deadline(milliseconds: 10_000)
        var others: [ControllerEvent] = []
        while !deadline.hasPassed {
            for event in try c.pollAsynchronousEvents() {
                if case .namespacesChanged = event.kind { return event }
                others.append(event)
            }
            usleep(1000)
        }
        throw ScenarioFailure("no Namespace Attribute Changed event within 10 s after \(what) (other events: \(others))")
    }
}
