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
import VFIO

/// `nvme identify`'s lines about the Controller Memory Buffer and the Persistent Memory Region
/// (NVMe base 1.4, 3.1.11-13): where they are, what they take, and why a CMB is not used.
extension Controller {
    var memoryBufferDescription: String {
        guard let cmb = controllerMemoryBuffer else {
            if let why = controllerMemoryBufferUnusable { return "present, not used: \(why)" }
            return "none"
        }
        let size = cmb.size
        let takes = [(size.submissionQueues, "SQs"), (size.completionQueues, "CQs"), (size.lists, "PRP/SGL lists"),
                     (size.readData, "read data"), (size.writeData, "write data")].filter { $0.0 }.map { $0.1 }
        return "\(humanBytes(cmb.bytes)) in BAR\(cmb.bar) at offset \(cmb.offset), takes \(takes.isEmpty ? "nothing" : takes.joined(separator: ", "))"
    }

    /// Nil without CAP.PMRS.
    var persistentMemoryDescription: String? {
        guard let pmr = persistentMemoryCapabilities else { return nil }
        let takes = [(pmr.readData, "read data"), (pmr.writeData, "write data")].filter { $0.0 }.map { $0.1 }
        let unit = pmr.timeUnits == 0 ? "500 ms" : "minute"
        return "in BAR\(pmr.baseIndicator), takes \(takes.isEmpty ? "nothing" : takes.joined(separator: ", ")), ready within \(pmr.timeout) x \(unit) (PMRCAP 0x\(String(pmr.rawValue, radix: 16)))"
    }

    var memoryBufferJSON: JSON {
        guard let cmb = controllerMemoryBuffer else {
            return .object([("used", .bool(false)), ("reason", .optional(controllerMemoryBufferUnusable))])
        }
        return .object([
            ("used", .bool(true)), ("bar", .int(cmb.bar)), ("offset", .uint(cmb.offset)), ("bytes", .uint(cmb.bytes)),
            ("submission_queues", .bool(cmb.size.submissionQueues)), ("cmbsz", .uint(UInt64(cmb.size.rawValue))),
        ])
    }
}
