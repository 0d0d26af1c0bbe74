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

/// The guard checksums of end-to-end protection information (NVMe NVM command set 1.0, 5.2.1.1):
/// CRC-16 T10-DIF for the 16-bit guard and CRC-64 NVMe for the 64-bit guard.
///
/// Both are plain table-driven CRCs. `update` continues a running value, because the guard covers
/// the block's data and then, when the tuple sits at the end of the metadata, the metadata bytes
/// before it: the CRC of the concatenation, computed without copying the two together.
public enum CRC16T10DIF {
    /// Polynomial 0x8BB7, not reflected, initial value 0, no final xor (the SCSI T10-DIF CRC).
    public static let polynomial: UInt16 = 0x8BB7

    @usableFromInline static let table: [UInt16] = (0..<256).map { byte -> UInt16 in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? crc << 1 ^ polynomial : crc << 1 }
        return crc
    }

    /// The running CRC after `bytes`, starting from `crc` (0 for a fresh checksum).
    @inlinable
    public static func update(_ crc: UInt16, _ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc = crc
        table.withUnsafeBufferPointer { t in
            for byte in bytes { crc = crc << 8 ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)] }
        }
        return crc
    }

    /// The CRC of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 { update(0, bytes) }
}

/// CRC-64 NVMe (Rocksoft): polynomial 0xAD93D23594C93659, reflected, initial value and final xor
/// all ones. The running value kept by `update` is the register before the final xor.
public enum CRC64NVMe {
    /// The polynomial bit-reversed, as a reflected CRC shifts right.
    public static let reflectedPolynomial: UInt64 = 0x9A6C_9329_AC4B_C9B5
    /// The register's value before any byte.
    public static let initial: UInt64 = ~0

    @usableFromInline static let table: [UInt64] = (0..<256).map { byte -> UInt64 in
        var crc = UInt64(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? crc >> 1 ^ reflectedPolynomial : crc >> 1 }
        return crc
    }

    /// The register after `bytes`, starting from `register` (`initial` for a fresh checksum).
    @inlinable
    public static func update(_ register: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var crc = register
        table.withUnsafeBufferPointer { t in
            for byte in bytes { crc = crc >> 8 ^ t[Int(UInt8(truncatingIfNeeded: crc) ^ byte)] }
        }
        return crc
    }

    /// The final CRC of a register (the final xor).
    @inlinable public static func finish(_ register: UInt64) -> UInt64 { ~register }

    /// The CRC of `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 { finish(update(initial, bytes)) }
}
