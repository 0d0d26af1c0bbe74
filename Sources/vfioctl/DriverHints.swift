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
import NICWorkload
import NVMe
import NVMeWorkload
import VFIO
import VFIOHost

/// The NVMe and NIC errors whose library fix names library API (`ControllerOptions`,
/// `RecoveryPolicy`, `Controller.reset()`, a DMA slice): a CLI user has none of it, so the tool
/// keeps the cause and gives the fix in its own terms (a flag, running the command again). nil
/// where the library's words fit a CLI user too.
func toolMessage(for error: NVMeError) -> String? {
    let cause = HostError.splitAtFix(error.description).cause
    switch error {
    case .noQueuePairAvailable:
        return "\(cause); ask for more with --io-queues, or use fewer --queues"
    case .timedOut:
        return "\(cause); the controller may be hung: run the command again (opening the device resets the controller), or reset or power-cycle the device"
    case .quiesced:
        return "\(cause); run the command again (opening the device resets the controller)"
    case .recoveryFailed:
        return "\(cause); reset or power-cycle the device (or unbind and bind it again), then run the command again"
    case .controllerFatal:
        return "\(cause); run the command again (opening the device resets the controller), or power-cycle the device"
    case .noInterruptVector:
        return "\(cause); use --mode poll"
    case .transferTooLarge:
        return "\(cause); use a smaller --bs"
    case .submissionQueueFull, .noFreeCommandID, .misalignedBuffer, .bufferTooSmall, .foreignDMAMemory, .invalidArgument:
        // The tool's own use of the library went wrong: nothing on the command line can fix it.
        return "\(cause); this is a bug in vfioctl: please report it with the command line"
    default:
        return nil
    }
}

/// The same for the NIC driver.
func toolMessage(for error: NICError) -> String? {
    let cause = HostError.splitAtFix(error.description).cause
    switch error {
    case .noInterruptVector:
        return "\(cause); use --mode poll"
    case .resetTimedOut:
        return "\(cause); run the command again (vfio-pci resets the function when it is opened), or restart the machine"
    default:
        return nil
    }
}

/// The tool's line for an NVMe or NIC error (also inside a workload's error); nil for any other
/// error, and where the library's words stand. VFIO errors inside them go through
/// `toolMessage(for: VFIOError)` first.
func driverMessage(for error: any Error) -> String? {
    switch error {
    case let nvme as NVMeError: return toolMessage(for: nvme)
    case WorkloadError.nvme(let nvme): return toolMessage(for: nvme)
    case let nic as NICError: return toolMessage(for: nic)
    case NICWorkloadError.nic(let nic): return toolMessage(for: nic)
    default: return nil
    }
}
