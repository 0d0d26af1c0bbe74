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

/// One Namespace Identification Descriptor (NVMe base 1.4, 5.15.2, CNS 03h): NIDT (byte 0),
/// NIDL (byte 1), two reserved bytes, then NIDL bytes of identifier.
@frozen
public struct NamespaceIdentificationDescriptor: Hashable, Sendable {
    /// NIDT values.
    public enum IdentifierType: Hashable, Sendable {
        /// 1: IEEE EUI-64, 8 bytes.
        case eui64
        /// 2: NGUID, 16 bytes.
        case nguid
        /// 3: UUID, 16 bytes.
        case uuid
        /// A type this driver does not know; skipped by length, kept for display.
        case other(UInt8)

        @inlinable
        public init(rawValue: UInt8) {
            switch rawValue {
            case 1: self = .eui64
            case 2: self = .nguid
            case 3: self = .uuid
            default: self = .other(rawValue)
            }
        }

        @inlinable
        public var rawValue: UInt8 {
            switch self {
            case .eui64: 1
            case .nguid: 2
            case .uuid: 3
            case .other(let raw): raw
            }
        }

        /// The NIDL the spec requires for this type, nil if unknown.
        @inlinable
        public var requiredLength: Int? {
            switch self {
            case .eui64: 8
            case .nguid, .uuid: 16
            case .other: nil
            }
        }
    }

    public var type: IdentifierType
    /// The NIDL bytes of identifier.
    public var identifier: [UInt8]

    @inlinable
    public init(type: IdentifierType, identifier: [UInt8]) {
        self.type = type
        self.identifier = identifier
    }
}

/// The list returned by Identify CNS 03h: descriptors until one with NIDT 0 or the end of the
/// 4096-byte buffer.
@frozen
public struct NamespaceIdentificationDescriptorList: Hashable, Sendable {
    public var descriptors: [NamespaceIdentificationDescriptor]

    @inlinable public init(descriptors: [NamespaceIdentificationDescriptor]) { self.descriptors = descriptors }

    @inlinable public var eui64: [UInt8]? { descriptors.first { $0.type == .eui64 }?.identifier }
    @inlinable public var nguid: [UInt8]? { descriptors.first { $0.type == .nguid }?.identifier }
    @inlinable public var uuid: [UInt8]? { descriptors.first { $0.type == .uuid }?.identifier }
}

extension NamespaceIdentificationDescriptorList: NVMeDataStructure {
    public static let encodedSize = 4096

    /// Accepts any buffer length (parsing stops at its end); rejects a descriptor whose NIDL runs
    /// past the buffer, a zero NIDL (which would not advance), and a known type with the wrong NIDL.
    public init(bytes: UnsafeRawBufferPointer) throws(NVMeDataStructureError) {
        let name = "NamespaceIdentificationDescriptorList"
        let r = ByteReader(bytes, structure: "NamespaceIdentificationDescriptorList")
        var list: [NamespaceIdentificationDescriptor] = []
        var offset = 0
        while r.count - offset >= 4 {
            let nidt: UInt8 = try r.load(at: offset)
            if nidt == 0 { break }
            let nidl = Int(try r.load(UInt8.self, at: offset + 1))
            let type = NamespaceIdentificationDescriptor.IdentifierType(rawValue: nidt)
            guard nidl > 0, nidl <= r.count - offset - 4 else {
                throw .invalidField(structure: name, field: "NIDL at byte \(offset + 1)", value: UInt64(nidl))
            }
            if let required = type.requiredLength, required != nidl {
                throw .invalidField(structure: name, field: "NIDL for NIDT \(nidt) at byte \(offset + 1)", value: UInt64(nidl))
            }
            list.append(NamespaceIdentificationDescriptor(type: type, identifier: try r.bytes(at: offset + 4, count: nidl)))
            offset += 4 + nidl
        }
        descriptors = list
    }

    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(NVMeDataStructureError) {
        let name = "NamespaceIdentificationDescriptorList"
        let w = ByteWriter(buffer, structure: "NamespaceIdentificationDescriptorList")
        try w.prepare(4096)
        var offset = 0
        for d in descriptors {
            guard d.type.rawValue != 0, (1...255).contains(d.identifier.count) else {
                throw .invalidField(structure: name, field: "descriptor", value: UInt64(d.identifier.count))
            }
            guard offset + 4 + d.identifier.count <= 4096 else {
                throw .bufferTooShort(structure: name, required: offset + 4 + d.identifier.count, actual: 4096)
            }
            try w.store(d.type.rawValue, at: offset)
            try w.store(UInt8(d.identifier.count), at: offset + 1)
            try w.store(bytes: d.identifier, at: offset + 4, count: d.identifier.count)
            offset += 4 + d.identifier.count
        }
    }
}
