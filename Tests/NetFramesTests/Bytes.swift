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

import NetFrames

/// `[UInt8]` from a hex string with optional spaces: the way a capture prints a frame.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    var bytes: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        bytes.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return bytes
}

/// Runs `body` over a zeroed buffer of `count` bytes and returns the buffer and what `body` returned.
func building<T>(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) -> T) -> ([UInt8], T) {
    var bytes = [UInt8](repeating: 0, count: count)
    let result = bytes.withUnsafeMutableBytes(body)
    return (bytes, result)
}

func kind(_ frame: [UInt8]) -> FrameKind { frame.withUnsafeBytes { FrameKind($0) } }

let peerMAC = MACAddress(0x52, 0x54, 0x00, 0xEE, 0xEE, 0x01)
let ourMAC = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
let peerIP = IPv4Address(10, 77, 0, 1)
let ourIP = IPv4Address(10, 77, 0, 2)
