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
import NVMeEmulator
import Testing
import VFIO

/// Every error description can be printed whatever values its case holds: a library user's
/// process prints the errors it is given, so a description may never trap (a negative count
/// converted to `UInt64`, a sum that overflows, a force unwrap).
@Suite struct ErrorDescriptionTests {
    static let extremeInts = [Int.min, -1, 0, 1, Int.max]
    static let extremeUInt64s: [UInt64] = [0, 1, UInt64(Int64.max), .max]

    static var nvmeErrors: [NVMeError] {
        var all: [NVMeError] = [
            .commandFailed(command: "", status: NVMeStatus(rawValue: .max)),
            .timedOut(what: "", milliseconds: .min), .deviceMisbehaved(""), .controllerFatal(during: ""), .deviceRemoved,
            .unsupported(""), .submissionQueueFull(queue: .max), .noFreeCommandID(queue: .max),
            .misalignedBuffer(iova: .max), .foreignDMAMemory(iova: .max, buffer: .init(rawValue: .max), device: .init(rawValue: 0)),
            .noSuchNamespace(.max, available: []), .namespaceUnusable(.max, reason: ""), .namespaceNotAttached(.max), .optionalCommandUnsupported(command: "", reason: ""),
            .invalidArgument(""), .noInterruptVector(queue: .max), .closed, .malformedData(""), .recoveryFailed(reason: ""), .quiesced(reason: ""),
        ]
        for n in extremeInts {
            all += [.transferTooLarge(bytes: n, maximum: n), .bufferTooSmall(needed: n, actual: n),
                    .noQueuePairAvailable(granted: n), .timedOut(what: "x", milliseconds: n)]
            for lba in extremeUInt64s {
                all.append(.lbaOutOfRange(namespace: .max, lba: lba, blocks: n, capacity: lba))
            }
        }
        return all + vfioErrors.map { .vfio($0) }
    }

    static var vfioErrors: [VFIOError] {
        var all: [VFIOError] = [
            .vfioNotLoaded, .permissionDenied(path: ""), .invalidAddress("", reason: ""), .noHugepages,
            .groupNotViable(group: .min, others: []), .deviceMisbehaved(""), .noIOMMUModeNotAllowed,
            .groupBusy(group: .min), .regionNotMappable(index: .min, reason: ""),
        ]
        for n in extremeInts {
            all += [.iovaExhausted(requested: n), .interruptsUnavailable(kind: "", requested: n, available: n),
                    .dmaFault(iova: .max, length: n), .timedOut(what: "", milliseconds: n)]
        }
        for v in extremeUInt64s {
            all += [.memlockTooLow(current: v, needed: v), .outOfRange(what: "", value: v, limit: v)]
        }
        for e in [Int32.min, -1, 0, 4095, Int32.max] { all.append(.system(operation: "", errno: e)) }
        return all
    }

    static var emulatorErrors: [EmulatorError] {
        var all: [EmulatorError] = [.invalidConfiguration([]), .invalidConfiguration(["", ""])]
        for e in [Int32.min, -1, 0, Int32.max] {
            all += [.backingFile(path: "", operation: "", errno: e), .threadStart(errno: e)]
            for n in extremeInts { all.append(.barAllocation(bytes: n, errno: e)) }
        }
        for v in extremeUInt64s { all.append(.backingFileSize(path: "", bytes: v, needed: v)) }
        return all
    }

    @Test func nvmeErrorDescriptionsNeverTrap() {
        for error in Self.nvmeErrors {
            #expect(!error.description.isEmpty && !error.description.contains("\n"), "\(error)")
        }
    }

    @Test func vfioAndEmulatorErrorDescriptionsNeverTrap() {
        for error in Self.vfioErrors { #expect(!error.description.isEmpty && !error.description.contains("\n")) }
        for error in Self.emulatorErrors { #expect(!error.description.isEmpty && !error.description.contains("\n")) }
    }

    /// The case: `ns.read(lba: 0, blocks: -1, ...)` throws, and printing the error
    /// trapped converting -1 to `UInt64`.
    @Test func negativeBlockCountIsDescribedNotTrapped() {
        let error = NVMeError.lbaOutOfRange(namespace: 1, lba: 0, blocks: -1, capacity: 2048)
        #expect(error.description == "-1 blocks at LBA 0 of namespace 1 (2048 blocks): a transfer moves 1 or more blocks; pass a positive count")
    }

    /// The same through the API a library user calls: every transfer method throws for a count
    /// below 1 before anything is submitted, and printing what it threw does not trap.
    @Test func transfersWithACountBelowOneThrowAnErrorThatPrints() throws {
        let rig = try Rig()
        let ns = try rig.controller.namespace(1)
        let buffer = try rig.device.dma.allocate(length: 4096)
        for blocks in [-1, Int.min] {
            var messages: [String] = []
            func capture(_ call: () throws(NVMeError) -> Void) {
                do throws(NVMeError) { try call() } catch { messages.append("\(error)") }
            }
            capture { () throws(NVMeError) in try ns.read(lba: 0, blocks: blocks, into: buffer.whole) }
            capture { () throws(NVMeError) in try ns.write(lba: 0, blocks: blocks, from: buffer.whole) }
            capture { () throws(NVMeError) in try ns.compare(lba: 0, blocks: blocks, with: buffer.whole) }
            capture { () throws(NVMeError) in try ns.writeZeroes(lba: 0, blocks: blocks) }
            capture { () throws(NVMeError) in try ns.deallocate(lba: 0, blocks: blocks) }
            #expect(messages == Array(repeating: "\(blocks) blocks at LBA 0 of namespace 1 (16384 blocks): a transfer moves 1 or more blocks; pass a positive count", count: 5))
        }
    }

    /// The spec layer's decoding errors, with the extremes of their values.
    @Test func dataStructureErrorDescriptionsNeverTrap() {
        var errors: [NVMeDataStructureError] = []
        for n in Self.extremeInts { errors.append(.bufferTooShort(structure: "", required: n, actual: n)) }
        for v in Self.extremeUInt64s { errors.append(.invalidField(structure: "", field: "", value: v)) }
        for error in errors { #expect(!error.description.isEmpty && !error.description.contains("\n")) }
    }

    /// A range that starts near 2^64 is printed with its true end, not wrapped around to 0.
    @Test func rangeEndingPastTwoToTheSixtyFourIsNotWrapped() {
        let error = NVMeError.lbaOutOfRange(namespace: 1, lba: .max, blocks: 1, capacity: 2048)
        #expect(error.description.hasPrefix("blocks 18446744073709551615..<18446744073709551616 are outside namespace 1"))
    }
}
