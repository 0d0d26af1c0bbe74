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
import VFIO

extension Controller {
    /// The guard format of a protected namespace: ELBAF.PIF of its format in the NVM command set's
    /// Identify Namespace (CNS 05h), asked only where CTRATT bit 15 (ELBAS) says the controller
    /// has it; otherwise (NVMe before 2.0) the 16-bit guard. Device data: a 32-bit guard or a
    /// storage tag, which the driver does not compute, makes the namespace unusable with the reason.
    static func guardFormat(
        _ id: UInt32, identify data: IdentifyNamespace, controller: IdentifyController, admin: inout AdminQueue, device: Device,
        registers: MMIORegion, timeout: Int, logger: Logger
    ) throws(NVMeError) -> GuardFormat {
        guard let type = data.protectionType, type != .disabled, controller.ctratt & (1 << 15) != 0 else { return .crc16 }
        let nvm: IdentifyNVMNamespace = try identify(
            .identifyNVMNamespace(namespaceID: id), name: "Identify NVM Namespace \(id)", admin: &admin, device: device,
            registers: registers, timeout: timeout, logger: logger)
        // FLBAS bits 3:0 index at most 16 of the 64 entries.
        let format = nvm.extendedFormats[data.currentFormatIndex]
        guard format.storageTagSize == 0 else {
            throw .namespaceUnusable(id, reason: "its format has \(format.storageTagSize) storage tag bits, which the driver does not support")
        }
        guard let guardFormat = format.guardFormat else {
            throw .namespaceUnusable(id, reason: "PIF \(format.protectionInformationFormat) (not the 16- or 64-bit guard) is not supported")
        }
        return guardFormat
    }
}
