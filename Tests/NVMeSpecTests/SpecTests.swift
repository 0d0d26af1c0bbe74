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

import NVMeSpec
import Testing

// Tests for the NVMe spec types (NVMe base 1.4): layouts, command dword packing, register fields,
// status decoding, and encode/decode of identify data and log pages, including hostile input.

// MARK: - Helpers

/// Deterministic xorshift64* so garbage-input tests are reproducible.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}

private func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
}

private func le16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

// MARK: - Queue entry layout

@Test func submissionQueueEntryIs64BytesInSpecOrder() {
    #expect(MemoryLayout<SubmissionQueueEntry>.size == 64)
    #expect(MemoryLayout<SubmissionQueueEntry>.stride == 64)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.opcode) == 0)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.flags) == 1)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.commandID) == 2)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.namespaceID) == 4)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.metadataPointer) == 16)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.prp1) == 24)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.prp2) == 32)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.cdw10) == 40)
    #expect(MemoryLayout<SubmissionQueueEntry>.offset(of: \.cdw15) == 60)
}

@Test func completionQueueEntryIs16BytesInSpecOrder() {
    #expect(MemoryLayout<CompletionQueueEntry>.size == 16)
    #expect(MemoryLayout<CompletionQueueEntry>.stride == 16)
    #expect(MemoryLayout<CompletionQueueEntry>.offset(of: \.submissionQueueHead) == 8)
    #expect(MemoryLayout<CompletionQueueEntry>.offset(of: \.commandID) == 12)
    #expect(MemoryLayout<CompletionQueueEntry>.offset(of: \.statusAndPhase) == 14)
}

@Test func submissionQueueEntryMemoryIsItsWireEncoding() throws {
    var sqe = SubmissionQueueEntry.write(namespaceID: 1, lba: 0x1_2345_6789, blocks: 16, fua: true)
    sqe.commandID = 0xBEEF
    sqe.prp1 = 0x1000_2000
    sqe.prp2 = 0x3000_4000
    let encoded = try sqe.encoded()
    let memory = withUnsafeBytes(of: sqe) { Array($0) }
    #expect(encoded == memory)
    #expect(encoded[0] == IOOpcode.write.rawValue)
    #expect(le16(encoded, 2) == 0xBEEF)
    #expect(le32(encoded, 40) == 0x2345_6789)
    #expect(le32(encoded, 44) == 0x1)
    #expect(try SubmissionQueueEntry(bytes: encoded) == sqe)
}

@Test func completionQueueEntryRoundTripsThroughBytes() throws {
    let cqe = CompletionQueueEntry(
        commandSpecific: 0x0003_0003, submissionQueueHead: 5, submissionQueueID: 1, commandID: 42,
        status: .lbaOutOfRange.withDoNotRetry(), phase: true)
    let bytes = try cqe.encoded()
    #expect(le16(bytes, 14) == 0x8101)  // status 0x4080 << 1 | phase
    let decoded = try CompletionQueueEntry(bytes: bytes)
    #expect(decoded == cqe)
    #expect(decoded.phase)
    #expect(decoded.status.matches(.lbaOutOfRange))
    #expect(decoded.status.doNotRetry)
    #expect(withUnsafeBytes(of: cqe) { Array($0) } == bytes)
}

// MARK: - Command constructors

@Test func readPacksZeroBasedBlockCountAndSplitsLBA() {
    let sqe = SubmissionQueueEntry.read(namespaceID: 3, lba: 0xAABB_CCDD_0011_2233, blocks: 8)
    #expect(sqe.opcode == 0x02)
    #expect(sqe.namespaceID == 3)
    #expect(sqe.cdw10 == 0x0011_2233)
    #expect(sqe.cdw11 == 0xAABB_CCDD)
    #expect(sqe.cdw12 == 7)
    #expect(sqe.startingLBA == 0xAABB_CCDD_0011_2233)
    #expect(sqe.blockCount == 8)
    #expect(!sqe.forceUnitAccess)
    #expect(sqe.dataTransferDirection == .controllerToHost)

    let fua = SubmissionQueueEntry.read(namespaceID: 1, lba: 0, blocks: 65536, fua: true)
    #expect(fua.cdw12 == 0x4000_FFFF)
    #expect(fua.blockCount == 65536)
    #expect(fua.forceUnitAccess)
}

@Test func writeCompareAndWriteZeroesUseTheReadLayout() {
    let write = SubmissionQueueEntry.write(namespaceID: 1, lba: 10, blocks: 1)
    #expect(write.opcode == 0x01 && write.cdw10 == 10 && write.cdw12 == 0)
    #expect(write.dataTransferDirection == .hostToController)
    let compare = SubmissionQueueEntry.compare(namespaceID: 1, lba: 10, blocks: 2)
    #expect(compare.opcode == 0x05 && compare.cdw12 == 1)
    let zeroes = SubmissionQueueEntry.writeZeroes(namespaceID: 1, lba: 10, blocks: 4, deallocate: true)
    #expect(zeroes.opcode == 0x08)
    #expect(zeroes.cdw12 == 1 << 25 | 3)
    #expect(zeroes.writeZeroesDeallocate)
    let flush = SubmissionQueueEntry.flush(namespaceID: 9)
    #expect(flush.opcode == 0x00 && flush.namespaceID == 9 && flush.cdw10 == 0)
}

@Test func datasetManagementStoresZeroBasedRangeCountAndDeallocate() {
    let sqe = SubmissionQueueEntry.datasetManagement(namespaceID: 1, ranges: 256, deallocate: true)
    #expect(sqe.opcode == 0x09)
    #expect(sqe.cdw10 == 0xFF)
    #expect(sqe.cdw11 == 0b100)
    #expect(sqe.datasetManagementRangeCount == 256)
    #expect(sqe.datasetManagementDeallocate)
    #expect(SubmissionQueueEntry.datasetManagement(namespaceID: 1, ranges: 1, deallocate: false).cdw11 == 0)
}

@Test func createIOCompletionQueueSetsQSizePCIENAndVector() {
    let sqe = SubmissionQueueEntry.createIOCompletionQueue(
        id: 3, size: 1024, baseIOVA: 0xDEAD_0000, physicallyContiguous: true, interruptsEnabled: true, vector: 5)
    #expect(sqe.opcode == 0x05)
    #expect(sqe.prp1 == 0xDEAD_0000)
    #expect(sqe.cdw10 == 0x03FF_0003)
    #expect(sqe.cdw11 == 0x0005_0003)
    #expect(sqe.queueID == 3 && sqe.queueSize == 1024)
    #expect(sqe.physicallyContiguous && sqe.interruptsEnabled && sqe.interruptVector == 5)

    let polled = SubmissionQueueEntry.createIOCompletionQueue(id: 1, size: 2, baseIOVA: 0, interruptsEnabled: false)
    #expect(polled.cdw11 == 0x1)
    #expect(polled.cdw10 == 0x0001_0001)
}

@Test func createIOSubmissionQueueSetsCQIDAndPriority() {
    let sqe = SubmissionQueueEntry.createIOSubmissionQueue(
        id: 2, size: 64, baseIOVA: 0x8000, completionQueue: 7, priority: .high)
    #expect(sqe.opcode == 0x01)
    #expect(sqe.cdw10 == 0x003F_0002)
    #expect(sqe.cdw11 == 0x0007_0003)  // CQID 7, QPRIO 1 in bits 2:1, PC
    #expect(sqe.completionQueueID == 7 && sqe.queuePriority == .high && sqe.physicallyContiguous)
}

@Test func deleteQueueAndAbortPackTheirIDs() {
    let dsq = SubmissionQueueEntry.deleteIOSubmissionQueue(id: 4)
    #expect(dsq.opcode == 0x00 && dsq.cdw10 == 4)
    let dcq = SubmissionQueueEntry.deleteIOCompletionQueue(id: 4)
    #expect(dcq.opcode == 0x04 && dcq.cdw10 == 4)
    let abort = SubmissionQueueEntry.abort(submissionQueue: 1, commandID: 0x1234)
    #expect(abort.opcode == 0x08 && abort.cdw10 == 0x1234_0001)
    #expect(abort.abortSubmissionQueueID == 1 && abort.abortCommandID == 0x1234)
    #expect(SubmissionQueueEntry.asynchronousEventRequest().opcode == 0x0C)
}

@Test func identifyPacksCNSAndControllerID() {
    let sqe = SubmissionQueueEntry.identify(cns: .controller, controllerID: 0x22)
    #expect(sqe.opcode == 0x06)
    #expect(sqe.cdw10 == 0x0022_0001)
    #expect(sqe.identifyCNS == 1 && sqe.identifyControllerID == 0x22)
    #expect(sqe.dataTransferDirection == .controllerToHost)
    let ns = SubmissionQueueEntry.identify(cns: .namespace, namespaceID: 1)
    #expect(ns.cdw10 == 0 && ns.namespaceID == 1)
    #expect(SubmissionQueueEntry.identify(cns: .namespaceIdentificationDescriptors, namespaceID: 1).cdw10 == 3)
}

@Test func featuresPackFIDSelectAndSave() {
    let get = SubmissionQueueEntry.getFeatures(.numberOfQueues, select: .supportedCapabilities)
    #expect(get.opcode == 0x0A && get.cdw10 == 0x307)
    #expect(get.featureIdentifier == 7 && get.featureSelect == 3)
    let set = SubmissionQueueEntry.setFeatures(.volatileWriteCache, cdw11: 1, save: true)
    #expect(set.opcode == 0x09 && set.cdw10 == 0x8000_0006 && set.cdw11 == 1)
    #expect(set.saveFeature)
}

@Test func getLogPageSplitsZeroBasedDwordCount() {
    let sqe = SubmissionQueueEntry.getLogPage(.smartHealth, dwords: 128)
    #expect(sqe.opcode == 0x02)
    #expect(sqe.namespaceID == 0xFFFF_FFFF)
    #expect(sqe.cdw10 == 0x007F_0002)
    #expect(sqe.cdw11 == 0)
    #expect(sqe.logPageDwordCount == 128)

    let big = SubmissionQueueEntry.getLogPage(.errorInformation, dwords: 0x12345, offset: 0x1_0000_0010, namespaceID: 0)
    #expect(big.cdw10 == 0x2344_0001)
    #expect(big.cdw11 == 0x0001)
    #expect(big.cdw12 == 0x10 && big.cdw13 == 0x1)
    #expect(big.logPageDwordCount == 0x12345)
    #expect(big.logPageOffset == 0x1_0000_0010)
    #expect(big.logPageIdentifier == 1)
}

// MARK: - Registers

@Test func capabilitiesDecodeQEMULikeValue() {
    // Low dword 0x0f0107ff: MQES 0x7ff, CQR, TO 15. High dword 0x00400020: CSS bit 0 (bit 37), MPSMAX 4.
    let cap = Capabilities(rawValue: 0x0040_0020_0F01_07FF)
    #expect(cap.maxQueueEntries == 2047)
    #expect(cap.maxQueueEntryCount == 2048)
    #expect(cap.contiguousQueuesRequired)
    #expect(cap.arbitrationMechanismsSupported == 0)
    #expect(cap.timeout == 15)
    #expect(cap.timeoutMilliseconds == 7500)
    #expect(cap.doorbellStride == 0)
    #expect(cap.doorbellStrideBytes == 4)
    #expect(!cap.nvmSubsystemResetSupported)
    #expect(cap.commandSetsSupported == 1)
    #expect(cap.supportsNVMCommandSet)
    #expect(cap.memoryPageSizeMinimum == 0)
    #expect(cap.memoryPageSizeMaximum == 4)
    #expect(cap.minimumPageSize == 4096)
    #expect(cap.maximumPageSize == 65536)
}

@Test func capabilitiesSettersRoundTrip() {
    var cap = Capabilities(rawValue: 0)
    cap.maxQueueEntries = 1023
    cap.timeout = 20
    cap.doorbellStride = 2
    cap.commandSetsSupported = 1
    cap.memoryPageSizeMinimum = 1
    cap.nvmSubsystemResetSupported = true
    #expect(cap.rawValue == 0x0001_0032_1400_03FF)
    #expect(cap.doorbellStrideBytes == 16)
    #expect(cap.minimumPageSize == 8192)
}

@Test func doorbellOffsetsFollowStride() {
    #expect(ControllerRegisterOffset.doorbellOffset(queue: 0, completion: false, stride: 0) == 0x1000)
    #expect(ControllerRegisterOffset.doorbellOffset(queue: 0, completion: true, stride: 0) == 0x1004)
    #expect(ControllerRegisterOffset.doorbellOffset(queue: 1, completion: true, stride: 0) == 0x100C)
    #expect(ControllerRegisterOffset.doorbellOffset(queue: 1, completion: true, stride: 2) == 0x1000 + 3 * 16)
    #expect(ControllerRegisterOffset.capabilities.width == 8 && ControllerRegisterOffset.controllerStatus.width == 4)
    #expect(ControllerRegisterOffset.adminCompletionQueueBase.rawValue == 0x30)
}

@Test func controllerConfigurationMatchesLinuxEnableValue() {
    // Linux nvme_enable_ctrl: EN | CSS NVM | MPS 0 | AMS RR | SHN none | IOSQES 6 | IOCQES 4.
    let cc = ControllerConfiguration(enable: true)
    #expect(cc.rawValue == 0x0046_0001)
    var shutdown = cc
    shutdown.shutdownNotification = .normal
    #expect(shutdown.rawValue == 0x0046_4001)
    let decoded = ControllerConfiguration(rawValue: 0x0046_8181)
    #expect(decoded.enable)
    #expect(decoded.memoryPageSize == 3)
    #expect(decoded.memoryPageSizeBytes == 32768)
    #expect(decoded.shutdownNotification == .abrupt)
    #expect(decoded.commandSetSelected == 0)
    #expect(decoded.ioSubmissionQueueEntrySize == 6 && decoded.ioCompletionQueueEntrySize == 4)
    #expect(ControllerConfiguration(rawValue: 0xC000).shutdownNotification == .reserved)
}

@Test func controllerStatusDecodesReadyShutdownAndFatal() {
    let csts = ControllerStatus(rawValue: 0x9)
    #expect(csts.ready)
    #expect(!csts.controllerFatalStatus)
    #expect(csts.shutdownStatus == .complete)
    #expect(ControllerStatus(rawValue: 0x2).controllerFatalStatus)
    #expect(ControllerStatus(rawValue: 0x4).shutdownStatus == .occurring)
    #expect(ControllerStatus(rawValue: 0x10).nvmSubsystemResetOccurred)
    #expect(ControllerStatus(rawValue: 0x20).processingPaused)
    #expect(ControllerStatus(rawValue: 0xFFFF_FFFF).looksDisconnected)
    #expect(!csts.looksDisconnected)
}

@Test func adminQueueAttributesAreZeroBased() {
    let aqa = AdminQueueAttributes(submissionQueueEntries: 32, completionQueueEntries: 4096)
    #expect(aqa.rawValue == 0x0FFF_001F)
    #expect(aqa.submissionQueueEntries == 32 && aqa.completionQueueEntries == 4096)
    // Reserved bits 31:28 and 15:12 do not leak into the sizes.
    let noisy = AdminQueueAttributes(rawValue: 0xFFFF_FFFF)
    #expect(noisy.submissionQueueSize == 0xFFF && noisy.completionQueueSize == 0xFFF)
}

@Test func versionPrintsAndOrders() {
    let vs = NVMeVersion(rawValue: 0x0001_0400)
    #expect(vs.major == 1 && vs.minor == 4 && vs.tertiary == 0)
    #expect(vs.description == "1.4.0")
    #expect(vs == .v1_4)
    #expect(NVMeVersion(major: 1, minor: 3, tertiary: 9) < .v1_4)
    #expect(NVMeVersion(major: 2, minor: 0, tertiary: 1).description == "2.0.1")
}

// MARK: - Status

@Test func statusDecodesNamesAndFlags() {
    let status = NVMeStatus(statusAndPhase: 0x8101)
    #expect(status.codeType == .generic)
    #expect(status.code == 0x80)
    #expect(status.doNotRetry)
    #expect(!status.more)
    #expect(!status.isSuccess)
    #expect(status.name == "LBA Out of Range")
    #expect(status.description == "LBA Out of Range (SCT 0x0, SC 0x80, DNR)")
    #expect(status.matches(.lbaOutOfRange))
    #expect(status != .lbaOutOfRange)
    #expect(status == NVMeStatus.lbaOutOfRange.withDoNotRetry())
}

@Test func statusDecodesMoreRetryDelayAndCodeTypes() {
    let built = NVMeStatus(codeType: .mediaAndDataIntegrity, code: 0x81, commandRetryDelay: 2, more: true)
    #expect(built.rawValue == 0x2000 | 0x1000 | 0x0200 | 0x81)
    #expect(built.matches(.unrecoveredReadError))
    #expect(built.description == "Unrecovered Read Error (SCT 0x2, SC 0x81, CRD 2, More)")
    #expect(built.withPhase(true) == (built.rawValue << 1 | 1))
    #expect(NVMeStatus(statusAndPhase: built.withPhase(false)) == built)

    #expect(NVMeStatus.invalidQueueIdentifier.codeType == .commandSpecific)
    #expect(NVMeStatus.invalidQueueIdentifier.name == "Invalid Queue Identifier")
    #expect(NVMeStatus.compareFailure.name == "Compare Failure")
    #expect(NVMeStatus.success.isSuccess && NVMeStatus.success.description == "Successful Completion (SCT 0x0, SC 0x00)")
    #expect(NVMeStatus(codeType: .other(5), code: 1).codeType == .other(5))
    #expect(StatusCodeType(rawValue: 0) == .other(0))
    #expect(StatusCodeType(rawValue: 7) == .vendorSpecific)
}

@Test func unknownStatusPrintsItsCodes() {
    let status = NVMeStatus(codeType: .commandSpecific, code: 0x42)
    #expect(status.name == nil)
    #expect(status.description == "Unknown status (SCT 0x1, SC 0x42)")
    #expect(NVMeStatus(rawValue: 0xFFFF).rawValue == 0x7FFF)
}

@Test func statusIsThrowable() {
    func fail() throws(NVMeStatus) { throw .invalidFieldInCommand }
    #expect(throws: NVMeStatus.invalidFieldInCommand) { try fail() }
}

// MARK: - Identify

private func sampleController() -> IdentifyController {
    var id = IdentifyController()
    id.vendorID = 0x1B36
    id.subsystemVendorID = 0x1AF4
    id.serialNumber = "EMU0001"
    id.modelNumber = "Swift Emulated NVMe Controller"
    id.firmwareRevision = "1.0"
    id.recommendedArbitrationBurst = 6
    id.ieeeOUI = 0x525400
    id.mdts = 5
    id.controllerID = 1
    id.version = .v1_4
    id.oacs = [.formatNVM, .doorbellBufferConfig]
    id.abortCommandLimit = 3
    id.asyncEventRequestLimit = 3
    id.lpa = 1
    id.errorLogPageEntries = 63
    id.sqes = 0x66
    id.cqes = 0x44
    id.maxcmd = 1024
    id.numberOfNamespaces = 4
    id.oncs = [.compare, .datasetManagement, .writeZeroes]
    id.volatileWriteCache = 1
    id.sgls = 0
    id.subsystemNQN = "nqn.2019-08.org.qemu:EMU0001"
    return id
}

@Test func identifyControllerRoundTripsAtSpecOffsets() throws {
    let id = sampleController()
    let bytes = try id.encoded()
    #expect(bytes.count == 4096)
    #expect(le16(bytes, 0) == 0x1B36)
    #expect(Array(bytes[4..<11]) == Array("EMU0001".utf8))
    #expect(bytes[11...23].allSatisfy { $0 == 0x20 })  // SN is space padded
    #expect(Array(bytes[73...75]) == [0x00, 0x54, 0x52])
    #expect(bytes[77] == 5)
    #expect(le32(bytes, 80) == 0x0001_0400)
    #expect(le16(bytes, 256) == 0x0102)
    #expect(bytes[512] == 0x66 && bytes[513] == 0x44)
    #expect(le32(bytes, 516) == 4)
    #expect(le16(bytes, 520) == 0b1101)
    #expect(bytes[525] == 1)
    #expect(bytes[768 + 28] == 0)  // SUBNQN NUL padded

    let decoded = try IdentifyController(bytes: bytes)
    #expect(decoded == id)
    #expect(decoded.oncs.contains(.writeZeroes) && !decoded.oncs.contains(.reservations))
    #expect(decoded.volatileWriteCachePresent)
    #expect(!decoded.sglsSupported)
    #expect(decoded.requiredSubmissionQueueEntrySize == 64 && decoded.requiredCompletionQueueEntrySize == 16)
    #expect(decoded.maximumDataTransferSize(minimumPageSize: 4096) == 128 * 1024)
}

@Test func identifyControllerSanitizesDeviceStrings() throws {
    var bytes = try sampleController().encoded()
    bytes[4] = 0x07
    bytes[5] = 0xFF
    for i in 24..<64 { bytes[i] = 0x20 }
    let decoded = try IdentifyController(bytes: bytes)
    #expect(decoded.serialNumber == "??U0001")
    #expect(decoded.modelNumber == "")
    #expect(IdentifyController().maximumDataTransferSize(minimumPageSize: 4096) == nil)
    var huge = IdentifyController()
    huge.mdts = 255
    #expect(huge.maximumDataTransferSize(minimumPageSize: 4096) == nil)
}

@Test func shortBuffersAreRejectedNotTrapped() {
    let short = [UInt8](repeating: 0xFF, count: 4095)
    #expect(throws: NVMeDataStructureError.bufferTooShort(structure: "IdentifyController", required: 4096, actual: 4095)) {
        try IdentifyController(bytes: short)
    }
    #expect(throws: NVMeDataStructureError.self) { try IdentifyNamespace(bytes: short) }
    #expect(throws: NVMeDataStructureError.self) { try ActiveNamespaceList(bytes: short) }
    #expect(throws: NVMeDataStructureError.self) { try SMARTHealthLog(bytes: [UInt8](repeating: 0, count: 511)) }
    #expect(throws: NVMeDataStructureError.self) { try ErrorInformationEntry(bytes: [UInt8](repeating: 0, count: 63)) }
    #expect(throws: NVMeDataStructureError.self) { try SubmissionQueueEntry(bytes: [UInt8](repeating: 0, count: 63)) }
    #expect(throws: NVMeDataStructureError.self) { try CompletionQueueEntry(bytes: []) }
    #expect(throws: NVMeDataStructureError.self) { try DatasetManagementRange.decodeList(bytes: UnsafeRawBufferPointer(start: nil, count: 0), count: 1) }
}

@Test func encodingIntoSmallBufferThrows() {
    var small = [UInt8](repeating: 0, count: 100)
    #expect(throws: NVMeDataStructureError.self) {
        try small.withUnsafeMutableBytes { buffer in try IdentifyController().encode(into: buffer) }
    }
}

@Test func garbageBuffersDecodeOrThrowWithoutTrapping() throws {
    var rng = SeededGenerator(seed: 0x5EED)
    var accepted = 0
    for round in 0..<200 {
        var bytes = (0..<4096).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        if round % 2 == 0 {
            bytes[26] = 0  // FLBAS index 0, so some namespaces pass validation
            bytes[130] = UInt8.random(in: 9...16, using: &rng)
        }
        _ = try? IdentifyController(bytes: bytes)
        if let ns = try? IdentifyNamespace(bytes: bytes) {
            accepted += 1
            #expect((512...65536).contains(ns.blockSize))
        }
        _ = try? ActiveNamespaceList(bytes: bytes)
        _ = try? NamespaceIdentificationDescriptorList(bytes: bytes)
        _ = try? SMARTHealthLog(bytes: bytes)
        _ = try? bytes.withUnsafeBytes { b in try ErrorInformationEntry.decodeAll(bytes: b) }
    }
    #expect(accepted >= 100)
}

@Test func identifyNamespaceRoundTripsAndReportsBlockSize() throws {
    var ns = IdentifyNamespace()
    ns.size = 1 << 21
    ns.capacity = 1 << 21
    ns.utilization = 100
    ns.features = 1
    ns.numberOfLBAFormats = 1
    ns.formattedLBASize = 1
    ns.lbaFormats[1] = LBAFormat(metadataSize: 8, lbaDataSize: 12, relativePerformance: 1)
    ns.nguid = Array(1...16)
    ns.eui64 = [0, 0x25, 0x38, 0, 0, 0, 0, 1]
    let bytes = try ns.encoded()
    #expect(bytes[25] == 1 && bytes[26] == 1)
    #expect(le32(bytes, 132) == 0x010C_0008)
    #expect(Array(bytes[104..<120]) == Array(1...16))

    let decoded = try IdentifyNamespace(bytes: bytes)
    #expect(decoded == ns)
    #expect(decoded.currentFormatIndex == 1)
    #expect(decoded.blockSize == 4096)
    #expect(decoded.sizeInBytes == 8 << 30)
    #expect(decoded.thinProvisioning)
    #expect(IdentifyNamespace().blockSize == 512)
}

@Test func identifyNamespaceRejectsBadFormat() throws {
    var ns = IdentifyNamespace()
    ns.lbaFormats[0] = LBAFormat(lbaDataSize: 8)
    #expect(throws: NVMeDataStructureError.invalidField(structure: "IdentifyNamespace", field: "LBAF0.LBADS", value: 8)) {
        try IdentifyNamespace(bytes: try ns.encoded())
    }
    ns.lbaFormats[0] = LBAFormat(lbaDataSize: 17)
    #expect(throws: NVMeDataStructureError.self) { try IdentifyNamespace(bytes: try ns.encoded()) }
    // FLBAS selects format 2, but NLBAF says only format 0 exists.
    var beyond = IdentifyNamespace()
    beyond.formattedLBASize = 2
    beyond.lbaFormats[2] = LBAFormat(lbaDataSize: 12)
    #expect(throws: NVMeDataStructureError.invalidField(structure: "IdentifyNamespace", field: "FLBAS", value: 2)) {
        try IdentifyNamespace(bytes: try beyond.encoded())
    }
    // An inactive namespace reads as all zeros: LBADS 0 is rejected.
    #expect(throws: NVMeDataStructureError.self) { try IdentifyNamespace(bytes: [UInt8](repeating: 0, count: 4096)) }
}

@Test func activeNamespaceListStopsAtFirstZero() throws {
    let list = ActiveNamespaceList(namespaceIDs: [1, 2, 7])
    var bytes = try list.encoded()
    #expect(le32(bytes, 8) == 7 && le32(bytes, 12) == 0)
    bytes[20] = 9  // past the terminating zero: ignored
    #expect(try ActiveNamespaceList(bytes: bytes) == list)
    let full = ActiveNamespaceList(namespaceIDs: (1...1024).map { UInt32($0) })
    #expect(try ActiveNamespaceList(bytes: try full.encoded()).namespaceIDs.count == 1024)
    #expect(throws: NVMeDataStructureError.self) {
        try ActiveNamespaceList(namespaceIDs: (1...1025).map { UInt32($0) }).encoded()
    }
}

@Test func activeNamespaceListRejectsUnorderedOrBroadcastIDs() throws {
    #expect(throws: NVMeDataStructureError.self) {
        try ActiveNamespaceList(bytes: try ActiveNamespaceList(namespaceIDs: [3, 2]).encoded())
    }
    #expect(throws: NVMeDataStructureError.self) {
        try ActiveNamespaceList(bytes: try ActiveNamespaceList(namespaceIDs: [1, 0xFFFF_FFFF]).encoded())
    }
}

@Test func namespaceDescriptorsRoundTrip() throws {
    let list = NamespaceIdentificationDescriptorList(descriptors: [
        .init(type: .eui64, identifier: Array(1...8)),
        .init(type: .nguid, identifier: Array(11...26)),
        .init(type: .uuid, identifier: Array(31...46)),
    ])
    let bytes = try list.encoded()
    #expect(Array(bytes[0..<4]) == [1, 8, 0, 0])
    #expect(Array(bytes[12..<16]) == [2, 16, 0, 0])
    #expect(bytes[52] == 0)  // terminator
    let decoded = try NamespaceIdentificationDescriptorList(bytes: bytes)
    #expect(decoded == list)
    #expect(decoded.eui64 == Array(1...8))
    #expect(decoded.uuid == Array(31...46))
}

@Test func namespaceDescriptorOverrunningBufferIsRejected() throws {
    // Fifteen vendor descriptors of 4 + 255 bytes end at 3885; a sixteenth would end at 4144.
    var bytes = [UInt8](repeating: 0, count: 4096)
    for i in 0...15 {
        bytes[i * 259] = 0x80
        bytes[i * 259 + 1] = 255
    }
    #expect(throws: NVMeDataStructureError.invalidField(
        structure: "NamespaceIdentificationDescriptorList", field: "NIDL at byte 3886", value: 255)) {
        try NamespaceIdentificationDescriptorList(bytes: bytes)
    }
    bytes[15 * 259] = 0  // end the list before the overrun: the first fifteen decode
    #expect(try NamespaceIdentificationDescriptorList(bytes: bytes).descriptors.count == 15)
    // A UUID whose 16 bytes would run past a 56-byte buffer after two good descriptors.
    var short = [UInt8](repeating: 0, count: 56)
    for (offset, nidt) in [(0, 3), (20, 2), (40, 3)] as [(Int, UInt8)] {
        short[offset] = nidt
        short[offset + 1] = 16
    }
    #expect(throws: NVMeDataStructureError.self) { try NamespaceIdentificationDescriptorList(bytes: short) }
    // An unknown type may have any length, but still must fit.
    var unknown = [UInt8](repeating: 0, count: 64)
    unknown[0] = 9
    unknown[1] = 200
    #expect(throws: NVMeDataStructureError.self) { try NamespaceIdentificationDescriptorList(bytes: unknown) }
}

@Test func namespaceDescriptorWithWrongLengthOrZeroLengthIsRejected() throws {
    var bytes = [UInt8](repeating: 0, count: 4096)
    bytes[0] = 1
    bytes[1] = 16  // EUI-64 must be 8 bytes
    #expect(throws: NVMeDataStructureError.self) { try NamespaceIdentificationDescriptorList(bytes: bytes) }
    bytes[0] = 9
    bytes[1] = 0
    #expect(throws: NVMeDataStructureError.self) { try NamespaceIdentificationDescriptorList(bytes: bytes) }
    bytes[1] = 4  // unknown type with a fitting length is kept
    let decoded = try NamespaceIdentificationDescriptorList(bytes: bytes)
    #expect(decoded.descriptors == [.init(type: .other(9), identifier: [0, 0, 0, 0])])
}

// MARK: - Features

@Test func featureValuesPackTheirDwords() {
    let queues = NumberOfQueues(submissionQueues: 4, completionQueues: 2)
    #expect(queues.dword == 0x0001_0003)
    #expect(NumberOfQueues(dword: 0x003F_003F) == NumberOfQueues(submissionQueues: 64, completionQueues: 64))
    #expect(NumberOfQueues(dword: 0xFFFF_FFFF).submissionQueues == 65536)

    let coalescing = InterruptCoalescing(aggregationThreshold: 8, aggregationTime: 10)
    #expect(coalescing.dword == 0x0A07)
    #expect(InterruptCoalescing(dword: 0x0A07) == coalescing)
    #expect(coalescing.aggregationTimeMicroseconds == 1000)

    let arbitration = Arbitration(burst: 3, lowPriorityWeight: 1, mediumPriorityWeight: 2, highPriorityWeight: 4)
    #expect(arbitration.dword == 0x0402_0103)
    #expect(Arbitration(dword: 0x0402_01FB) == arbitration)  // reserved bits 7:3 ignored

    #expect(VolatileWriteCache(dword: 1).enabled && VolatileWriteCache(enabled: false).dword == 0)
    #expect(FeatureIdentifier.asynchronousEventConfiguration.rawValue == 0x0B)
}

// MARK: - Log pages

@Test func smartLogRoundTripsAtSpecOffsets() throws {
    var log = SMARTHealthLog()
    log.criticalWarning = [.availableSpareBelowThreshold, .readOnly]
    log.compositeTemperature = 310
    log.availableSpare = 100
    log.availableSpareThreshold = 10
    log.percentageUsed = 3
    log.dataUnitsRead = LogCounter128(low: 12345, high: 1)
    log.hostWriteCommands = LogCounter128(low: 99)
    log.powerOnHours = LogCounter128(low: 1000)
    log.numberOfErrorLogEntries = LogCounter128(low: 2)
    log.temperatureSensors[0] = 305
    let bytes = try log.encoded()
    #expect(bytes.count == 512)
    #expect(bytes[0] == 0b1001)
    #expect(le16(bytes, 1) == 310)
    #expect(bytes[3] == 100 && bytes[4] == 10 && bytes[5] == 3)
    #expect(le32(bytes, 32) == 12345 && le32(bytes, 40) == 1)
    #expect(le32(bytes, 80) == 99)
    #expect(le32(bytes, 128) == 1000)
    #expect(le32(bytes, 176) == 2)
    #expect(le16(bytes, 200) == 305)

    let decoded = try SMARTHealthLog(bytes: bytes)
    #expect(decoded == log)
    #expect(decoded.compositeTemperatureCelsius == 37)
    #expect(decoded.dataUnitsRead.value == (UInt128(1) << 64) + 12345)
    #expect(decoded.dataUnitsRead.saturatingUInt64 == .max)
    #expect(decoded.hostWriteCommands.saturatingUInt64 == 99)
}

@Test func errorInformationEntriesRoundTrip() throws {
    var entry = ErrorInformationEntry()
    entry.errorCount = 7
    entry.submissionQueueID = 1
    entry.commandID = 0x55
    entry.status = .lbaOutOfRange.withDoNotRetry()
    entry.parameterErrorLocation = 0x28
    entry.lba = 1 << 40
    entry.namespaceID = 1
    entry.commandSpecific = 0xABCD
    let bytes = try entry.encoded()
    #expect(le16(bytes, 10) == 0x55)
    #expect(le16(bytes, 12) == 0x8100)
    #expect(le32(bytes, 24) == 1)
    let decoded = try ErrorInformationEntry(bytes: bytes)
    #expect(decoded == entry)
    #expect(decoded.status.matches(.lbaOutOfRange))

    let page = bytes + [UInt8](repeating: 0, count: 64) + [1, 2, 3]
    let all = try page.withUnsafeBytes { buffer in try ErrorInformationEntry.decodeAll(bytes: buffer) }
    #expect(all.count == 2)
    #expect(all[0] == entry && all[1].errorCount == 0)
}

@Test func datasetManagementRangesDecodeAsAList() throws {
    let ranges = [
        DatasetManagementRange(lengthInBlocks: 8, startingLBA: 0),
        DatasetManagementRange(contextAttributes: 1, lengthInBlocks: 16, startingLBA: 1 << 33),
    ]
    let bytes = try ranges.flatMap { range in try range.encoded() }
    #expect(bytes.count == 32)
    #expect(le32(bytes, 20) == 16)
    #expect(le32(bytes, 28) == 2)
    let decoded = try bytes.withUnsafeBytes { buffer in
        try DatasetManagementRange.decodeList(bytes: buffer, count: 2)
    }
    #expect(decoded == ranges)
    #expect(throws: NVMeDataStructureError.self) {
        try bytes.withUnsafeBytes { buffer in
            try DatasetManagementRange.decodeList(bytes: buffer, count: 3)
        }
    }
}
