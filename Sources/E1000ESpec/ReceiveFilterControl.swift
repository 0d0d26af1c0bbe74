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

import VFIO

/// RFCTL, receive filter control (82574 datasheet 10.2.5.3).
@frozen
public struct ReceiveFilterControl: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// RFCTL.NFSW_DIS: NFS write filtering disabled.
    @inlinable public var nfsWriteDisable: Bool { get { rawValue.bit(6) } set { rawValue.setBit(6, newValue) } }
    /// RFCTL.NFSR_DIS: NFS read filtering disabled.
    @inlinable public var nfsReadDisable: Bool { get { rawValue.bit(7) } set { rawValue.setBit(7, newValue) } }
    /// RFCTL.IPV6_EX_DIS: IPv6 extension header parsing disabled.
    @inlinable public var ipv6ExtensionDisable: Bool { get { rawValue.bit(16) } set { rawValue.setBit(16, newValue) } }
    /// RFCTL.EXSTEN: extended status: receive descriptors use the extended layout
    /// (`ExtendedReceiveDescriptor`), which carries the RSS hash and queue; needed for RSS on
    /// QEMU's e1000e (`e1000e_rss_enabled` refuses legacy descriptors).
    @inlinable public var extendedStatus: Bool { get { rawValue.bit(15) } set { rawValue.setBit(15, newValue) } }
}
