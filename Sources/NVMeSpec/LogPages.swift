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

/// Log page identifiers for Get Log Page (NVMe base 1.4, 5.14.1).
public enum LogPageIdentifier: UInt8, Sendable, CaseIterable {
    case errorInformation = 0x01
    case smartHealth = 0x02
    case firmwareSlot = 0x03
    case changedNamespaceList = 0x04
    /// Discovery (NVMe over Fabrics 1.1, 5.3): on a discovery controller only.
    case discovery = 0x70
}

/// A 128-bit log counter stored as two little-endian 64-bit halves (SMART data units, commands...).
@frozen
public struct LogCounter128: Hashable, Sendable, CustomStringConvertible {
    public var low: UInt64
    public var high: UInt64

    @inlinable public init(low: UInt64, high: UInt64 = 0) {
        self.low = low
        self.high = high
    }

    @inlinable public init(_ value: UInt128) {
        low = UInt64(truncatingIfNeeded: value)
        high = UInt64(truncatingIfNeeded: value >> 64)
    }

    @inlinable public var value: UInt128 { UInt128(high) << 64 | UInt128(low) }
    /// The value, or UInt64.max if it does not fit.
    @inlinable public var saturatingUInt64: UInt64 { high == 0 ? low : .max }
    public var description: String { value.description }

    @inlinable
    init(_ r: ByteReader, at offset: Int) throws(NVMeDataStructureError) {
        self.init(low: try r.load(at: offset), high: try r.load(at: offset + 8))
    }

    @inlinable
    func store(_ w: ByteWriter, at offset: Int) throws(NVMeDataStructureError) {
        try w.store(low, at: offset)
        try w.store(high, at: offset + 8)
    }
}

/// SMART / Health Information, log page 02h (NVMe base 1.4, 5.14.1.2), 512 bytes.
@frozen
public struct SMARTHealthLog: Hashable, Sendable {
    /// Critical Warning bits (byte 0).
    @frozen
    public struct CriticalWarning: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let availableSpareBelowThreshold = CriticalWarning(rawValue: 1 << 0)
        public static let temperatureThreshold = CriticalWarning(rawValue: 1 << 1)
        public static let reliabilityDegraded = CriticalWarning(rawValue: 1 << 2)
        public static let readOnly = CriticalWarning(rawValue: 1 << 3)
        public static let volatileMemoryBackupFailed = CriticalWarning(rawValue: 1 << 4)
        public static let persistentMemoryRegionReadOnly = CriticalWarning(rawValue: 1 << 5)
    }

    public var criticalWarning: CriticalWarning = []
    /// Composite Temperature in kelvins (bytes 2:1).
    public var compositeTemperature: UInt16 = 0
    /// Available Spare, percent (byte 3).
    public var availableSpare: UInt8 = 0
    /// Available Spare Threshold, percent (byte 4).
    public var availableSpareThreshold: UInt8 = 0
    /// Percentage Used, may exceed 100 (byte 5).
    public var percentageUsed: UInt8 = 0
    /// Endurance Group Critical Warning Summary (byte 6).
    public var enduranceGroupCriticalWarningSummary: UInt8 = 0
    /// Data Units Read, in thousands of 512-byte units (bytes 47:32).
    public var dataUnitsRead = LogCounter128(low: 0)
    /// Data Units Written (bytes 63:48).
    public var dataUnitsWritten = LogCounter128(low: 0)
    /// Host Read Commands (bytes 79:64).
    public var hostReadCommands = LogCounter128(low: 0)
    /// Host Write Commands (bytes 95:80).
    public var hostWriteCommands = LogCounter128(low: 0)
    /// Controller Busy Time, minutes (bytes 111:96).
    public var controllerBusyTime = LogCounter128(low: 0)
    /// Power Cycles (bytes 127:112).
    public var powerCycles = LogCounter128(low: 0)
    /// Power On Hours (bytes 143:128).
    public var powerOnHours = LogCounter128(low: 0)
    /// Unsafe Shutdowns (bytes 159:144).
    public var unsafeShutdowns = LogCounter128(low: 0)
    /// Media and Data Integrity Errors (bytes 175:160).
    public var mediaErrors = LogCounter128(low: 0)
    /// Number of Error Information Log Entries over the controller's life (bytes 191:176).
    public var numberOfErrorLogEntries = LogCounter128(low: 0)
    /// Warning Composite Temperature Time, minutes (bytes 195:192).
    public var warningCompositeTemperatureTime: UInt32 = 0
    /// Critical Composite Temperature Time, minutes (bytes 199:196).
    public var criticalCompositeTemperatureTime: UInt32 = 0
    /// Temperature Sensors 1-8 in kelvins, 0 = not implemented (bytes 215:200).
    public var temperatureSensors: [UInt16] = Array(repeating: 0, count: 8)

    public init() {}

    /// Composite temperature in degrees Celsius.
    @inlinable public var compositeTemperatureCelsius: Int { Int(compositeTemperature) - 273 }
}

extension SMARTHealthLog: NVMeDataStructure {
    public static let encodedSize = 512

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "SMARTHealthLog")
        try r.require(512)
        criticalWarning = CriticalWarning(rawValue: try r.load(at: 0))
        compositeTemperature = try r.load(at: 1)
        availableSpare = try r.load(at: 3)
        availableSpareThreshold = try r.load(at: 4)
        percentageUsed = try r.load(at: 5)
        enduranceGroupCriticalWarningSummary = try r.load(at: 6)
        dataUnitsRead = try LogCounter128(r, at: 32)
        dataUnitsWritten = try LogCounter128(r, at: 48)
        hostReadCommands = try LogCounter128(r, at: 64)
        hostWriteCommands = try LogCounter128(r, at: 80)
        controllerBusyTime = try LogCounter128(r, at: 96)
        powerCycles = try LogCounter128(r, at: 112)
        powerOnHours = try LogCounter128(r, at: 128)
        unsafeShutdowns = try LogCounter128(r, at: 144)
        mediaErrors = try LogCounter128(r, at: 160)
        numberOfErrorLogEntries = try LogCounter128(r, at: 176)
        warningCompositeTemperatureTime = try r.load(at: 192)
        criticalCompositeTemperatureTime = try r.load(at: 196)
        var sensors: [UInt16] = []
        for i in 0..<8 { sensors.append(try r.load(at: 200 + 2 * i)) }
        temperatureSensors = sensors
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "SMARTHealthLog")
        try w.prepare(512)
        try w.store(criticalWarning.rawValue, at: 0)
        try w.store(compositeTemperature, at: 1)
        try w.store(availableSpare, at: 3)
        try w.store(availableSpareThreshold, at: 4)
        try w.store(percentageUsed, at: 5)
        try w.store(enduranceGroupCriticalWarningSummary, at: 6)
        try dataUnitsRead.store(w, at: 32)
        try dataUnitsWritten.store(w, at: 48)
        try hostReadCommands.store(w, at: 64)
        try hostWriteCommands.store(w, at: 80)
        try controllerBusyTime.store(w, at: 96)
        try powerCycles.store(w, at: 112)
        try powerOnHours.store(w, at: 128)
        try unsafeShutdowns.store(w, at: 144)
        try mediaErrors.store(w, at: 160)
        try numberOfErrorLogEntries.store(w, at: 176)
        try w.store(warningCompositeTemperatureTime, at: 192)
        try w.store(criticalCompositeTemperatureTime, at: 196)
        for (i, t) in temperatureSensors.prefix(8).enumerated() { try w.store(t, at: 200 + 2 * i) }
    }
}

/// One Error Information log entry, log page 01h (NVMe base 1.4, 5.14.1.1), 64 bytes.
/// An entry with `errorCount` 0 is unused.
@frozen
public struct ErrorInformationEntry: Hashable, Sendable {
    /// Error Count: unique, incrementing identifier of the error (bytes 7:0).
    public var errorCount: UInt64 = 0
    /// Submission Queue ID (bytes 9:8); 0xFFFF if not tied to a command.
    public var submissionQueueID: UInt16 = 0
    /// Command ID (bytes 11:10); 0xFFFF if not tied to a command.
    public var commandID: UInt16 = 0
    /// Status Field (bytes 13:12): phase tag in bit 0 and status as in the CQE.
    public var statusField: UInt16 = 0
    /// Parameter Error Location (bytes 15:14): byte in bits 7:0, bit in bits 10:8 of the SQE.
    public var parameterErrorLocation: UInt16 = 0
    /// LBA (bytes 23:16): first LBA with the error, if applicable.
    public var lba: UInt64 = 0
    /// Namespace (bytes 27:24).
    public var namespaceID: UInt32 = 0
    /// Vendor Specific Information Available (byte 28): log page id with more data, or 0.
    public var vendorSpecific: UInt8 = 0
    /// Transport Type (byte 29).
    public var transportType: UInt8 = 0
    /// Command Specific Information (bytes 39:32).
    public var commandSpecific: UInt64 = 0
    /// Transport Type Specific Information (bytes 41:40).
    public var transportTypeSpecific: UInt16 = 0

    public init() {}

    /// The status of the failed command.
    @inlinable public var status: NVMeStatus {
        get { NVMeStatus(statusAndPhase: statusField) }
        set { statusField = newValue.withPhase(statusField & 1 != 0) }
    }
}

extension ErrorInformationEntry: NVMeDataStructure {
    public static let encodedSize = 64

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "ErrorInformationEntry")
        try r.require(64)
        errorCount = try r.load(at: 0)
        submissionQueueID = try r.load(at: 8)
        commandID = try r.load(at: 10)
        statusField = try r.load(at: 12)
        parameterErrorLocation = try r.load(at: 14)
        lba = try r.load(at: 16)
        namespaceID = try r.load(at: 24)
        vendorSpecific = try r.load(at: 28)
        transportType = try r.load(at: 29)
        commandSpecific = try r.load(at: 32)
        transportTypeSpecific = try r.load(at: 40)
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "ErrorInformationEntry")
        try w.prepare(64)
        try w.store(errorCount, at: 0)
        try w.store(submissionQueueID, at: 8)
        try w.store(commandID, at: 10)
        try w.store(statusField, at: 12)
        try w.store(parameterErrorLocation, at: 14)
        try w.store(lba, at: 16)
        try w.store(namespaceID, at: 24)
        try w.store(vendorSpecific, at: 28)
        try w.store(transportType, at: 29)
        try w.store(commandSpecific, at: 32)
        try w.store(transportTypeSpecific, at: 40)
    }

    /// Decodes every whole 64-byte entry in `bytes` (a Get Log Page 01h transfer), unused ones included.
    public static func decodeAll(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) -> [ErrorInformationEntry] {
        var entries: [ErrorInformationEntry] = []
        var offset = 0
        while bytes.count - offset >= 64 {
            try entries.append(ErrorInformationEntry(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 64])))
            offset += 64
        }
        return entries
    }
}
