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

import NIC
import NICEmulator
import NetFrames
import Testing
import VFIO

/// An emulated NIC and the driver brought up on it.
struct Rig {
    let device: EmulatedE1000E
    let nic: E1000E<EmulatedE1000E>

    init(_ options: NICOptions = NICOptions(), configuration: EmulatedE1000EConfiguration = EmulatedE1000EConfiguration()) throws {
        var options = options
        options.linkWaitMilliseconds = 100
        device = try EmulatedE1000E(configuration: configuration)
        nic = try E1000E(device: device, options: options)
    }
}

/// Test frames: Ethernet with a local experimental EtherType, a sequence number and a pattern
/// derived from it, so any corruption or reordering is visible.
enum Frames {
    static let source = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01)
    static let etherType: UInt16 = 0x88B5

    static func bytes(of mac: MACAddress) -> [UInt8] {
        [mac.bytes.0, mac.bytes.1, mac.bytes.2, mac.bytes.3, mac.bytes.4, mac.bytes.5]
    }

    /// A frame of `length` bytes to `destination` carrying `sequence`.
    static func make(to destination: MACAddress, sequence: UInt32, length: Int = 128) -> [UInt8] {
        var f = bytes(of: destination) + bytes(of: source)
        f += [UInt8(etherType >> 8), UInt8(etherType & 0xFF)]
        f += withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
        while f.count < length { f.append(UInt8(truncatingIfNeeded: Int(sequence) &* 31 &+ f.count)) }
        return f
    }

    /// Writes the same frame into a buffer; returns its length.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, to destination: MACAddress, sequence: UInt32, length: Int = 128) -> Int {
        let f = make(to: destination, sequence: sequence, length: length)
        buffer.copyBytes(from: f)
        return f.count
    }

    /// The sequence number of a frame made by `make`, or nil when it is not one.
    static func sequence(of frame: UnsafeRawBufferPointer) -> UInt32? {
        guard frame.count >= 18, frame[12] == UInt8(etherType >> 8), frame[13] == UInt8(etherType & 0xFF) else { return nil }
        return UInt32(frame[14]) << 24 | UInt32(frame[15]) << 16 | UInt32(frame[16]) << 8 | UInt32(frame[17])
    }

    /// Whether a frame is exactly what `make` builds for its sequence number.
    static func isIntact(_ frame: UnsafeRawBufferPointer, to destination: MACAddress, length: Int = 128) -> Bool {
        guard let s = sequence(of: frame) else { return false }
        return Array(frame) == make(to: destination, sequence: s, length: length)
    }

    /// An IPv4/TCP frame between two fixed addresses with the given ports (for RSS).
    static func tcp(to destination: MACAddress, sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        var f = bytes(of: destination) + bytes(of: source) + [0x08, 0x00]
        var ip: [UInt8] = [0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        f += ip
        f += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF)]
        f += [0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]
        while f.count < 60 { f.append(0) }
        return f
    }
}

/// `#expect` for conditions that read a `~Copyable` queue: the macro's expansion copies the
/// operands it decomposes, which a noncopyable value cannot be; this evaluates first.
func check(_ condition: Bool, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, comment, sourceLocation: sourceLocation)
}

#if canImport(Glibc)
import Glibc
#endif

/// A real thread for a queue (Dispatch's global pool has as many threads as cores, and busy
/// polling queues would starve each other there). `join` waits for it.
final class QueueThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let me = Unmanaged<QueueThread>.fromOpaque(context!).takeRetainedValue()
            me.body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    func join() { pthread_join(thread, nil) }
}
