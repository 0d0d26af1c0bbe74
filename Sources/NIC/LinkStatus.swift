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

/// The link as STATUS reports it (82574 datasheet 10.2.2.2).
@frozen
public struct LinkStatus: Sendable, Equatable, CustomStringConvertible {
    /// STATUS.LU.
    public let isUp: Bool
    /// STATUS.SPEED in Mb/s (10, 100 or 1000); meaningful only while up.
    public let speedMbps: Int
    /// STATUS.FD.
    public let fullDuplex: Bool

    @inlinable
    public init(isUp: Bool, speedMbps: Int, fullDuplex: Bool) {
        self.isUp = isUp
        self.speedMbps = speedMbps
        self.fullDuplex = fullDuplex
    }

    @inlinable
    init(_ status: DeviceStatus) {
        self.init(isUp: status.linkUp, speedMbps: status.speedMbps, fullDuplex: status.fullDuplex)
    }

    public var description: String {
        isUp ? "up \(speedMbps) Mb/s \(fullDuplex ? "full" : "half") duplex" : "down"
    }
}
