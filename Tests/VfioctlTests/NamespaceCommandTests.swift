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

import Foundation
import Testing

/// `vfioctl nvme ns attach|detach|create|delete` against the emulated controller (whose NSIDs
/// are a fixed pool: `--emu-detached` starts one detached, as QEMU's `detached=on`).
@Suite(.enabled(if: vfioctlPath != nil, "vfioctl is not built next to the tests; run swift build --build-tests"))
struct NamespaceCommandTests {
    @Test func attachPrintsTheNamespaceTheRescanFound() throws {
        let r = try vfioctl(["nvme", "ns", "attach", "--nsid", "2", "--emu-namespaces", "2", "--emu-detached", "2", "--emu-size", "1M"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "namespace 2 attached to controller 1\nnamespaces: added 2, removed -, changed -\n  nsid 2: 2048 blocks x 512 B = 1.0 MiB\n", "\(r.stdout)")
    }

    @Test func detachAndDeletePrintWhatWentAway() throws {
        let detach = try vfioctl(["nvme", "ns", "detach", "--nsid", "1"])
        #expect(detach.status == 0, "\(detach.stderr)")
        #expect(detach.stdout == "namespace 1 detached from controller 1\nnamespaces: added -, removed 1, changed -\n", "\(detach.stdout)")
        let delete = try vfioctl(["nvme", "ns", "delete", "--nsid", "1"])
        #expect(delete.status == 0, "\(delete.stderr)")
        #expect(delete.stdout.hasPrefix("namespace 1 deleted\n"), "\(delete.stdout)")
    }

    @Test(arguments: [
        (["nvme", "ns", "attach", "--nsid", "1"], "Namespace Attachment (attach namespace 1) failed with Namespace Already Attached"),
        (["nvme", "ns", "detach", "--nsid", "0"], "--nsid 0 names no single namespace"),
        (["nvme", "ns", "attach", "--nsid", "9"], "--nsid 9 is above the controller's 1 namespace ids"),
        (["nvme", "ns", "create", "--blocks", "100"], "Namespace Management (create) failed with Namespace Identifier Unavailable"),
        (["nvme", "ns", "create", "--blocks", "0"], "--blocks 0: a namespace needs 1 or more blocks"),
        (["nvme", "ns", "create", "--blocks", "8", "--format", "16"], "--format 16: LBA format indexes are 0...15"),
    ])
    func refusalsAreOneLineAndExit1(arguments: [String], message: String) throws {
        let r = try vfioctl(arguments)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("vfioctl: "), "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stdout.isEmpty, "\(r.stdout)")
    }
}
