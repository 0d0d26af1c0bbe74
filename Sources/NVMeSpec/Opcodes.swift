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

/// Admin command opcodes (NVMe base 1.4, 5).
public enum AdminOpcode: UInt8, Sendable, CaseIterable {
    case deleteIOSubmissionQueue = 0x00
    case createIOSubmissionQueue = 0x01
    case getLogPage = 0x02
    case deleteIOCompletionQueue = 0x04
    case createIOCompletionQueue = 0x05
    case identify = 0x06
    case abort = 0x08
    case setFeatures = 0x09
    case getFeatures = 0x0A
    case asynchronousEventRequest = 0x0C
    case namespaceManagement = 0x0D
    case firmwareCommit = 0x10
    case firmwareImageDownload = 0x11
    case deviceSelfTest = 0x14
    case namespaceAttachment = 0x15
    case keepAlive = 0x18
    case directiveSend = 0x19
    case directiveReceive = 0x1A
    case virtualizationManagement = 0x1C
    case nvmeMISend = 0x1D
    case nvmeMIReceive = 0x1E
    case doorbellBufferConfig = 0x7C
    case formatNVM = 0x80
    case securitySend = 0x81
    case securityReceive = 0x82
    case sanitize = 0x84
    case getLBAStatus = 0x86
}

/// NVM command set I/O opcodes (NVMe base 1.4, 6).
public enum IOOpcode: UInt8, Sendable, CaseIterable {
    case flush = 0x00
    case write = 0x01
    case read = 0x02
    case writeUncorrectable = 0x04
    case compare = 0x05
    case writeZeroes = 0x08
    case datasetManagement = 0x09
    case verify = 0x0C
    case reservationRegister = 0x0D
    case reservationReport = 0x0E
    case reservationAcquire = 0x11
    case reservationRelease = 0x15
}

/// Identify CNS values (NVMe base 1.4, 5.15.1).
public enum IdentifyCNS: UInt8, Sendable, CaseIterable {
    case namespace = 0x00
    case controller = 0x01
    case activeNamespaceList = 0x02
    case namespaceIdentificationDescriptors = 0x03
    /// Allocated namespace list (5.15.2, CNS 10h): NSIDs that exist in the subsystem, attached or not.
    case allocatedNamespaceList = 0x10
}

/// Data transfer direction encoded in opcode bits 1:0 (NVMe base 1.4, 5 and 6, opcode tables).
public enum DataTransferDirection: UInt8, Sendable {
    case none = 0b00
    case hostToController = 0b01
    case controllerToHost = 0b10
    case bidirectional = 0b11

    @inlinable
    public init(opcode: UInt8) { self = DataTransferDirection(rawValue: opcode & 0b11)! }
}
