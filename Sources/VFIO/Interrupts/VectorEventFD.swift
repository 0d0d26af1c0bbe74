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

/// The eventfd of one interrupt vector (or of the device request index), owned by whoever
/// holds the vector table: `VFIODevice` for vfio-pci, an emulated function for itself.
///
/// A class around the non-copyable `EventFD`, so that an array can hold one per vector; the
/// descriptor closes when the last reference goes, which is after `VFIO_DEVICE_SET_IRQS` took
/// it off the index (the kernel keeps its own reference to the counter until then). Queues
/// borrow the raw descriptor (`rawValue`) and use `EventFD`'s static wait and drain.
public final class VectorEventFD: Sendable {
    public let eventFD: EventFD

    public init(_ eventFD: consuming EventFD) { self.eventFD = eventFD }

    @inlinable public var rawValue: Int32 { eventFD.rawValue }

    /// `count` new eventfds, one per vector; on a failure the ones already made close again.
    /// `purpose` names them in the error (`"eventfd for MSI-X of 0000:01:00.0"`).
    public static func make(count: Int, for purpose: String) throws(VFIOError) -> [VectorEventFD] {
        var made: [VectorEventFD] = []
        made.reserveCapacity(count)
        for _ in 0..<count { made.append(VectorEventFD(try EventFD(for: purpose))) }
        return made
    }
}
