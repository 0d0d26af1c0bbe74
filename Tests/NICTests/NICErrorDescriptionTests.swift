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

import NIC
import NICEmulator
import NetFrames
import Testing
import VFIO

/// Every NIC error description can be printed whatever values its case holds (negative counts,
/// the extremes of every integer): a description never traps.
@Suite struct NICErrorDescriptionTests {
    @Test func descriptionsNeverTrapOnAnyValue() {
        var errors: [NICError] = [
            .vfio(.iovaExhausted(requested: .min)), .invalidArgument(""),
            .invalidMACAddress(name: "", address: MACAddress(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)),
        ]
        var emulator: [NICEmulatorError] = [.invalidConfiguration([]), .unsupportedArchitecture, .underThreadSanitizer]
        for n in [Int.min, -1, 0, Int.max] {
            errors += [
                .unsupportedDevice(name: "", vendor: .max, device: 0), .resetTimedOut(name: "", milliseconds: n),
                .queueUnavailable(kind: "", index: n, reason: ""), .noInterruptVector(kind: "", queue: n),
                .invalidReceiveDescriptor(queue: n, index: n, reason: ""), .unpostedDescriptorCompleted(kind: "", queue: n, index: n),
                .transmitTimedOut(queue: n, outstanding: n, milliseconds: n),
            ]
            for e in [Int32.min, -1, Int32.max] { emulator += [.mapping(bytes: n, errno: e), .threadStart(errno: e)] }
        }
        for error in errors { #expect(!error.description.isEmpty && !error.description.contains("\n")) }
        for error in emulator { #expect(!error.description.isEmpty && !error.description.contains("\n")) }
    }
}
