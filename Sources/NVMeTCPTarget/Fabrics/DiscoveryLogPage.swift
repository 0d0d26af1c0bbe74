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

/// The well-known NQN of discovery controllers (NVMe base 2.0, 4.5): a host connects to it to
/// learn which subsystems a target exports and where, without knowing their NQNs beforehand.
public let discoveryNQN = "nqn.2014-08.org.nvmexpress.discovery"

/// TRTYPE of a discovery log entry (NVMe over Fabrics 1.1, Figure 38).
public enum TransportType: UInt8, Sendable {
    case rdma = 1
    case fibreChannel = 2
    case tcp = 3
}

/// ADRFAM of a discovery log entry: how TRADDR is written.
public enum AddressFamily: UInt8, Sendable {
    case ipv4 = 1
    case ipv6 = 2
}

/// SUBTYPE of a discovery log entry: what the host reaches through it.
public enum DiscoverySubsystemType: UInt8, Sendable {
    /// A referral to another discovery service.
    case discoveryReferral = 1
    /// An NVM subsystem with namespaces (ours).
    case nvm = 2
    /// The current discovery subsystem itself (NVMe base 2.0).
    case currentDiscovery = 3
}

/// TREQ bits 1:0, secure channel (NVMe over Fabrics 1.1, Figure 38). A target without TLS says
/// "not specified", as Linux `nvmet` does by default: libnvme 1.3 (nvme-cli 2.3's `nvme connect-all`)
/// adds `tls` to the connect options for "required" and "not required" alike, which Linux 6.1's
/// fabrics driver refuses ("unknown parameter 'tls'"; HIL boot tcp, tcp-connect-all).
public enum SecureChannelRequirement: UInt8, Sendable {
    case notSpecified = 0
    case required = 1
    case notRequired = 2
}

/// SECTYPE, the first byte of TSAS for NVMe/TCP (NVMe/TCP 1.0, 3.5.1): 0 is no security.
public enum TCPSecurityType: UInt8, Sendable {
    case none = 0
    case tls12 = 1
    case tls13 = 2
}

/// One Discovery Log Page Entry (NVMe over Fabrics 1.1, Figure 38): where and how a host
/// connects to one subsystem. 1024 bytes; the strings are ASCII, padded with NULs as Linux's
/// `nvmet` does (`nvme discover` trims either NULs or spaces).
public struct DiscoveryLogEntry: Hashable, Sendable {
    public var transportType: TransportType
    public var addressFamily: AddressFamily
    public var subsystemType: DiscoverySubsystemType
    public var secureChannel: SecureChannelRequirement
    /// PORTID: the subsystem port the entry names.
    public var portID: UInt16
    /// CNTLID: FFFFh means the dynamic model (the host connects with FFFFh and gets an id).
    public var controllerID: UInt16
    /// ASQSZ: the largest admin submission queue the host may ask for in Connect.
    public var adminQueueSize: UInt16
    /// TRSVCID: for TCP the port number in decimal.
    public var serviceID: String
    public var subsystemNQN: String
    /// TRADDR: for IPv4 the dotted address.
    public var address: String
    /// TSAS for TCP: its security type.
    public var security: TCPSecurityType

    public static let size = 1024

    /// Byte offsets of the fields (Figure 38).
    public enum Offset: Int, Sendable {
        case transportType = 0
        case addressFamily = 1
        case subsystemType = 2
        case transportRequirements = 3
        case portID = 4
        case controllerID = 6
        case adminQueueSize = 8
        case serviceID = 32
        case subsystemNQN = 256
        case address = 512
        case transportSpecific = 768
    }

    /// Field widths of the strings.
    static let serviceIDSize = 32
    static let nqnSize = 256
    static let addressSize = 256

    public init(
        transportType: TransportType = .tcp, addressFamily: AddressFamily = .ipv4, subsystemType: DiscoverySubsystemType = .nvm,
        secureChannel: SecureChannelRequirement = .notSpecified, portID: UInt16, controllerID: UInt16 = ConnectData.dynamicControllerID,
        adminQueueSize: UInt16, serviceID: String, subsystemNQN: String, address: String, security: TCPSecurityType = .none
    ) {
        self.transportType = transportType
        self.addressFamily = addressFamily
        self.subsystemType = subsystemType
        self.secureChannel = secureChannel
        self.portID = portID
        self.controllerID = controllerID
        self.adminQueueSize = adminQueueSize
        self.serviceID = serviceID
        self.subsystemNQN = subsystemNQN
        self.address = address
        self.security = security
    }

    /// Writes the entry into `out` (at least `size` bytes, zeroed by the caller).
    public func encode(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.size)
        out[Offset.transportType.rawValue] = transportType.rawValue
        out[Offset.addressFamily.rawValue] = addressFamily.rawValue
        out[Offset.subsystemType.rawValue] = subsystemType.rawValue
        out[Offset.transportRequirements.rawValue] = secureChannel.rawValue
        out.storeBytes(of: portID.littleEndian, toByteOffset: Offset.portID.rawValue, as: UInt16.self)
        out.storeBytes(of: controllerID.littleEndian, toByteOffset: Offset.controllerID.rawValue, as: UInt16.self)
        out.storeBytes(of: adminQueueSize.littleEndian, toByteOffset: Offset.adminQueueSize.rawValue, as: UInt16.self)
        Self.put(serviceID, at: .serviceID, width: Self.serviceIDSize, into: out)
        Self.put(subsystemNQN, at: .subsystemNQN, width: Self.nqnSize, into: out)
        Self.put(address, at: .address, width: Self.addressSize, into: out)
        out[Offset.transportSpecific.rawValue] = security.rawValue
    }

    /// Decodes an entry (the tests' initiator reads the log with it); nil for unknown codes.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size,
            let trtype = TransportType(rawValue: bytes[Offset.transportType.rawValue]),
            let adrfam = AddressFamily(rawValue: bytes[Offset.addressFamily.rawValue]),
            let subtype = DiscoverySubsystemType(rawValue: bytes[Offset.subsystemType.rawValue]),
            let treq = SecureChannelRequirement(rawValue: bytes[Offset.transportRequirements.rawValue] & 0b11),
            let sectype = TCPSecurityType(rawValue: bytes[Offset.transportSpecific.rawValue])
        else { return nil }
        self.init(
            transportType: trtype, addressFamily: adrfam, subsystemType: subtype, secureChannel: treq,
            portID: bytes.loadUnaligned(fromByteOffset: Offset.portID.rawValue, as: UInt16.self).littleEndian,
            controllerID: bytes.loadUnaligned(fromByteOffset: Offset.controllerID.rawValue, as: UInt16.self).littleEndian,
            adminQueueSize: bytes.loadUnaligned(fromByteOffset: Offset.adminQueueSize.rawValue, as: UInt16.self).littleEndian,
            serviceID: Self.string(bytes, at: .serviceID, width: Self.serviceIDSize),
            subsystemNQN: Self.string(bytes, at: .subsystemNQN, width: Self.nqnSize),
            address: Self.string(bytes, at: .address, width: Self.addressSize), security: sectype)
    }

    private static func put(_ text: String, at offset: Offset, width: Int, into out: UnsafeMutableRawBufferPointer) {
        for (i, byte) in text.utf8.prefix(width).enumerated() { out[offset.rawValue + i] = byte }
    }

    private static func string(_ bytes: UnsafeRawBufferPointer, at offset: Offset, width: Int) -> String {
        let field = bytes[offset.rawValue..<(offset.rawValue + width)]
        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// The Discovery log page (NVMe over Fabrics 1.1, Figure 37): a 1024-byte header (GENCTR,
/// NUMREC, RECFMT) and one 1024-byte entry per record. A host reads the header, then the
/// entries, and reads the header again: an unchanged GENCTR says the entries are consistent.
public struct DiscoveryLogPage: Hashable, Sendable {
    /// GENCTR: changes whenever the entries change.
    public var generation: UInt64
    public var entries: [DiscoveryLogEntry]

    public static let headerSize = 1024

    /// Byte offsets in the header.
    public enum HeaderOffset: Int, Sendable {
        case generation = 0
        case numberOfRecords = 8
        case recordFormat = 16
    }

    public init(generation: UInt64, entries: [DiscoveryLogEntry]) {
        self.generation = generation
        self.entries = entries
    }

    /// The log's size in bytes.
    public var size: Int { Self.headerSize + entries.count * DiscoveryLogEntry.size }

    /// The whole log page (RECFMT 0, the only format).
    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { out in
            out.storeBytes(of: generation.littleEndian, toByteOffset: HeaderOffset.generation.rawValue, as: UInt64.self)
            out.storeBytes(of: UInt64(entries.count).littleEndian, toByteOffset: HeaderOffset.numberOfRecords.rawValue, as: UInt64.self)
            for (i, entry) in entries.enumerated() {
                let start = Self.headerSize + i * DiscoveryLogEntry.size
                entry.encode(into: UnsafeMutableRawBufferPointer(rebasing: out[start..<(start + DiscoveryLogEntry.size)]))
            }
        }
        return bytes
    }

    /// GENCTR and NUMREC of a header (the first 16 bytes at least); nil when too short.
    public static func header(_ bytes: UnsafeRawBufferPointer) -> (generation: UInt64, numberOfRecords: UInt64)? {
        guard bytes.count >= HeaderOffset.recordFormat.rawValue else { return nil }
        return (
            bytes.loadUnaligned(fromByteOffset: HeaderOffset.generation.rawValue, as: UInt64.self).littleEndian,
            bytes.loadUnaligned(fromByteOffset: HeaderOffset.numberOfRecords.rawValue, as: UInt64.self).littleEndian
        )
    }
}
