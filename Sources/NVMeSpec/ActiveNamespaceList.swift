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

/// Active Namespace ID list, Identify CNS 02h (NVMe base 1.4, 5.15.2): up to 1024 NSIDs greater
/// than the command's NSID, in increasing order, the rest of the 4096 bytes zero.
@frozen
public struct ActiveNamespaceList: Hashable, Sendable {
    public static let capacity = 1024

    /// Active NSIDs, increasing.
    public var namespaceIDs: [UInt32]

    @inlinable public init(namespaceIDs: [UInt32]) { self.namespaceIDs = namespaceIDs }
}

extension ActiveNamespaceList: NVMeDataStructure {
    public static let encodedSize = 4096

    /// Stops at the first zero entry. Rejects lists that are not strictly increasing or contain
    /// the broadcast NSID FFFFFFFFh: the spec forbids both, so such data is garbage.
    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let r = ByteReader(bytes, structure: "ActiveNamespaceList")
        try r.require(4096)
        var ids: [UInt32] = []
        for i in 0..<Self.capacity {
            let id: UInt32 = try r.load(at: 4 * i)
            if id == 0 { break }
            guard id != 0xFFFF_FFFF, id > (ids.last ?? 0) else {
                throw .invalidField(structure: "ActiveNamespaceList", field: "NSID[\(i)]", value: UInt64(id))
            }
            ids.append(id)
        }
        namespaceIDs = ids
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let w = ByteWriter(buffer, structure: "ActiveNamespaceList")
        guard namespaceIDs.count <= Self.capacity else {
            throw .invalidField(structure: "ActiveNamespaceList", field: "count", value: UInt64(namespaceIDs.count))
        }
        try w.prepare(4096)
        for (i, id) in namespaceIDs.enumerated() { try w.store(id, at: 4 * i) }
    }
}
