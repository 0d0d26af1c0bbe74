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

@testable import vfioctl
import NIC
import NICWorkload
import NVMe
import NVMeWorkload
import Testing
import VFIOHost

/// The drivers' messages end with a fix for a library user (`ControllerOptions`, `RecoveryPolicy`,
/// `Controller.reset()`, a DMA slice); a CLI user has none of these. vfioctl keeps the library's
/// cause and gives the fix in its own terms: a flag, or running the command again.
@Suite struct ToolMessageTests {
    /// Words that name library API, not anything a vfioctl user can type or do.
    static let libraryWords = [
        "ControllerOptions", "RecoveryPolicy", "Controller.reset", "NICOptions", "device.dma", "DMA slice",
        "Namespace API", "correct the call", "reap completions", "poll completion mode", "bring the NIC up",
        "close the controller", "close and reopen",
    ]

    static func expectToolLine(_ error: any Error, keeps cause: String, fix: String) {
        let line = toolMessage(for: error)
        #expect(line.hasPrefix(cause + "; "), "\(line)")
        #expect(line.hasSuffix(fix), "\(line)")
        for word in libraryWords { #expect(!line.contains(word), "names \(word): \(line)") }
    }

    @Test func anExhaustedQueuePairGrantNamesTheQueueFlags() {
        Self.expectToolLine(NVMeError.noQueuePairAvailable(granted: 4),
                            keeps: "all 4 I/O queue pairs the controller granted are in use",
                            fix: "ask for more with --io-queues, or use fewer --queues")
    }

    @Test func aTimeoutSaysToRunTheCommandAgain() {
        Self.expectToolLine(NVMeError.timedOut(what: "Read (cid 3)", milliseconds: 30_000),
                            keeps: "timed out after 30000 ms waiting for Read (cid 3)",
                            fix: "the controller may be hung: run the command again (opening the device resets the controller), or reset or power-cycle the device")
    }

    @Test func aQuiescedControllerSaysToRunTheCommandAgain() {
        Self.expectToolLine(NVMeError.quiesced(reason: "an I/O timeout"),
                            keeps: "the controller was stopped after an I/O timeout so that no DMA could reach released memory",
                            fix: "run the command again (opening the device resets the controller)")
    }

    @Test func failedRecoveryAndFatalStatusSayWhatToDoToTheDevice() {
        Self.expectToolLine(NVMeError.recoveryFailed(reason: "the reset timed out"),
                            keeps: "controller recovery failed: the reset timed out",
                            fix: "reset or power-cycle the device (or unbind and bind it again), then run the command again")
        Self.expectToolLine(NVMeError.controllerFatal(during: "Read"),
                            keeps: "controller fatal status (CSTS.CFS) set during Read",
                            fix: "run the command again (opening the device resets the controller), or power-cycle the device")
    }

    @Test func aMissingInterruptVectorNamesPollMode() {
        Self.expectToolLine(NVMeError.noInterruptVector(queue: 2),
                            keeps: "queue pair 2 has no MSI-X vector", fix: "use --mode poll")
        Self.expectToolLine(NICError.noInterruptVector(kind: "receive", queue: 1),
                            keeps: "receive queue 1 has no interrupt vector", fix: "use --mode poll")
    }

    @Test func anOversizedTransferNamesTheBlockSizeFlag() {
        Self.expectToolLine(NVMeError.transferTooLarge(bytes: 1 << 20, maximum: 512 << 10),
                            keeps: "a transfer of 1048576 bytes exceeds the per-command maximum of 524288 bytes",
                            fix: "use a smaller --bs")
    }

    @Test func aWedgedNICSaysToRunTheCommandAgain() {
        Self.expectToolLine(NICError.resetTimedOut(name: "0000:00:18.0", milliseconds: 100),
                            keeps: "0000:00:18.0: CTRL.RST did not clear within 100 ms",
                            fix: "run the command again (vfio-pci resets the function when it is opened), or restart the machine")
    }

    /// Errors only the tool's own use of the library can cause: the user is told it is a bug.
    @Test(arguments: [
        NVMeError.submissionQueueFull(queue: 1), .noFreeCommandID(queue: 1), .misalignedBuffer(iova: 0x1002),
        .bufferTooSmall(needed: 8192, actual: 4096), .invalidArgument("queue size 1"),
        .foreignDMAMemory(iova: 0x1000, buffer: .init(rawValue: 1), device: .init(rawValue: 2)),
    ])
    func misuseOfTheLibraryByTheToolIsReportedAsABug(error: NVMeError) {
        let cause = HostError.splitAtFix(error.description).cause
        Self.expectToolLine(error, keeps: cause, fix: "this is a bug in vfioctl: please report it with the command line")
    }

    /// The mapping also applies inside the workloads' errors (`nvme perf`, `net`).
    @Test func driverErrorsInsideWorkloadErrorsAreMappedToo() {
        #expect(toolMessage(for: WorkloadError.nvme(.noQueuePairAvailable(granted: 2))) ==
                toolMessage(for: NVMeError.noQueuePairAvailable(granted: 2) as any Error))
        #expect(toolMessage(for: NICWorkloadError.nic(.noInterruptVector(kind: "transmit", queue: 0))) ==
                "transmit queue 0 has no interrupt vector; use --mode poll")
    }

    /// Every other case's library fix already fits a CLI user, and stays as the library words it.
    @Test func errorsWhoseFixFitsTheCLIKeepTheLibrarysWords() {
        let kept: [NVMeError] = [
            .deviceRemoved, .unsupported("no NVM command set"), .noSuchNamespace(7, available: [1]),
            .lbaOutOfRange(namespace: 1, lba: 10, blocks: 1, capacity: 8), .closed,
        ]
        for error in kept {
            let line = toolMessage(for: error as any Error)
            #expect(line == error.description)
            for word in Self.libraryWords { #expect(!line.contains(word), "names \(word): \(line)") }
        }
    }
}
