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

/// A fatal transport error: the connection is terminated with a C2HTermReq carrying `status`
/// (FES) and `information` (FEI), then closed (NVMe/TCP 1.0, 3.6.2.9 and 7.4.1; Linux
/// `enum nvme_tcp_fatal_error_status`). Never a trap: every malformed or out-of-sequence PDU ends here.
public struct TransportFatalError: Error, Hashable, Sendable, CustomStringConvertible {
    /// FES, Fatal Error Status.
    public enum Status: UInt16, Sendable, CaseIterable {
        /// A header field is invalid; FEI is its byte offset in the PDU.
        case invalidHeaderField = 0x01
        /// A PDU arrived that the protocol's state does not allow (e.g. a capsule before ICReq).
        case pduSequenceError = 0x02
        /// The header digest does not match.
        case headerDigestError = 0x03
        /// H2CData outside the range an R2T asked for.
        case dataTransferOutOfRange = 0x04
        /// More data than allowed (PLEN beyond the advertised limits).
        case dataTransferLimitExceeded = 0x05
        /// A parameter (PFV, HPDA, ...) the controller does not support; FEI is its byte offset.
        case unsupportedParameter = 0x06
    }

    public var status: Status
    /// FEI, Fatal Error Information: a byte offset for the two offset-carrying statuses, else 0.
    public var information: UInt32
    /// What was wrong, for the log and the test that provoked it.
    public var reason: String

    public init(_ status: Status, information: UInt32 = 0, _ reason: String) {
        self.status = status
        self.information = information
        self.reason = reason
    }

    public static func invalidField(at offset: UInt32, _ reason: String) -> TransportFatalError {
        TransportFatalError(.invalidHeaderField, information: offset, reason)
    }

    public var description: String {
        let name = switch status {
        case .invalidHeaderField: "invalid PDU header field at byte \(information)"
        case .pduSequenceError: "PDU sequence error"
        case .headerDigestError: "header digest error"
        case .dataTransferOutOfRange: "data transfer out of range"
        case .dataTransferLimitExceeded: "data transfer limit exceeded"
        case .unsupportedParameter: "unsupported parameter at byte \(information)"
        }
        return "\(name): \(reason)"
    }
}
