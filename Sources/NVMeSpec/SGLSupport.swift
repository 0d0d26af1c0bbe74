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

/// Identify Controller SGLS (bytes 539:536, NVMe base 1.4, Figure 247): whether and how the
/// controller takes SGLs for NVM command set I/O. Decoded from the raw dword, which is device data:
/// every value decodes, a reserved bits 1:0 value (11b) counts as unsupported.
@frozen
public struct SGLSupport: Sendable, Equatable {
    public var rawValue: UInt32

    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Bits 1:0 = 01b: SGLs supported, no alignment or granularity rule for Data Blocks.
    public static let supportedUnaligned = SGLSupport(rawValue: 0b01)
    /// Bits 1:0 = 10b: SGLs supported, Data Blocks dword aligned with dword granularity.
    public static let supportedDwordAligned = SGLSupport(rawValue: 0b10)
    /// Bit 16: the SGL Bit Bucket descriptor is supported.
    public static let bitBucketBit: UInt32 = 1 << 16
    /// Bit 18: an SGL may describe more data than the command transfers.
    public static let excessLengthBit: UInt32 = 1 << 18

    /// SGLs can carry the data of NVM command set I/O commands.
    @inlinable public var supported: Bool { rawValue & 0b11 == 0b01 || rawValue & 0b11 == 0b10 }
    /// Data Blocks must start on a dword and be a whole number of dwords (bits 1:0 = 10b).
    @inlinable public var requiresDwordAlignment: Bool { rawValue & 0b11 == 0b10 }
    /// Bit Bucket descriptors are accepted (bit 16).
    @inlinable public var bitBucket: Bool { rawValue & Self.bitBucketBit != 0 }
    /// An SGL longer than the transfer is accepted (bit 18).
    @inlinable public var excessLength: Bool { rawValue & Self.excessLengthBit != 0 }
}

extension IdentifyController {
    /// SGLS, decoded.
    @inlinable public var sglSupport: SGLSupport { SGLSupport(rawValue: sgls) }
}

extension SGLSupport {
    /// What QEMU 7.2's NVMe controller advertises (`NVME_CTRL_SGLS_SUPPORT_NO_ALIGN |
    /// NVME_CTRL_SGLS_BITBUCKET`): SGLs with no alignment rule, and bit buckets.
    public static let qemu = SGLSupport(rawValue: 0b01 | bitBucketBit)
}
