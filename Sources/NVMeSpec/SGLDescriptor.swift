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

/// SGL Descriptor Type, byte 15 bits 7:4 of a descriptor (NVMe base 1.4, 4.4, Figure 115).
public enum SGLDescriptorType: UInt8, Sendable {
    /// Data Block: `length` bytes of data at `address`.
    case dataBlock = 0x0
    /// Bit Bucket: `length` bytes the controller discards (reads only); no address.
    case bitBucket = 0x1
    /// Segment: the next segment, `length` bytes of descriptors at `address`; more follow it.
    case segment = 0x2
    /// Last Segment: the final segment, which holds no Segment or Last Segment descriptor.
    case lastSegment = 0x3
    /// Keyed Data Block (fabrics).
    case keyedDataBlock = 0x4
    /// Transport SGL Data Block (fabrics).
    case transportDataBlock = 0x5
    /// Vendor specific.
    case vendorSpecific = 0xF
}

/// SGL Descriptor Sub Type, byte 15 bits 3:0 (NVMe base 1.4, 4.4, Figure 116). A PCIe controller
/// takes `address`; `offset` is for fabrics and for controllers that advertise SGLS bit 20.
public enum SGLDescriptorSubtype: UInt8, Sendable {
    case address = 0x0
    case offset = 0x1
}

/// One 16-byte SGL descriptor (NVMe base 1.4, 4.4, Figure 114): address (bytes 7:0), length
/// (11:8), reserved (14:12), SGL identifier (15). Stored in wire order, so on a little-endian host
/// the value's memory is the descriptor; the tests pin the layout (Linux `struct nvme_sgl_desc`).
///
/// The constructors are the host's; the decoding accessors are the controller's, for descriptors
/// the host wrote: they never trap, and an identifier outside the known types stays visible as
/// `rawType` so it can be answered with SGL Descriptor Type Invalid.
@frozen
public struct SGLDescriptor: Hashable, Sendable {
    /// Bytes 7:0: the data or segment address (ignored for a bit bucket).
    public var address: UInt64
    /// Bytes 11:8: bytes described (a segment's: bytes of descriptors, a multiple of 16).
    public var length: UInt32
    /// Bytes 15:12: reserved in bits 23:0, the SGL identifier in bits 31:24.
    public var dword3: UInt32

    /// Bytes in one descriptor.
    public static let size = 16

    @inlinable
    public init(address: UInt64, length: UInt32, dword3: UInt32) {
        self.address = address
        self.length = length
        self.dword3 = dword3
    }

    @inlinable
    init(_ type: SGLDescriptorType, address: UInt64, length: UInt32) {
        self.init(address: address, length: length, dword3: UInt32(type.rawValue) << 28)
    }

    /// A Data Block descriptor: `length` bytes at `address`.
    @inlinable
    public static func dataBlock(address: UInt64, length: UInt32) -> SGLDescriptor { .init(.dataBlock, address: address, length: length) }

    /// A Bit Bucket descriptor: the controller discards `length` bytes of a read.
    @inlinable
    public static func bitBucket(length: UInt32) -> SGLDescriptor { .init(.bitBucket, address: 0, length: length) }

    /// A Segment descriptor: `descriptors` descriptors at `address`, the last of which chains on.
    @inlinable
    public static func segment(address: UInt64, descriptors: Int) -> SGLDescriptor {
        .init(.segment, address: address, length: UInt32(truncatingIfNeeded: descriptors &* size))
    }

    /// A Last Segment descriptor: `descriptors` descriptors at `address`, none of them a segment.
    @inlinable
    public static func lastSegment(address: UInt64, descriptors: Int) -> SGLDescriptor {
        .init(.lastSegment, address: address, length: UInt32(truncatingIfNeeded: descriptors &* size))
    }

    /// Byte 15: the SGL identifier.
    @inlinable public var identifier: UInt8 { UInt8(truncatingIfNeeded: dword3 >> 24) }
    /// Identifier bits 7:4, raw (any value the host wrote).
    @inlinable public var rawType: UInt8 { identifier >> 4 }
    /// Identifier bits 7:4 as a known type, or nil for a reserved one.
    @inlinable public var type: SGLDescriptorType? { SGLDescriptorType(rawValue: rawType) }
    /// Identifier bits 3:0, raw.
    @inlinable public var rawSubtype: UInt8 { identifier & 0xF }

    /// Reads the descriptor at `offset` of `bytes` (host memory: any value).
    @inlinable
    public static func load(from bytes: UnsafeRawPointer, at offset: Int = 0) -> SGLDescriptor {
        SGLDescriptor(
            address: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
            length: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)),
            dword3: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
    }

    /// Writes the descriptor at `offset` of `bytes` in wire order.
    @inlinable @inline(__always)
    public func store(to bytes: UnsafeMutableRawPointer, at offset: Int = 0) {
        bytes.storeBytes(of: address.littleEndian, toByteOffset: offset, as: UInt64.self)
        bytes.storeBytes(of: length.littleEndian, toByteOffset: offset + 8, as: UInt32.self)
        bytes.storeBytes(of: dword3.littleEndian, toByteOffset: offset + 12, as: UInt32.self)
    }
}

/// CDW0.PSDT (NVMe base 1.4, 4.2, Figure 105): how DPTR and MPTR describe memory.
public enum DataPointerType: UInt8, Sendable {
    /// PRP1 and PRP2.
    case prp = 0b00
    /// SGL1 in DPTR; MPTR is the address of a contiguous metadata buffer.
    case sgl = 0b01
    /// SGL1 in DPTR; MPTR is the address of an SGL segment holding one descriptor.
    case sglMetadataSegment = 0b10
}

extension SubmissionQueueEntry {
    /// DPTR as SGL Entry 1 (bytes 39:24), the first descriptor of an SGL command: PRP1's bytes are
    /// its address, PRP2's its length and identifier.
    @inlinable
    public var sgl1: SGLDescriptor {
        get { SGLDescriptor(address: prp1, length: UInt32(truncatingIfNeeded: prp2), dword3: UInt32(truncatingIfNeeded: prp2 >> 32)) }
        set {
            prp1 = newValue.address
            prp2 = UInt64(newValue.length) | UInt64(newValue.dword3) << 32
        }
    }
}

extension NVMeStatus {
    /// SGL Descriptor Type Invalid (SCT 0, SC 11h): a type or sub type the controller does not take.
    public static let sglDescriptorTypeInvalid = generic(0x11)
    /// SGL Data Block Granularity Invalid (SCT 0, SC 1Eh): breaks the SGLS 10b dword rule.
    public static let sglDataBlockGranularityInvalid = generic(0x1E)
}
