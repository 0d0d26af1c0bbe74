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

/// The Identify data a target controller returns (NVMe base 1.4, 5.15; NVMe over Fabrics 1.1,
/// 4.1 for the fields a Fabrics controller must set). Built from the subsystem, not copied from the
/// backend: the backend's queues, MDTS and SGL support are not what the host sees over TCP.
extension TargetSubsystem {
    /// Identify Controller (CNS 01h) for controller `id`.
    public func identifyController(id: UInt16) -> [UInt8] {
        var identity = IdentifyController()
        identity.vendorID = backendIdentity.vendorID
        identity.subsystemVendorID = backendIdentity.subsystemVendorID
        identity.serialNumber = backendIdentity.serialNumber
        identity.modelNumber = backendIdentity.modelNumber
        identity.firmwareRevision = backendIdentity.firmwareRevision
        identity.ieeeOUI = backendIdentity.ieeeOUI
        // CMIC bit 1: the subsystem may have more than one controller (one per host association).
        identity.cmic = 1 << 1
        identity.mdts = configuration.mdts
        identity.controllerID = id
        identity.version = NVMeVersion(rawValue: 0x0001_0400)
        // OAES bit 8: Namespace Attribute Notices (the AER the host keeps pending is for those).
        identity.oaes = 1 << 8
        identity.asyncEventRequestLimit = UInt8(Self.heldEventLimit - 1)
        identity.errorLogPageEntries = 0
        identity.sqes = 0x66
        identity.cqes = 0x44
        identity.maxcmd = UInt16(configuration.queueEntries)
        identity.numberOfNamespaces = namespaces.last?.id ?? 0
        let passedThrough: OptionalNVMCommands = [.writeZeroes, .datasetManagement, .compare]
        identity.oncs = backendIdentity.oncs.intersection(passedThrough)
        identity.volatileWriteCache = backendIdentity.volatileWriteCache & 1
        // SGLS bits 1:0 = 01b (SGLs, no alignment rule), bit 2: Keyed SGL Data Block is not
        // needed by TCP; bit 20: an SGL Offset (in-capsule data) is supported (Linux `nvmet_tcp`).
        identity.sgls = 1 | 1 << 20
        identity.subsystemNQN = configuration.subsystemNQN
        var bytes = (try? identity.encoded()) ?? Array(repeating: 0, count: IdentifyController.encodedSize)
        setFabricsIdentifyFields(&bytes)
        return bytes
    }

    /// The Identify Controller fields of a Fabrics controller that `IdentifyController` does not
    /// model (NVMe over Fabrics 1.1, 4.1): KAS 1 (100 ms units; nonzero enables Keep Alive),
    /// IOCCSZ and IORCSZ in 16-byte units, ICDOFF 0, FCATT 0 (dynamic model), MSDBD 1 descriptor.
    func setFabricsIdentifyFields(_ bytes: inout [UInt8]) {
        store(UInt16(1), at: IdentifyFieldOffset.keepAliveSupport, in: &bytes)
        store(UInt32((64 + configuration.inCapsuleDataBytes) / 16), at: IdentifyFieldOffset.ioCommandCapsuleSize, in: &bytes)
        store(UInt32(1), at: IdentifyFieldOffset.ioResponseCapsuleSize, in: &bytes)
        bytes[IdentifyFieldOffset.maximumSGLDataBlockDescriptors] = 1
    }

    /// Identify Namespace (CNS 00h): nil for an NSID that is not exported.
    public func identifyNamespace(_ nsid: UInt32) -> [UInt8]? {
        guard let info = namespace(nsid) else { return nil }
        var ns = IdentifyNamespace()
        ns.size = info.blockCount
        ns.capacity = info.capacityBlocks
        ns.utilization = info.capacityBlocks
        ns.numberOfLBAFormats = 0
        ns.formattedLBASize = 0
        ns.lbaFormats[0] = LBAFormat(lbaDataSize: UInt8(info.blockShift))
        // NMIC bit 0: shared, as every controller of the subsystem (one per host association)
        // exposes it. Without it Linux 6.1 took a second host's controller for a different
        // namespace with the same NGUID ("duplicate IDs in subsystem for nsid 1") and gave it no
        // block device (HIL boot tcp, tcp-disconnect).
        ns.multipathCapabilities = 1
        ns.nguid = namespaceGloballyUniqueID(nsid)
        return try? ns.encoded()
    }

    /// Active Namespace ID list (CNS 02h): exported NSIDs above `after`.
    public func activeNamespaceList(after: UInt32) -> [UInt8] {
        let ids = namespaces.map(\.id).filter { $0 > after }.prefix(ActiveNamespaceList.capacity)
        return (try? ActiveNamespaceList(namespaceIDs: Array(ids)).encoded()) ?? Array(repeating: 0, count: 4096)
    }

    /// Namespace Identification Descriptor list (CNS 03h): the NGUID. Nil for an NSID not exported.
    public func namespaceDescriptors(_ nsid: UInt32) -> [UInt8]? {
        guard namespace(nsid) != nil else { return nil }
        let list = NamespaceIdentificationDescriptorList(descriptors: [
            NamespaceIdentificationDescriptor(type: .nguid, identifier: namespaceGloballyUniqueID(nsid))
        ])
        return try? list.encoded()
    }

    /// A stable NGUID for an exported namespace: CRC32C of the subsystem NQN, the NSID and a salt,
    /// four times. The same NQN and NSID give the same NGUID in every run, so a host's multipath
    /// and udev links stay put; distinct NQNs give distinct NGUIDs with high probability.
    func namespaceGloballyUniqueID(_ nsid: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        for salt in 0..<UInt32(4) {
            var crc = CRC32C()
            Array(configuration.subsystemNQN.utf8).withUnsafeBytes { crc.update($0) }
            withUnsafeBytes(of: (nsid.littleEndian, salt.littleEndian)) { crc.update($0) }
            withUnsafeBytes(of: crc.value.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    func store<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }
}

/// Byte offsets of Identify Controller fields the target sets beyond `IdentifyController`'s
/// (NVMe base 2.0, Figure 275; NVMe over Fabrics 1.1, Figure 33).
enum IdentifyFieldOffset {
    /// CNTRLTYPE (1 byte): 1 I/O, 2 discovery, 3 administrative controller.
    static let controllerType = 111
    /// KAS (2 bytes): Keep Alive Support granularity.
    static let keepAliveSupport = 320
    /// IOCCSZ (4 bytes).
    static let ioCommandCapsuleSize = 1792
    /// IORCSZ (4 bytes).
    static let ioResponseCapsuleSize = 1796
    /// MSDBD (1 byte).
    static let maximumSGLDataBlockDescriptors = 1802
}
