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

/// Optional NVM commands supported, Identify Controller ONCS (NVMe base 1.4, 5.15.2.1, bytes 521:520).
@frozen
public struct OptionalNVMCommands: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let compare = OptionalNVMCommands(rawValue: 1 << 0)
    public static let writeUncorrectable = OptionalNVMCommands(rawValue: 1 << 1)
    public static let datasetManagement = OptionalNVMCommands(rawValue: 1 << 2)
    public static let writeZeroes = OptionalNVMCommands(rawValue: 1 << 3)
    public static let saveSelectInFeatures = OptionalNVMCommands(rawValue: 1 << 4)
    public static let reservations = OptionalNVMCommands(rawValue: 1 << 5)
    public static let timestamp = OptionalNVMCommands(rawValue: 1 << 6)
    public static let verify = OptionalNVMCommands(rawValue: 1 << 7)
}

/// Optional admin commands supported, Identify Controller OACS (bytes 257:256).
@frozen
public struct OptionalAdminCommands: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let securitySendReceive = OptionalAdminCommands(rawValue: 1 << 0)
    public static let formatNVM = OptionalAdminCommands(rawValue: 1 << 1)
    public static let firmwareDownloadCommit = OptionalAdminCommands(rawValue: 1 << 2)
    public static let namespaceManagement = OptionalAdminCommands(rawValue: 1 << 3)
    public static let deviceSelfTest = OptionalAdminCommands(rawValue: 1 << 4)
    public static let directives = OptionalAdminCommands(rawValue: 1 << 5)
    public static let nvmeMI = OptionalAdminCommands(rawValue: 1 << 6)
    public static let virtualizationManagement = OptionalAdminCommands(rawValue: 1 << 7)
    public static let doorbellBufferConfig = OptionalAdminCommands(rawValue: 1 << 8)
    public static let getLBAStatus = OptionalAdminCommands(rawValue: 1 << 9)
}

/// Identify Controller data structure, CNS 01h (NVMe base 1.4, 5.15.2.1 Figure 247), 4096 bytes.
///
/// Only the fields a driver or the emulator uses are kept; `encode(into:)` zeroes the rest.
/// Decoded values are raw device data: e.g. `mdts` and `sqes` must be checked by their user.
@frozen
public struct IdentifyController: Hashable, Sendable {
    /// VID (bytes 1:0): PCI vendor ID.
    public var vendorID: UInt16 = 0
    /// SSVID (3:2): PCI subsystem vendor ID.
    public var subsystemVendorID: UInt16 = 0
    /// SN (23:4): serial number, ASCII, 20 bytes.
    public var serialNumber: String = ""
    /// MN (63:24): model number, ASCII, 40 bytes.
    public var modelNumber: String = ""
    /// FR (71:64): firmware revision, ASCII, 8 bytes.
    public var firmwareRevision: String = ""
    /// RAB (72): recommended arbitration burst, 2^RAB commands.
    public var recommendedArbitrationBurst: UInt8 = 0
    /// IEEE (75:73): IEEE OUI identifier, 24 bits.
    public var ieeeOUI: UInt32 = 0
    /// CMIC (76): multi-path I/O and namespace sharing capabilities.
    public var cmic: UInt8 = 0
    /// MDTS (77): maximum data transfer size, 2^MDTS units of CAP.MPSMIN; 0 = no limit.
    public var mdts: UInt8 = 0
    /// CNTLID (79:78): controller ID.
    public var controllerID: UInt16 = 0
    /// VER (83:80): the version, as in the VS register.
    public var version = NVMeVersion(rawValue: 0)
    /// RTD3R (87:84): RTD3 resume latency, microseconds.
    public var rtd3ResumeLatency: UInt32 = 0
    /// RTD3E (91:88): RTD3 entry latency, microseconds.
    public var rtd3EntryLatency: UInt32 = 0
    /// OAES (95:92): optional asynchronous events supported.
    public var oaes: UInt32 = 0
    /// CTRATT (99:96): controller attributes.
    public var ctratt: UInt32 = 0
    /// OACS (257:256): optional admin command support.
    public var oacs = OptionalAdminCommands()
    /// ACL (258): abort command limit, zero-based.
    public var abortCommandLimit: UInt8 = 0
    /// AERL (259): asynchronous event request limit, zero-based.
    public var asyncEventRequestLimit: UInt8 = 0
    /// FRMW (260): firmware updates.
    public var frmw: UInt8 = 0
    /// LPA (261): log page attributes (bit 0: SMART log per namespace).
    public var lpa: UInt8 = 0
    /// ELPE (262): error log page entries, zero-based.
    public var errorLogPageEntries: UInt8 = 0
    /// NPSS (263): number of power states supported, zero-based.
    public var npss: UInt8 = 0
    /// WCTEMP (267:266): warning composite temperature threshold, kelvins.
    public var wctemp: UInt16 = 0
    /// CCTEMP (269:268): critical composite temperature threshold, kelvins.
    public var cctemp: UInt16 = 0
    /// SQES (512): bits 3:0 required, bits 7:4 maximum SQ entry size, as powers of two.
    public var sqes: UInt8 = 0
    /// CQES (513): bits 3:0 required, bits 7:4 maximum CQ entry size, as powers of two.
    public var cqes: UInt8 = 0
    /// MAXCMD (515:514): maximum outstanding commands, 0 = not reported.
    public var maxcmd: UInt16 = 0
    /// NN (519:516): number of namespaces, the largest valid NSID.
    public var numberOfNamespaces: UInt32 = 0
    /// ONCS (521:520): optional NVM command support.
    public var oncs = OptionalNVMCommands()
    /// FUSES (523:522): fused operations supported (bit 0 compare and write).
    public var fuses: UInt16 = 0
    /// FNA (524): format NVM attributes.
    public var fna: UInt8 = 0
    /// VWC (525): volatile write cache; bit 0 set if present.
    public var volatileWriteCache: UInt8 = 0
    /// AWUN (527:526): atomic write unit normal, zero-based blocks.
    public var awun: UInt16 = 0
    /// AWUPF (529:528): atomic write unit power fail, zero-based blocks.
    public var awupf: UInt16 = 0
    /// NVSCC (530): NVM vendor specific command configuration.
    public var nvscc: UInt8 = 0
    /// SGLS (539:536): SGL support; bits 1:0 non-zero if SGLs are supported.
    public var sgls: UInt32 = 0
    /// SUBNQN (1023:768): NVM subsystem NVMe qualified name, UTF-8 NUL-terminated; decoded as ASCII.
    public var subsystemNQN: String = ""

    public init() {}

    /// VWC bit 0: a volatile write cache is present, so Flush matters.
    @inlinable public var volatileWriteCachePresent: Bool { volatileWriteCache & 1 != 0 }
    /// SGLS bits 1:0 non-zero: NVM command set SGLs are supported.
    @inlinable public var sglsSupported: Bool { sgls & 0b11 != 0 }
    /// SQES bits 3:0 as bytes (64 for every 1.4 controller).
    @inlinable public var requiredSubmissionQueueEntrySize: Int { 1 << Int(sqes & 0xF) }
    /// CQES bits 3:0 as bytes (16 for every 1.4 controller).
    @inlinable public var requiredCompletionQueueEntrySize: Int { 1 << Int(cqes & 0xF) }

    /// MDTS in bytes given CAP.MPSMIN in bytes, or nil when there is no limit (MDTS 0) or the
    /// device's value does not fit an Int (it came from the device; it is not trusted).
    @inlinable
    public func maximumDataTransferSize(minimumPageSize: Int) -> Int? {
        guard mdts != 0, mdts < 32, minimumPageSize > 0 else { return nil }
        let (bytes, overflow) = minimumPageSize.multipliedReportingOverflow(by: 1 << Int(mdts))
        return overflow ? nil : bytes
    }
}

extension IdentifyController: NVMeDataStructure {
    public static let encodedSize = 4096

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "IdentifyController")
        try r.require(4096)
        vendorID = try r.load(at: 0)
        subsystemVendorID = try r.load(at: 2)
        serialNumber = try r.ascii(at: 4, count: 20)
        modelNumber = try r.ascii(at: 24, count: 40)
        firmwareRevision = try r.ascii(at: 64, count: 8)
        recommendedArbitrationBurst = try r.load(at: 72)
        ieeeOUI = UInt32(try r.load(UInt16.self, at: 73)) | UInt32(try r.load(UInt8.self, at: 75)) << 16
        cmic = try r.load(at: 76)
        mdts = try r.load(at: 77)
        controllerID = try r.load(at: 78)
        version = NVMeVersion(rawValue: try r.load(at: 80))
        rtd3ResumeLatency = try r.load(at: 84)
        rtd3EntryLatency = try r.load(at: 88)
        oaes = try r.load(at: 92)
        ctratt = try r.load(at: 96)
        oacs = OptionalAdminCommands(rawValue: try r.load(at: 256))
        abortCommandLimit = try r.load(at: 258)
        asyncEventRequestLimit = try r.load(at: 259)
        frmw = try r.load(at: 260)
        lpa = try r.load(at: 261)
        errorLogPageEntries = try r.load(at: 262)
        npss = try r.load(at: 263)
        wctemp = try r.load(at: 266)
        cctemp = try r.load(at: 268)
        sqes = try r.load(at: 512)
        cqes = try r.load(at: 513)
        maxcmd = try r.load(at: 514)
        numberOfNamespaces = try r.load(at: 516)
        oncs = OptionalNVMCommands(rawValue: try r.load(at: 520))
        fuses = try r.load(at: 522)
        fna = try r.load(at: 524)
        volatileWriteCache = try r.load(at: 525)
        awun = try r.load(at: 526)
        awupf = try r.load(at: 528)
        nvscc = try r.load(at: 530)
        sgls = try r.load(at: 536)
        subsystemNQN = try r.nulTerminatedASCII(at: 768, count: 256)
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "IdentifyController")
        try w.prepare(4096)
        try w.store(vendorID, at: 0)
        try w.store(subsystemVendorID, at: 2)
        try w.store(ascii: serialNumber, at: 4, count: 20)
        try w.store(ascii: modelNumber, at: 24, count: 40)
        try w.store(ascii: firmwareRevision, at: 64, count: 8)
        try w.store(recommendedArbitrationBurst, at: 72)
        try w.store(UInt16(truncatingIfNeeded: ieeeOUI), at: 73)
        try w.store(UInt8(truncatingIfNeeded: ieeeOUI >> 16), at: 75)
        try w.store(cmic, at: 76)
        try w.store(mdts, at: 77)
        try w.store(controllerID, at: 78)
        try w.store(version.rawValue, at: 80)
        try w.store(rtd3ResumeLatency, at: 84)
        try w.store(rtd3EntryLatency, at: 88)
        try w.store(oaes, at: 92)
        try w.store(ctratt, at: 96)
        try w.store(oacs.rawValue, at: 256)
        try w.store(abortCommandLimit, at: 258)
        try w.store(asyncEventRequestLimit, at: 259)
        try w.store(frmw, at: 260)
        try w.store(lpa, at: 261)
        try w.store(errorLogPageEntries, at: 262)
        try w.store(npss, at: 263)
        try w.store(wctemp, at: 266)
        try w.store(cctemp, at: 268)
        try w.store(sqes, at: 512)
        try w.store(cqes, at: 513)
        try w.store(maxcmd, at: 514)
        try w.store(numberOfNamespaces, at: 516)
        try w.store(oncs.rawValue, at: 520)
        try w.store(fuses, at: 522)
        try w.store(fna, at: 524)
        try w.store(volatileWriteCache, at: 525)
        try w.store(awun, at: 526)
        try w.store(awupf, at: 528)
        try w.store(nvscc, at: 530)
        try w.store(sgls, at: 536)
        // SUBNQN is NUL-padded, unlike the space-padded SN/MN/FR.
        try w.store(bytes: Array(subsystemNQN.utf8.prefix(255)), at: 768, count: 256)
    }
}
