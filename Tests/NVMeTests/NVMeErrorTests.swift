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

import NVMe
import Testing
import VFIO

@Suite struct NVMeErrorTests {
    static let samples: [NVMeError] = [
        .vfio(.noHugepages),
        .commandFailed(command: "Read", status: .lbaOutOfRange.withDoNotRetry()),
        .commandFailed(command: "Write", status: .namespaceNotReady),
        .timedOut(what: "CSTS.RDY to become 1 (CAP.TO)", milliseconds: 10_000),
        .deviceMisbehaved("CAP.MQES is 0"),
        .controllerFatal(during: "enable"),
        .deviceRemoved,
        .unsupported("no NVM command set"),
        .submissionQueueFull(queue: 3),
        .noFreeCommandID(queue: 3),
        .transferTooLarge(bytes: 1 << 22, maximum: 1 << 21),
        .misalignedBuffer(iova: 0x1002),
        .bufferTooSmall(needed: 4096, actual: 512),
        .foreignDMAMemory(iova: 0x20_0000, buffer: DMADomain(rawValue: 2), device: DMADomain(rawValue: 1)),
        .lbaOutOfRange(namespace: 1, lba: 100, blocks: 8, capacity: 104),
        .noSuchNamespace(9, available: [1, 2]),
        .namespaceUnusable(2, reason: "extended-LBA metadata"),
        .namespaceNotAttached(2),
        .optionalCommandUnsupported(command: "Namespace Management (create)", reason: "Identify Controller OACS bit 3 is clear"),
        .invalidArgument("x"),
        .noQueuePairAvailable(granted: 4),
        .noInterruptVector(queue: 5),
        .closed,
        .quiesced(reason: "Read of namespace 1 gave up with 1 command(s) in flight"),
        .malformedData("Identify Controller: buffer too short"),
    ]

    @Test(arguments: samples)
    func descriptionIsOneLineWithCauseAndFix(error: NVMeError) {
        let text = error.description
        #expect(!text.isEmpty && !text.contains("\n"))
        // Cause and fix are separated by "; " or ", " in every message.
        #expect(text.contains(";") || text.contains(", "), "\(text)")
    }

    @Test func commandFailureNamesTheStatusAndRetryAdvice() {
        let error = NVMeError.commandFailed(command: "Read", status: .lbaOutOfRange.withDoNotRetry())
        #expect(error.description == "Read failed with LBA Out of Range (SCT 0x0, SC 0x80, DNR); do not retry; check the command's parameters")
    }
}
