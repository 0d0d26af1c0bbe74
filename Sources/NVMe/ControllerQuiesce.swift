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

import Logging
import Synchronization
import VFIO

/// How `Controller.quiesce` proved the device can no longer write host memory.
public enum QuietProof: Sendable, Equatable, CustomStringConvertible {
    /// CC.EN = 0 and CSTS.RDY followed within CAP.TO: the controller dropped its queues and
    /// every transfer with them (NVMe base 1.4, 7.3.2).
    case controllerDisabled
    /// The function level reset (VFIO_DEVICE_RESET) completed and CSTS.RDY reads 0.
    case functionReset
    /// PCI_COMMAND.MASTER reads back clear: the function may not master the bus (PCI 3.0, 6.2.2).
    case busMasterOff
    /// Config space reads all ones (vendor and device ID): the function is gone from the bus
    /// (surprise removal, a dead link) and can master nothing; Linux's `nvme_remove` frees such a
    /// device's memory at once (`pci_device_is_present`).
    case functionGone

    public var description: String {
        switch self {
        case .functionGone: return "function gone (config space reads all ones)"
        case .controllerDisabled: return "controller disabled (CC.EN = 0, CSTS.RDY = 0)"
        case .functionReset: return "function level reset"
        case .busMasterOff: return "bus master off (PCI_COMMAND.MASTER = 0)"
        }
    }
}

// MARK: - Quiesce: nothing is freed while the device can still write it
//
// Linux's rule (nvme_dev_disable, then pcie_flr, then pci_clear_master): after a failure, no
// command is completed and no memory is released until the device is provably quiet. Every path
// here that gives up on commands (a Delete I/O Queue that fails or never completes, an admin or
// I/O timeout with recovery off, a failed reset, close) calls `quiesce` first. When nothing can
// prove the device quiet, the device's DMA allocator stops releasing (`keepMappings`): memory is
// given up, counted and logged once, rather than handed to its next owner under a live device.

extension Controller {
    /// Nothing if the function is gone; else CC.EN = 0 within CAP.TO; else a function level
    /// reset; else bus master off. Returns the step that worked, or nil when none did (then
    /// nothing of the device's DMA memory is ever unmapped again). Static, so bring-up can use it
    /// before `self` exists.
    static func quiesceDevice(registers: MMIORegion, device: Device, readyTimeout: Int, reason: String, logger: Logger) -> QuietProof? {
        // First: on a missing function every register and config read is all ones, so no later
        // step could be read back, and none is needed.
        if functionIsGone(device) { return .functionGone }
        do {
            try disable(registers: registers, device: device, timeoutMilliseconds: readyTimeout)
            return .controllerDisabled
        } catch {
            logger.warning("NVMe \(device.name): CC.EN = 0 did not quiesce the controller (\(error)); trying a function level reset")
        }
        do {
            try device.reset()
            device.service()
            let status = registers.read(ControllerRegister.status)
            if !status.looksDisconnected && !status.ready { return .functionReset }
            logger.warning("NVMe \(device.name): CSTS reads 0x\(String(status.rawValue, radix: 16)) after the function level reset; turning bus mastering off")
        } catch {
            logger.warning("NVMe \(device.name): function level reset failed (\(error)); turning bus mastering off")
        }
        if clearBusMaster(device) { return .busMasterOff }
        logger.error(
            "NVMe \(device.name): could not quiesce the device after \(reason) (CC.EN = 0, function level reset and bus master off all failed); its DMA memory stays mapped until the process exits")
        device.dma.keepMappings(because: "NVMe \(device.name) could not be quiesced after \(reason)")
        return nil
    }

    /// True when the vendor and device ID read all ones, as config reads of a missing PCIe
    /// function complete (Linux `pci_device_is_present`); false when config space cannot be read.
    static func functionIsGone(_ device: Device) -> Bool {
        (try? device.readConfig32(at: 0)) == UInt32.max
    }

    /// Clears PCI_COMMAND.MASTER through config space (vfio-pci passes it to the function) and
    /// reads it back: true only when the function reports it clear.
    static func clearBusMaster(_ device: Device) -> Bool {
        let offset = 0x04, master: UInt16 = 1 << 2
        do {
            let command = try device.readConfig16(at: offset)
            guard command != 0xFFFF else { return false }
            try device.writeConfig16(command & ~master, at: offset)
            return try device.readConfig16(at: offset) & master == 0
        } catch {
            return false
        }
    }

    /// Makes the device quiet before memory it could reach is released after `reason`, and
    /// records it: until a reset (`reset()`, or recovery) enables the controller again, waits,
    /// admin commands and queue creation throw `.quiesced`. With recovery enabled, a controller
    /// that was only disabled is reset at once, so the caller's next call just works.
    /// Returns whether the device is proven quiet.
    @discardableResult
    public func quiesce(reason: String) -> Bool {
        let proof: QuietProof? = recovery.withLock { state in
            quiesceHoldingRecoveryLock(&state, reason: reason)
        }
        guard let proof else { return false }
        if options.recovery.enabled, proof != .busMasterOff {
            try? recover(reason: "bringing the controller back after it was quiesced (\(reason))", observedGeneration: nil)
        }
        return true
    }

    /// `quiesce` for callers that hold the recovery lock (recovery itself, close).
    func quiesceHoldingRecoveryLock(_ state: inout RecoveryState, reason: String) -> QuietProof? {
        let proof = admin.withLock { _ -> QuietProof? in
            // From the first register write on, the device's I/O queues are gone.
            lifecycle.withLock { $0.onDevice.removeAll() }
            return Self.quiesceDevice(
                registers: registers, device: device, readyTimeout: readyTimeoutMilliseconds, reason: reason, logger: logger)
        }
        state.quiesces += 1
        if let proof {
            if state.quiesced == nil { state.quiesced = reason }
            quiescedFlag.store(true, ordering: .releasing)
            // After a removal this is the expected way out, which the error itself reports.
            logger.log(level: state.failure == .deviceRemoved ? .info : .warning, "NVMe \(device.name): quiesced after \(reason): \(proof)")
        } else if state.failure == nil {
            state.failure = .recoveryFailed(reason: "the device could not be quiesced after \(reason); its DMA memory stays mapped")
            failedFlag.store(true, ordering: .releasing)
        }
        state.lastQuietProof = proof
        return proof
    }

    /// Why the controller is stopped after a quiesce (until a reset), or nil.
    public var quiescedReason: String? {
        guard quiescedFlag.load(ordering: .acquiring) else { return nil }
        return recovery.withLock { $0.quiesced }
    }

    /// Times the driver quiesced the device, and how the last one was proven (nil: not proven).
    public var quiesceCount: Int { recovery.withLock { $0.quiesces } }
    public var lastQuietProof: QuietProof? { recovery.withLock { $0.lastQuietProof } }

    /// Throws `.quiesced` while the controller is stopped after a quiesce.
    func checkNotQuiesced() throws(NVMeError) {
        guard quiescedFlag.load(ordering: .acquiring) else { return }
        throw .quiesced(reason: recovery.withLock { $0.quiesced } ?? "an earlier failure")
    }
}
