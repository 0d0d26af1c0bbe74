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

#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import VFIO
// FakeTree and its helpers, for every file of this target.
@_exported import VFIOTestSupport

/// A DMAMapper peer for tests: records every map and unmap, can be told to fail the next map.
final class FakeMapper: DMAMapper {
    struct Mapping: Equatable {
        var address: UInt
        var length: Int
        var iova: UInt64
    }
    struct Log {
        var maps: [Mapping] = []
        var unmaps: [Mapping] = []
        var failNextMap = false
    }
    let iovaRanges: [Range<UInt64>]
    let mappingLimit: Int?
    let pinsMemory = false
    let log = Mutex(Log())

    init(ranges: [Range<UInt64>] = [0x10_0000..<0x1_0000_0000], mappingLimit: Int? = nil) {
        iovaRanges = ranges
        self.mappingLimit = mappingLimit
    }

    func map(address: UnsafeMutableRawPointer, length: Int, iova: IOVA) throws(VFIOError) {
        try log.withLock { (l) throws(VFIOError) in
            if l.failNextMap {
                l.failNextMap = false
                throw .system(operation: "fake map", errno: ENOMEM)
            }
            l.maps.append(Mapping(address: UInt(bitPattern: address), length: length, iova: iova.rawValue))
        }
    }

    func unmap(iova: IOVA, length: Int) throws(VFIOError) {
        log.withLock { l in
            let address = l.maps.last { $0.iova == iova.rawValue }?.address ?? 0
            l.unmaps.append(Mapping(address: address, length: length, iova: iova.rawValue))
        }
    }

    var mapCount: Int { log.withLock { $0.maps.count } }
    var unmapCount: Int { log.withLock { $0.unmaps.count } }
    /// Mappings made and not yet unmapped.
    var live: [Mapping] {
        log.withLock { l in
            var live = l.maps
            for u in l.unmaps { if let i = live.firstIndex(where: { $0.iova == u.iova && $0.length == u.length }) { live.remove(at: i) } }
            return live
        }
    }
}

func environmentValue(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
