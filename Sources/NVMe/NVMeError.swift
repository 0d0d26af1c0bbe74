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

import VFIO

/// Every failure of the NVMe driver.
///
/// `description` is one line naming the cause and what to do about it, because it is what a user
/// of `vfioctl` reads. Cases carry small integers only where they can be raised on the I/O path
/// (backpressure), so throwing them never allocates.
public enum NVMeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The VFIO layer failed (mapping, interrupts, config space).
    case vfio(VFIOError)
    /// A command completed with an error status. `command` names it ("Identify Controller",
    /// "Read", ...); the status is decoded to its spec name.
    case commandFailed(command: String, status: NVMeStatus)
    /// A wait for the controller ran out of time: `what` names the condition or the command.
    case timedOut(what: String, milliseconds: Int)
    /// The device reported something impossible; the string says what and where it was checked.
    case deviceMisbehaved(String)
    /// CSTS.CFS is set: the controller hit a fatal error (NVMe base 1.4, 10.5); only a reset helps.
    case controllerFatal(during: String)
    /// The device was removed: the kernel asked for it back (the device request interrupt,
    /// a hot-unplug or an unbind) or its registers read all ones (surprise removal, a dead
    /// link). Commands in flight fail with this; the controller is failed for good.
    case deviceRemoved
    /// The controller lacks something the driver needs (e.g. the NVM command set, 4 KiB pages).
    case unsupported(String)
    /// The controller lacks an optional admin command (Namespace Management and Attachment
    /// without OACS bit 3, or an opcode it refuses): `reason` says how it said so.
    case optionalCommandUnsupported(command: String, reason: String)
    /// A submission queue has no free slot: reap completions, then submit again (backpressure).
    case submissionQueueFull(queue: UInt16)
    /// Every command id of the queue is in flight: reap completions, then submit again.
    case noFreeCommandID(queue: UInt16)
    /// A transfer is larger than one command can carry (MDTS, capped so one PRP list page suffices).
    case transferTooLarge(bytes: Int, maximum: Int)
    /// A data buffer's IOVA is not dword aligned, as PRP entries require (NVMe base 1.4, 4.3).
    case misalignedBuffer(iova: UInt64)
    /// A buffer is smaller than the blocks it must hold.
    case bufferTooSmall(needed: Int, actual: Int)
    /// A data slice mapped in another IOVA space (another device's IOMMU domain) than the
    /// controller's: its IOVA would name this device's own memory.
    case foreignDMAMemory(iova: UInt64, buffer: DMADomain, device: DMADomain)
    /// An LBA range outside the namespace (checked on the host before anything is submitted).
    case lbaOutOfRange(namespace: UInt32, lba: UInt64, blocks: Int, capacity: UInt64)
    /// No active namespace with this id.
    case noSuchNamespace(UInt32, available: [UInt32])
    /// The namespace was active and is no longer attached to this controller (detached or deleted
    /// while the driver ran: a rescan or the device said so); its I/O fails with this.
    case namespaceNotAttached(UInt32)
    /// The namespace exists but the driver cannot do I/O to it (e.g. a 32-bit guard).
    case namespaceUnusable(UInt32, reason: String)
    /// A data-only call on a namespace formatted with metadata (it needs a metadata buffer or PRACT).
    case metadataRequired(namespace: UInt32, metadataSize: Int)
    /// An argument outside what the API accepts.
    case invalidArgument(String)
    /// More queue pairs than the controller granted (Set Features Number of Queues).
    case noQueuePairAvailable(granted: Int)
    /// An interrupt-driven completion mode on a queue pair that has no interrupt vector.
    case noInterruptVector(queue: UInt16)
    /// The controller was closed; create a new one.
    case closed
    /// An identify or log page from the device did not decode.
    case malformedData(String)
    /// Error recovery could not bring the controller back (the reset timed out, CSTS.CFS stayed
    /// set, the device vanished); the controller is failed for good and every call throws this.
    case recoveryFailed(reason: String)
    /// The driver stopped the controller (CC.EN = 0, or a function reset, or bus mastering off)
    /// after `reason`, so that memory the device could reach could be released or reused safely;
    /// it stays stopped until `Controller.reset()` (with recovery disabled).
    case quiesced(reason: String)

    public var description: String {
        switch self {
        case .vfio(let error):
            return error.description
        case .commandFailed(let command, let status):
            let advice = status.doNotRetry ? "do not retry; check the command's parameters" : "the command may succeed if retried"
            return "\(command) failed with \(status); \(advice)"
        case .timedOut(let what, let ms):
            return "timed out after \(ms) ms waiting for \(what); the controller may be hung: reset it (Controller.reset(), or enable RecoveryPolicy) or raise the timeout"
        case .deviceMisbehaved(let what):
            return "device misbehaved: \(what); the value was rejected, not used; reset the controller or check the hardware"
        case .controllerFatal(let during):
            return "controller fatal status (CSTS.CFS) set during \(during); reset the controller (CC.EN off and on) or power-cycle the device"
        case .deviceRemoved:
            return "device removed (the kernel asked for it back, or its registers read all ones): commands in flight failed, completed ones stand; once the device is back, bind it (vfioctl bind) and open it again"
        case .unsupported(let what):
            return "controller not supported: \(what); use the kernel's nvme driver for this device"
        case .optionalCommandUnsupported(let command, let reason):
            return "this controller does not support \(command) (\(reason)); use a controller that has it (OACS), or manage its namespaces another way"
        case .submissionQueueFull(let queue):
            return "submission queue \(queue) is full; reap completions before submitting more"
        case .noFreeCommandID(let queue):
            return "all command ids of queue \(queue) are in flight; reap completions before submitting more"
        case .transferTooLarge(let bytes, let maximum):
            return "a transfer of \(bytes) bytes exceeds the per-command maximum of \(maximum) bytes; split it (the Namespace API does)"
        case .misalignedBuffer(let iova):
            return "buffer IOVA 0x\(String(iova, radix: 16)) is not 4-byte aligned as PRP entries require; use a dword-aligned DMA slice"
        case .bufferTooSmall(let needed, let actual):
            return "buffer holds \(actual) bytes but the transfer needs \(needed); pass a larger DMA slice"
        case .foreignDMAMemory(let iova, let buffer, let device):
            return "the buffer at IOVA 0x\(String(iova, radix: 16)) is mapped in \(buffer), not this controller's \(device) (there it would name other memory); allocate it from this controller's device.dma, or copy it"
        case .lbaOutOfRange(let ns, let lba, let blocks, let capacity):
            guard blocks > 0 else {
                return "\(blocks) blocks at LBA \(lba) of namespace \(ns) (\(capacity) blocks): a transfer moves 1 or more blocks; pass a positive count"
            }
            // In 128 bits: the end of a range that starts near 2^64 must not wrap around to 0.
            let end = UInt128(lba) + UInt128(blocks)
            return "blocks \(lba)..<\(end) are outside namespace \(ns) (\(capacity) blocks); use an LBA below its capacity"
        case .noSuchNamespace(let id, let available):
            let list = available.isEmpty ? "none" : available.map { String($0) }.joined(separator: ", ")
            return "no active namespace \(id) (active: \(list)); pick one of those"
        case .namespaceNotAttached(let id):
            return "namespace \(id) is no longer attached to this controller (it was detached or deleted while in use); attach it again (vfioctl nvme ns attach --nsid \(id)) or use an active namespace"
        case .namespaceUnusable(let id, let reason):
            return "namespace \(id) cannot be used: \(reason); reformat it with a supported LBA format"
        case .metadataRequired(let id, let size):
            return "namespace \(id) has \(size) bytes of metadata per block, which the data-only calls do not move; "
                + "use the calls that take metadata and protection (submitRead(…, metadata:, protection:)) or Namespace.read/write"
        case .invalidArgument(let what):
            return "invalid argument: \(what); correct the call"
        case .noQueuePairAvailable(let granted):
            return "all \(granted) I/O queue pairs the controller granted are in use; drop one or ask for more in ControllerOptions"
        case .noInterruptVector(let queue):
            return "queue pair \(queue) has no MSI-X vector; create it with interrupts (enough vectors) or use poll mode"
        case .closed:
            return "the controller was closed; open it again"
        case .malformedData(let what):
            return "malformed data from the device: \(what); the controller's firmware is faulty or the DMA buffer was overwritten"
        case .recoveryFailed(let reason):
            return "controller recovery failed: \(reason); close the controller, then reset or power-cycle the device (or rebind it) before opening it again"
        case .quiesced(let reason):
            return "the controller was stopped after \(reason) so that no DMA could reach released memory; call Controller.reset() to use it again, or enable RecoveryPolicy"
        }
    }
}

extension NVMeError {
    /// Wraps a VFIO error thrown by the device layer.
    @inlinable
    static func from(_ error: VFIOError) -> NVMeError { .vfio(error) }
}

extension DMAAllocator {
    /// `allocate` with the error wrapped for the NVMe layer.
    func allocateForNVMe(length: Int) throws(NVMeError) -> DMABuffer {
        do {
            return try allocate(length: length)
        } catch {
            throw .vfio(error)
        }
    }

    /// A slab of `count` page-sized chunks (PRP list pages), with the error wrapped.
    func pageSlabForNVMe(count: Int) throws(NVMeError) -> DMASlab {
        do {
            return try DMASlab(allocator: self, chunkSize: PRPBuilder.pageSize, count: count)
        } catch {
            throw .vfio(error)
        }
    }
}
