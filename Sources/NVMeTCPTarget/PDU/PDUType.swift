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

/// PDU types, common header byte 0 (NVMe/TCP transport specification 1.0, 3.6.1 "PDU Types";
/// Linux `enum nvme_tcp_pdu_type` in include/linux/nvme-tcp.h). Case names are the spec's.
public enum PDUType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// ICReq: the host opens the connection and proposes digests, HPDA and MAXR2T.
    case icReq = 0x00
    /// ICResp: the controller's answer: digests, CPDA and MAXH2CDATA.
    case icResp = 0x01
    /// H2CTermReq: the host terminates the connection after a fatal transport error.
    case h2cTermReq = 0x02
    /// C2HTermReq: the controller terminates the connection after a fatal transport error.
    case c2hTermReq = 0x03
    /// CapsuleCmd: a 64-byte SQE, optionally followed by in-capsule data.
    case capsuleCommand = 0x04
    /// CapsuleResp: a 16-byte CQE.
    case capsuleResponse = 0x05
    /// H2CData: write data the controller asked for with an R2T.
    case h2cData = 0x06
    /// C2HData: read data.
    case c2hData = 0x07
    /// R2T: the controller is ready to take (part of) a command's write data.
    case r2t = 0x09

    /// HLEN, the fixed length of the common header plus the PDU specific header (3.6.2).
    @inlinable
    public var headerLength: Int {
        switch self {
        case .icReq, .icResp: 128
        case .h2cTermReq, .c2hTermReq: 24
        case .capsuleCommand: 72
        case .capsuleResponse, .h2cData, .c2hData, .r2t: 24
        }
    }

    /// Who sends this type.
    @inlinable
    public var direction: PDUDirection {
        switch self {
        case .icReq, .h2cTermReq, .capsuleCommand, .h2cData: .hostToController
        case .icResp, .c2hTermReq, .capsuleResponse, .c2hData, .r2t: .controllerToHost
        }
    }

    /// Whether the negotiated header and data digests apply: never to the connection setup and
    /// termination PDUs, which must be readable whatever was (or was not) negotiated.
    @inlinable
    public var carriesDigests: Bool {
        switch self {
        case .icReq, .icResp, .h2cTermReq, .c2hTermReq: false
        default: true
        }
    }

    /// Whether a PDU of this type may carry data after its header: in-capsule write data, H2C or
    /// C2H data, and the offending header a termination request quotes.
    @inlinable
    public var mayCarryData: Bool {
        switch self {
        case .capsuleCommand, .h2cData, .c2hData, .h2cTermReq, .c2hTermReq: true
        case .icReq, .icResp, .capsuleResponse, .r2t: false
        }
    }

    public var description: String {
        switch self {
        case .icReq: "ICReq"
        case .icResp: "ICResp"
        case .h2cTermReq: "H2CTermReq"
        case .c2hTermReq: "C2HTermReq"
        case .capsuleCommand: "CapsuleCmd"
        case .capsuleResponse: "CapsuleResp"
        case .h2cData: "H2CData"
        case .c2hData: "C2HData"
        case .r2t: "R2T"
        }
    }
}

/// Which way a PDU travels on the connection.
public enum PDUDirection: Sendable, Hashable {
    case hostToController
    case controllerToHost
}

/// Common header FLAGS, byte 1 (3.6.2; Linux `enum nvme_tcp_pdu_flags`).
@frozen
public struct PDUFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// HDGSTF: a header digest follows the header.
    public static let headerDigest = PDUFlags(rawValue: 1 << 0)
    /// DDGSTF: a data digest follows the data.
    public static let dataDigest = PDUFlags(rawValue: 1 << 1)
    /// LAST_PDU (H2CData, C2HData): the last data PDU of the command or of the R2T.
    public static let lastPDU = PDUFlags(rawValue: 1 << 2)
    /// SUCCESS (C2HData, only with LAST_PDU): the command succeeded and no CapsuleResp follows.
    public static let success = PDUFlags(rawValue: 1 << 3)
}
