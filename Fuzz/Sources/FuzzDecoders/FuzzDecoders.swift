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

import FuzzSupport
import NVMe

/// Every decoder of device data (Identify Controller/Namespace, the active namespace list, the
/// namespace identification descriptors, SMART and error log pages, CQEs, SQEs, DSM ranges) on
/// arbitrary bytes of arbitrary length: it throws or decodes, never traps or reads out of bounds
/// (AddressSanitizer), and what it decodes survives an encode/decode round trip unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let selector = input.byte()
    let bytes = input.rest()
    switch selector % 9 {
    case 0: roundTrip(IdentifyController.self, bytes)
    case 1: roundTrip(IdentifyNamespace.self, bytes)
    case 2: roundTrip(ActiveNamespaceList.self, bytes)
    case 3: roundTrip(NamespaceIdentificationDescriptorList.self, bytes)
    case 4: roundTrip(SMARTHealthLog.self, bytes)
    case 5: roundTrip(ErrorInformationEntry.self, bytes)
    case 6: roundTrip(CompletionQueueEntry.self, bytes)
    case 7: roundTrip(SubmissionQueueEntry.self, bytes)
    default: roundTrip(DatasetManagementRange.self, bytes)
    }
    // Values the driver derives from decoded data, with their own overflow checks.
    if let id = try? IdentifyController(bytes: bytes) {
        for page in [4096, 8192, 1 << 16, 1 << 27] {
            if let bytes = id.maximumDataTransferSize(minimumPageSize: page) { fuzzCheck(bytes >= page, "MDTS \(id.mdts) gave \(bytes) < \(page)") }
        }
        _ = id.requiredSubmissionQueueEntrySize
        _ = id.requiredCompletionQueueEntrySize
    }
    if let ns = try? IdentifyNamespace(bytes: bytes) {
        _ = ns.blockSize
        _ = ns.sizeInBytes
        _ = ns.currentFormat
    }
    if let cqe = try? CompletionQueueEntry(bytes: bytes) {
        _ = cqe.status.description
        _ = cqe.status.isSuccess
    }
    return 0
}

func roundTrip<T: NVMeDataStructure & Equatable>(_: T.Type, _ bytes: [UInt8]) {
    guard let value = try? T(bytes: bytes) else { return }
    fuzzCheck(bytes.count >= T.encodedSize || T.self == NamespaceIdentificationDescriptorList.self,
              "\(T.self) decoded from \(bytes.count) bytes, fewer than its \(T.encodedSize)")
    let encoded: [UInt8]
    do {
        encoded = try value.encoded()
    } catch {
        fuzzCheck(false, "\(T.self) decoded but does not encode: \(error)")
        return
    }
    fuzzCheck(encoded.count == T.encodedSize, "\(T.self) encoded to \(encoded.count) bytes")
    let again = try? T(bytes: encoded)
    fuzzCheck(again == value, "\(T.self) changed in an encode/decode round trip")
}
