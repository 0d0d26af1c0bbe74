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

/// Every NICError a user can meet is one line that names what went wrong and where (device,
/// queue, descriptor) and what to do or what it means; docs/errors.md lists them.
@Suite struct NICErrorMessageTests {
    static let samples: [(NICError, [String])] = [
        (.vfio(.noHugepages), ["hugepages"]),
        (.unsupportedDevice(name: "0000:00:03.0", vendor: 0x1af4, device: 0x1041), ["0000:00:03.0", "1af4:1041", "8086:10d3", "e1000e"]),
        (.resetTimedOut(name: "0000:00:18.0", milliseconds: 100), ["0000:00:18.0", "CTRL.RST", "100 ms", "reopen"]),
        (.invalidMACAddress(name: "emulated", address: MACAddress(1, 0, 0x5e, 0, 0, 1)), ["emulated", "01:00:5e:00:00:01", "mac="]),
        (.invalidArgument("ring size 100 is not a power of two"), ["ring size 100"]),
        (.queueUnavailable(kind: "receive", index: 1, reason: "the NIC was brought up with 1 receive queue"), ["receive queue 1", "brought up with 1"]),
        (.noInterruptVector(kind: "receive", queue: 0), ["receive queue 0", "poll"]),
        (.invalidReceiveDescriptor(queue: 0, index: 7, reason: "length 4000 outside 1...2048"), ["queue 0", "descriptor 7", "4000", "misbehaving"]),
        (.unpostedDescriptorCompleted(kind: "transmit", queue: 1, index: 3), ["transmit queue 1", "descriptor 3", "never posted"]),
        (.transmitTimedOut(queue: 0, outstanding: 5, milliseconds: 1000), ["transmit queue 0", "5 descriptor", "TCTL.EN", "link"]),
        (.deviceRemoved(name: "0000:00:03.0"), ["0000:00:03.0", "removed", "all ones", "vfioctl bind"]),
    ]

    @Test func everyMessageIsOneLineNamingCauseAndContext() {
        for (error, needles) in Self.samples {
            let text = error.description
            #expect(!text.contains("\n"), "\(text)")
            for needle in needles { #expect(text.contains(needle), "\(needle) missing from: \(text)") }
        }
    }

    @Test func emulatorErrorsAreOneLineNamingTheFix() {
        let samples: [(NICEmulatorError, String)] = [
            (.invalidConfiguration(["ring", "mac"]), "ring; mac"),
            (.mapping(bytes: 131072, errno: 12), "raise the memory limit"),
            (.threadStart(errno: 11), ".stepped mode"),
            (.unsupportedArchitecture, "x86-64"),
            (.underThreadSanitizer, "without --sanitize=thread"),
        ]
        for (error, needle) in samples {
            #expect(!error.description.contains("\n") && error.description.contains(needle), "\(error.description)")
        }
    }

    @Test func invalidEmulatorConfigurationNamesEveryProblem() throws {
        guard EmulatedE1000E.unavailableReason == nil else { return }
        var configuration = EmulatedE1000EConfiguration(mode: .threaded, clock: .manual)
        configuration.inboxLimit = 0
        configuration.macAddress = MACAddress(1, 0, 0x5e, 0, 0, 1)
        #expect(throws: NICEmulatorError.invalidConfiguration([
            "a manual clock needs stepped mode", "inboxLimit must be at least 1",
            "the MAC address 01:00:5e:00:00:01 is not a unicast station address",
        ])) { _ = try EmulatedE1000E(configuration: configuration) }
    }

    /// The refusal is what a ThreadSanitizer build gets instead of a hang, and only there.
    @Test func emulatedNICIsRefusedExactlyWhenItCannotRun() {
        do {
            let nic = try EmulatedE1000E()
            #expect(EmulatedE1000E.unavailableReason == nil)
            nic.close()
        } catch {
            #expect(error == EmulatedE1000E.unavailableReason)
        }
    }
}
