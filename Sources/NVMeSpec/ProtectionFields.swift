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

/// The protection fields of Read, Write and Compare (NVMe base 1.4, 6.9/6.15/6.2; NVM command set
/// 1.0, 3.2.3 for the 48-bit tag): PRINFO in CDW12 bits 29:26, the initial reference tag in CDW14
/// (bits 47:32 in CDW3 bits 15:0 for the 64-bit guard), ELBAT and ELBATM in CDW15.
extension SubmissionQueueEntry {
    /// CDW12 bits 29:26.
    @inlinable public var protectionAction: ProtectionInformationAction {
        get { ProtectionInformationAction(rawValue: UInt8(truncatingIfNeeded: cdw12.bits(26..<30))) }
        set { cdw12.setBits(26..<30, to: UInt32(newValue.rawValue)) }
    }
    /// CDW14, with CDW3 bits 15:0 as bits 47:32 (zero for the 16-bit guard, whose tag is 32 bits).
    @inlinable public var initialReferenceTag: UInt64 {
        get { UInt64(cdw3 & 0xFFFF) << 32 | UInt64(cdw14) }
        set {
            cdw14 = UInt32(truncatingIfNeeded: newValue)
            cdw3 = cdw3 & ~0xFFFF | UInt32(truncatingIfNeeded: newValue >> 32) & 0xFFFF
        }
    }
    /// CDW15 bits 15:0 (ELBAT/LBAT).
    @inlinable public var applicationTag: UInt16 {
        get { UInt16(truncatingIfNeeded: cdw15) }
        set { cdw15 = cdw15 & 0xFFFF_0000 | UInt32(newValue) }
    }
    /// CDW15 bits 31:16 (ELBATM/LBATM).
    @inlinable public var applicationTagMask: UInt16 {
        get { UInt16(truncatingIfNeeded: cdw15 >> 16) }
        set { cdw15 = cdw15 & 0xFFFF | UInt32(newValue) << 16 }
    }
    /// The expected tags as one value.
    @inlinable public var protectionTags: ProtectionTags {
        get { ProtectionTags(referenceTag: initialReferenceTag, applicationTag: applicationTag, applicationTagMask: applicationTagMask) }
        set {
            initialReferenceTag = newValue.referenceTag
            applicationTag = newValue.applicationTag
            applicationTagMask = newValue.applicationTagMask
        }
    }

    /// Identify, I/O command set specific namespace (CNS 05h) of the NVM command set (CDW11 CSI 00h).
    @inlinable
    public static func identifyNVMNamespace(namespaceID: UInt32) -> SubmissionQueueEntry {
        SubmissionQueueEntry(opcode: AdminOpcode.identify.rawValue, namespaceID: namespaceID, cdw10: 0x05, cdw11: 0)
    }
}
