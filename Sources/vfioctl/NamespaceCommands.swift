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

import ArgumentParser
import NVMe
import VFIO

/// `vfioctl nvme ns ...`: Namespace Attachment and Namespace Management (NVMe base 1.4, 5.23,
/// 5.22), which need Identify Controller OACS bit 3. Each prints what the driver's rescan found.
struct NamespaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ns", abstract: "Attach, detach, create or delete namespaces (OACS bit 3).",
        subcommands: [NamespaceAttach.self, NamespaceDetach.self, NamespaceCreate.self, NamespaceDelete.self])
}

/// `--nsid`, checked before the device is opened.
struct NamespaceIDOption: ParsableArguments {
    @Option(help: "Namespace id (NSID).") var nsid: UInt32

    func check() throws {
        guard nsid >= 1, nsid != .max else { throw ValidationFailure("--nsid \(nsid) names no single namespace; give an NSID from 1 up to the controller's NN (see nvme identify)") }
    }
}

extension NamespaceIDOption {
    /// The NSID against the controller's NN, once it is open.
    static func check<Device: PCIFunction>(_ nsid: UInt32, on c: Controller<Device>) throws {
        let limit = c.identity.numberOfNamespaces
        guard nsid <= limit else {
            throw ValidationFailure("--nsid \(nsid) is above the controller's \(limit) namespace ids (Identify Controller NN); give an NSID in 1...\(limit)")
        }
    }
}

/// What a rescan found, one line, then the geometry of each namespace added or changed.
func printNamespaceChanges<Device: PCIFunction>(_ changes: NamespaceChanges, _ c: Controller<Device>) {
    print("namespaces: \(changes)")
    for id in changes.added + changes.changed {
        if let ns = c.namespaces.first(where: { $0.id == id }) {
            print("  nsid \(id): \(ns.blockCount) blocks x \(ns.blockSize) B = \(humanBytes(ns.bytes))")
        } else if let reason = c.unusableNamespaces[id] {
            print("  nsid \(id): unusable: \(reason)")
        }
    }
}

/// Attach or detach: one job, the direction named by `attach`.
struct NamespaceAttachmentJob: ControllerJob {
    let attach: Bool
    let nsid: UInt32
    let controllers: [UInt16]

    func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
        try NamespaceIDOption.check(nsid, on: c)
        let list = controllers.isEmpty ? [c.identity.controllerID] : controllers
        let changes = attach ? try c.attachNamespace(nsid, controllers: list) : try c.detachNamespace(nsid, controllers: list)
        let ids = list.map(String.init).joined(separator: ", ")
        print("namespace \(nsid) \(attach ? "attached to" : "detached from") controller\(list.count > 1 ? "s" : "") \(ids)")
        printNamespaceChanges(changes, c)
    }
}

/// `--nsid` and `--controller`, shared by attach and detach.
struct NamespaceAttachmentOptions: ParsableArguments {
    @OptionGroup var target: DeviceOptions
    @OptionGroup var id: NamespaceIDOption
    @Option(name: .customLong("controller"), help: "Controller id (CNTLID); repeat for several (default: the one opened).") var controllers: [UInt16] = []

    func run(attach: Bool) throws {
        try reportingErrors {
            try id.check()
            try target.withController(NamespaceAttachmentJob(attach: attach, nsid: id.nsid, controllers: controllers))
        }
    }
}

struct NamespaceAttach: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", abstract: "Attach a namespace to a controller (default: this one).")
    @OptionGroup var options: NamespaceAttachmentOptions
    func run() throws { try options.run(attach: true) }
}

struct NamespaceDetach: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detach", abstract: "Detach a namespace from a controller (default: this one).")
    @OptionGroup var options: NamespaceAttachmentOptions
    func run() throws { try options.run(attach: false) }
}

struct NamespaceCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a namespace (Namespace Management); it starts detached: attach it with nvme ns attach.")
    @OptionGroup var target: DeviceOptions
    @Option(help: "Size in logical blocks of the chosen format (NSZE = NCAP).") var blocks: UInt64
    @Option(help: "LBA format index (see the controller's other namespaces; 0 is the first).") var format: Int = 0
    @Flag(help: "Allow attaching it to several controllers (NMIC bit 0).") var shared = false

    struct Job: ControllerJob {
        let blocks: UInt64
        let format: Int
        let shared: Bool
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            let id = try c.createNamespace(blocks: blocks, formatIndex: format, shared: shared)
            print("created namespace \(id) of \(blocks) blocks (LBA format \(format)), detached; attach it with: vfioctl nvme ns attach --nsid \(id)")
        }
    }

    func run() throws {
        try reportingErrors {
            guard blocks >= 1 else { throw ValidationFailure("--blocks \(blocks): a namespace needs 1 or more blocks") }
            guard (0...15).contains(format) else { throw ValidationFailure("--format \(format): LBA format indexes are 0...15") }
            try target.withController(Job(blocks: blocks, format: format, shared: shared))
        }
    }
}

struct NamespaceDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a namespace (Namespace Management): its data is gone.")
    @OptionGroup var target: DeviceOptions
    @OptionGroup var id: NamespaceIDOption

    struct Job: ControllerJob {
        let nsid: UInt32
        func run<Device: PCIFunction>(_ c: Controller<Device>) throws {
            try NamespaceIDOption.check(nsid, on: c)
            let changes = try c.deleteNamespace(nsid)
            print("namespace \(nsid) deleted")
            printNamespaceChanges(changes, c)
        }
    }

    func run() throws {
        try reportingErrors {
            try id.check()
            try target.withController(Job(nsid: id.nsid))
        }
    }
}
