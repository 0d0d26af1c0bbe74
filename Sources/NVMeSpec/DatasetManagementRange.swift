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

/// One 16-byte Dataset Management range (NVMe base 1.4, 6, "Dataset Management - Range Definition"):
/// context attributes, length in logical blocks (one-based, unlike NLB), starting LBA.
@frozen
public struct DatasetManagementRange: Hashable, Sendable {
    /// Context Attributes (access frequency, latency, sequential hints).
    public var contextAttributes: UInt32
    /// Length in logical blocks; a count, not zero-based.
    public var lengthInBlocks: UInt32
    /// Starting LBA.
    public var startingLBA: UInt64

    @inlinable
    public init(contextAttributes: UInt32 = 0, lengthInBlocks: UInt32, startingLBA: UInt64) {
        self.contextAttributes = contextAttributes
        self.lengthInBlocks = lengthInBlocks
        self.startingLBA = startingLBA
    }
}

extension DatasetManagementRange: NVMeDataStructure {
    public static let encodedSize = 16

    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "DatasetManagementRange")
        try r.require(16)
        self.init(contextAttributes: try r.load(at: 0), lengthInBlocks: try r.load(at: 4), startingLBA: try r.load(at: 8))
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "DatasetManagementRange")
        try w.prepare(16)
        try w.store(contextAttributes, at: 0)
        try w.store(lengthInBlocks, at: 4)
        try w.store(startingLBA, at: 8)
    }

    /// Decodes `count` consecutive ranges (the list Dataset Management's PRP1 points to).
    public static func decodeList(bytes: UnsafeRawBufferPointer, count: Int) throws(NVMeDataStructureError) -> [DatasetManagementRange] {
        let r = ByteReader(bytes, structure: "DatasetManagementRange list")
        guard count >= 0 else { throw .invalidField(structure: "DatasetManagementRange list", field: "count", value: UInt64(bitPattern: Int64(count))) }
        try r.require(count.multipliedReportingOverflow(by: 16).overflow ? Int.max : count * 16)
        var ranges: [DatasetManagementRange] = []
        ranges.reserveCapacity(count)
        for i in 0..<count {
            try ranges.append(DatasetManagementRange(bytes: UnsafeRawBufferPointer(rebasing: bytes[(i * 16)..<(i * 16 + 16)])))
        }
        return ranges
    }
}
