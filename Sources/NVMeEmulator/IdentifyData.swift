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

import NVMeSpec
import VFIO

extension ControllerEngine {
    /// Identify (5.15): CNS 00h namespace, 01h controller, 02h active namespace list, 03h
    /// namespace identification descriptors. 4096 bytes to PRP1/PRP2.
    mutating func identify(_ sqe: SubmissionQueueEntry) -> CommandOutcome {
        let nsid = sqe.namespaceID
        var data = [UInt8](repeating: 0, count: 4096)
        switch sqe.identifyCNS {
        case IdentifyCNS.namespace.rawValue:
            if let index = activeNamespaceIndex(nsid) {
                encode(identifyNamespace(index), into: &data)
                // DLFEAT (byte 33): deallocated blocks read as zeroes (001b), Write Zeroes may deallocate (bit 3).
                data[33] = 0x09
            } else if !isValidNamespaceID(nsid) {
                return CommandOutcome(status: .invalidNamespaceOrFormat.withDoNotRetry())
            }  // An allocated, inactive (detached) NSID reads as zeroes (5.15.2.2), as in QEMU.
        case 0x05 where sqe.cdw11 >> 24 == 0:
            // I/O command set specific namespace, NVM command set (CSI 00h): ELBAF0's guard format.
            guard let index = activeNamespaceIndex(nsid) else { return CommandOutcome(status: .invalidNamespaceOrFormat.withDoNotRetry()) }
            encode(identifyNVMNamespace(index), into: &data)
        case IdentifyCNS.controller.rawValue:
            encode(identifyController(), into: &data)
        case IdentifyCNS.activeNamespaceList.rawValue:
            guard nsid < 0xFFFF_FFFE else { return CommandOutcome(status: .invalidNamespaceOrFormat.withDoNotRetry()) }
            let ids = (1...UInt32(namespaces.count)).filter { $0 > nsid && !attachment.detached.contains($0) }
            encode(ActiveNamespaceList(namespaceIDs: Array(ids.prefix(ActiveNamespaceList.capacity))), into: &data)
        case IdentifyCNS.allocatedNamespaceList.rawValue:
            guard nsid < 0xFFFF_FFFE else { return CommandOutcome(status: .invalidNamespaceOrFormat.withDoNotRetry()) }
            let ids = (1...UInt32(namespaces.count)).filter { $0 > nsid && isAllocatedNamespace($0) }
            encode(ActiveNamespaceList(namespaceIDs: Array(ids.prefix(ActiveNamespaceList.capacity))), into: &data)
        case IdentifyCNS.namespaceIdentificationDescriptors.rawValue:
            guard let index = activeNamespaceIndex(nsid) else { return CommandOutcome(status: .invalidNamespaceOrFormat.withDoNotRetry()) }
            let ids = namespaceIdentifiers(index)
            encode(NamespaceIdentificationDescriptorList(descriptors: [
                NamespaceIdentificationDescriptor(type: .eui64, identifier: ids.eui64),
                NamespaceIdentificationDescriptor(type: .nguid, identifier: ids.nguid),
                NamespaceIdentificationDescriptor(type: .uuid, identifier: ids.uuid),
            ]), into: &data)
        default:
            return CommandOutcome(status: .invalidFieldInCommand.withDoNotRetry())
        }
        if let forged = identifyOverrides[sqe.identifyCNS] { data = forged }
        let status = data.withUnsafeBytes { copyToHost(sqe, $0) }
        return CommandOutcome(status: status, bytes: status.isSuccess ? 4096 : 0)
    }

    /// The array index of an active NSID (1...NN, attached), or nil for 0, broadcast, unknown
    /// and detached ids.
    func activeNamespaceIndex(_ nsid: UInt32) -> Int? {
        guard isValidNamespaceID(nsid), !attachment.detached.contains(nsid) else { return nil }
        return Int(nsid) - 1
    }

    func encode<T: NVMeDataStructure>(_ value: T, into data: inout [UInt8]) {
        data.withUnsafeMutableBytes { raw in
            // The buffer is always the structure's full 4096 bytes; an encode error would be a bug here.
            do { try value.encode(into: raw) } catch { preconditionFailure("encoding \(T.self): \(error)") }
        }
    }

    func identifyController() -> IdentifyController {
        var id = IdentifyController()
        id.vendorID = 0x1B36
        id.subsystemVendorID = 0x1AF4
        id.serialNumber = configuration.serialNumber
        id.modelNumber = configuration.modelNumber
        id.firmwareRevision = "1.0"
        id.recommendedArbitrationBurst = 6
        id.ieeeOUI = 0x525400
        id.mdts = configuration.maxDataTransferSize
        id.controllerID = Self.controllerID
        id.version = .v1_4
        id.abortCommandLimit = UInt8(Self.abortLimit - 1)
        id.asyncEventRequestLimit = UInt8(Self.eventRequestLimit - 1)
        // OAES bit 8: Namespace Attribute Notices; CMIC bit 1: the controller may be one of several.
        id.oaes = 1 << 8
        // OACS bit 3: Namespace Management and Namespace Attachment (`NamespaceChanges.swift`).
        id.oacs.insert(.namespaceManagement)
        id.cmic = 0x02
        id.frmw = 0x03
        id.errorLogPageEntries = UInt8(Self.errorLogEntries - 1)
        id.wctemp = 343
        id.cctemp = 373
        id.sqes = 0x66
        id.cqes = 0x44
        id.maxcmd = 0
        id.numberOfNamespaces = UInt32(namespaces.count)
        id.oncs = [.compare, .datasetManagement, .writeZeroes]
        id.sgls = configuration.sgls.rawValue
        // CTRATT bit 15 (ELBAS): Identify CNS 05h reports each namespace's guard format.
        id.ctratt |= 1 << 15
        // VWC bits 2:1 = 11b: Flush with NSID FFFFFFFFh applies to all namespaces (5.15.2.1).
        id.volatileWriteCache = configuration.volatileWriteCache ? 0x07 : 0x00
        id.subsystemNQN = "nqn.2024-01.io.swift-vfio:emulated:\(configuration.serialNumber)"
        return id
    }

    func identifyNamespace(_ index: Int) -> IdentifyNamespace {
        let ns = configuration.namespaces[index]
        var id = IdentifyNamespace()
        let blocks = namespaceBlocks(index)
        id.size = blocks
        id.capacity = blocks
        id.utilization = min(blocks, namespaces[index].allocatedBytes / UInt64(ns.blockSize))
        id.features = 0x01  // thin provisioned: NUSE counts what is allocated
        id.optimalIOBoundary = ns.optimalIOBoundary
        if ns.preferredWriteGranularity > 0 {
            id.features |= 0x10  // OPTPERF: NPWG (and the other performance fields) are valid
            id.preferredWriteGranularity = ns.preferredWriteGranularity - 1
        }
        id.numberOfLBAFormats = 0
        id.formattedLBASize = 0
        var formats = id.lbaFormats
        formats[0] = LBAFormat(metadataSize: UInt16(ns.metadataSize), lbaDataSize: ns.blockSize == 4096 ? 12 : 9)
        id.lbaFormats = formats
        id.extendedLBA = ns.extendedLBA
        if ns.metadataSize > 0 {
            id.metadataCapabilities = 0x3  // MC: extended and separate metadata
            id.dataProtectionCapabilities = 0x1F  // DPC: types 1-3, tuple first or last
            id.dataProtectionSettings = IdentifyNamespace.dataProtectionSettings(ns.protection, first: ns.protectionFirst)
        }
        let ids = namespaceIdentifiers(index)
        id.nguid = ids.nguid
        id.eui64 = ids.eui64
        return id
    }

    /// CNS 05h, CSI 00h: PIC says both guards are offered, ELBAF0 which one the namespace uses.
    func identifyNVMNamespace(_ index: Int) -> IdentifyNVMNamespace {
        var id = IdentifyNVMNamespace()
        id.protectionInformationCapabilities = 0b101
        id.extendedFormats[0] = ExtendedLBAFormat(protectionInformationFormat: configuration.namespaces[index].guardFormat.rawValue)
        return id
    }

    /// Stable identifiers derived from the serial number and NSID.
    func namespaceIdentifiers(_ index: Int) -> (eui64: [UInt8], nguid: [UInt8], uuid: [UInt8]) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in configuration.serialNumber.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        var generator = SeededGenerator(seed: hash ^ UInt64(index + 1))
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
        let eui = [0x52, 0x54, 0x00] + bytes(5)
        let nguid = bytes(16)
        var uuid = bytes(16)
        uuid[6] = uuid[6] & 0x0F | 0x40  // version 4
        uuid[8] = uuid[8] & 0x3F | 0x80  // RFC 4122 variant
        return (eui, nguid, uuid)
    }
}
