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
import DriverScenarios
import Logging
import NVMe
import VFIO

/// Issue 16's rule against QEMU's controller: when the driver gives up on a command (recovery
/// off, an admin timeout), the function is quiet before anything is released, as seen from
/// outside our process: CC.EN = 0 and CSTS.RDY = 0 read by QEMU itself through the host's QMP,
/// or bus master off in the config space read through sysfs. QEMU holds an Asynchronous Event
/// Request until an event occurs, and none does here: that is the command that times out.
let quietChecks: [HILCheck] = [
    HILCheck("nvme-quiet-after-giving-up", "with recovery off, an Asynchronous Event Request QEMU holds times out; before anything is released, an observer outside the process sees CC.EN = 0 and CSTS.RDY = 0 (host QMP) or bus master off (sysfs config)") { context in
        guard let probe = context.environment["HIL_QUIET_PROBE"], !probe.isEmpty else {
            return .skip("no HIL_QUIET_PROBE: the outside observer needs the host's QMP hook (formats boot)")
        }
        let device = try context.openDevice()
        // Admin deadline short enough for the check, long enough for bring-up's Identify under TCG.
        let options = ControllerOptions(
            ioQueuePairs: 1, ioQueueEntries: 16, adminTimeoutMilliseconds: 3_000,
            recovery: RecoveryPolicy(enabled: false), logger: Logger(label: "vfio-hil.quiet"))
        let controller = try Controller(device: device, options: options)
        // The observer must see the live controller first, or a PASS below would prove nothing.
        let before = try OutsideView(probe: probe, address: context.address)
        resultInfo("outside view while enabled: \(before)")
        try expect(before.controllerEnabled == true && before.ready == true && before.busMaster == true,
                   "the observer does not see the running controller as running: \(before)")
        do {
            try controller.adminCommand(.asynchronousEventRequest(), name: "Asynchronous Event Request")
            return .skip("QEMU completed the Asynchronous Event Request (an event was pending): nothing timed out")
        } catch let error as NVMeError {
            guard case .timedOut = error else { throw error }
        }
        // The driver gave up and must have quiesced; `controller` and `device` still hold every
        // mapping, so this is the moment before anything could be released.
        let after = try OutsideView(probe: probe, address: context.address)
        resultInfo("outside view after giving up: \(after); driver: \(controller.lastQuietProof.map { "\($0)" } ?? "no proof")")
        try expect(after.quiet, "after the admin timeout the function is not quiet before release: \(after)")
        try expect(controller.quiescedReason != nil, "the device is quiet but the driver does not report itself quiesced")
        try controller.close()
        return .pass
    }
]

/// The function as a process other than ours sees it (scripts/hil/quiet-probe.sh): PCI_COMMAND
/// from sysfs config, CC and CSTS read by QEMU from BAR0 through the host's QMP.
struct OutsideView: CustomStringConvertible {
    var command: UInt16?
    var configuration: ControllerConfiguration?
    var status: ControllerStatus?
    var problems: [String] = []

    var busMaster: Bool? { command.map { $0 & (1 << 2) != 0 } }
    var controllerEnabled: Bool? { configuration?.enable }
    var ready: Bool? { status?.ready }
    /// Linux's test of a quiet device: the controller disabled (and ready bit followed), or the
    /// function may not master the bus.
    var quiet: Bool { busMaster == false || (controllerEnabled == false && ready == false) }

    /// Runs `probe BDF` and parses its `pci-command`, `nvme-cc`, `nvme-csts` and `error:` lines.
    init(probe: String, address: PCIAddress) throws {
        guard let pipe = popen("\(probe) \(address)", "r") else { throw ScenarioFailure("cannot start \(probe): errno \(errno)") }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), pipe) != nil {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let words = text.split(separator: " ").map { String($0).trimmingWhitespace() }
            guard words.count >= 2 else { continue }
            let value = UInt64(words[1].hasPrefix("0x") ? String(words[1].dropFirst(2)) : words[1], radix: 16)
            switch words[0] {
            case "pci-command": command = value.flatMap { UInt16(exactly: $0) }
            case "nvme-cc": configuration = value.flatMap { UInt32(exactly: $0) }.map(ControllerConfiguration.init(rawValue:))
            case "nvme-csts": status = value.flatMap { UInt32(exactly: $0) }.map(ControllerStatus.init(rawValue:))
            case "error:": problems.append(words.dropFirst().joined(separator: " "))
            default: break
            }
        }
        let exitStatus = pclose(pipe)
        if exitStatus != 0 && problems.isEmpty { problems.append("\(probe) exited with status \(exitStatus)") }
    }

    var description: String {
        var parts: [String] = []
        parts.append(command.map { "PCI_COMMAND 0x\(String($0, radix: 16)) (bus master \(busMaster == true ? "on" : "off"))" } ?? "PCI_COMMAND unread")
        parts.append(configuration.map { "CC 0x\(String($0.rawValue, radix: 16)) (EN \($0.enable ? 1 : 0))" } ?? "CC unread")
        parts.append(status.map { "CSTS 0x\(String($0.rawValue, radix: 16)) (RDY \($0.ready ? 1 : 0))" } ?? "CSTS unread")
        return (parts + problems).joined(separator: ", ")
    }
}
