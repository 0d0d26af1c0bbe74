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

import FuzzSupport
import NetFrames

/// NetFrames' parsers on arbitrary frames, as a NIC could deliver them: classifying, the
/// offload header parser and the template check never trap or read outside the frame
/// (AddressSanitizer), and what they find is consistent: an echo request they accept turns into
/// a reply they accept with the same lengths, an ARP request into a reply naming its asker, and
/// a checksum stored into data makes it add up.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let selector = input.byte()
    let frame = input.rest()
    switch selector % 4 {
    case 0: classifyAndAnswer(frame)
    case 1: offloadHeaders(frame)
    case 2: checksum(frame)
    default: addresses(frame)
    }
    return 0
}

let us = MACAddress(0x52, 0x54, 0x00, 0x12, 0x34, 0x56)
let usIP = IPv4Address(10, 77, 0, 2)

func classifyAndAnswer(_ frame: [UInt8]) {
    let template = UDPTemplate(source: us, destination: .broadcast, sourceIP: usIP, destinationIP: IPv4Address(10, 77, 0, 1),
                               length: min(max(frame.count, UDPTemplate.lengths.lowerBound), UDPTemplate.lengths.upperBound))
    frame.withUnsafeBytes { f in
        let kind = FrameKind(f)
        _ = template.mismatch(f)
        _ = UDPTemplate.sequence(of: f)
        var out = [UInt8](repeating: 0xAA, count: max(Ethernet.minimumFrameLength, f.count))
        switch kind {
        case .arpRequest(let mac, let ip, let target):
            let length = out.withUnsafeMutableBytes { ARP.writeReply(into: $0, ourMAC: us, ourIP: target, toMAC: mac, toIP: ip) }
            let reply = out.withUnsafeBytes { FrameKind(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            fuzzCheck(reply == .arpReply(senderMAC: us, senderIP: target, targetMAC: mac, targetIP: ip), "ARP reply classified as \(reply)")
        case .icmpEchoRequest(_, let ihl, let total):
            fuzzCheck(ihl >= 20 && total >= ihl + 8 && Ethernet.headerLength + total <= f.count, "echo request lengths \(ihl)/\(total) in \(f.count) bytes")
            let length = out.withUnsafeMutableBytes { ICMPEcho.writeReply(from: f, into: $0, ourMAC: us, ipHeaderLength: ihl, ipTotalLength: total) }
            let reply = out.withUnsafeBytes { FrameKind(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            guard case .icmpEchoReply(_, ihl, total) = reply else {
                fuzzCheck(false, "the reply to an echo request classified as \(reply)")
                return
            }
        case .icmpEchoReply(_, let ihl, let total):
            fuzzCheck(ihl >= 20 && total >= ihl + 8 && Ethernet.headerLength + total <= f.count, "echo reply lengths \(ihl)/\(total) in \(f.count) bytes")
        case .udp, .otherIPv4:
            let h = PacketHeaders(frame)
            fuzzCheck(h.network == .ipv4 && h.ipv4ChecksumValid == true, "an IPv4 frame the offload parser reads as \(h.network)")
        case .malformed, .other, .arpReply:
            break
        }
    }
}

func offloadHeaders(_ frame: [UInt8]) {
    let h = PacketHeaders(frame)
    fuzzCheck([0, 4, 16].contains(h.source.count) && h.source.count == h.destination.count, "addresses of \(h.source.count)/\(h.destination.count) bytes")
    fuzzCheck(h.ports.isEmpty || h.ports.count == 4, "ports of \(h.ports.count) bytes")
    fuzzCheck(h.l4ChecksumValid == nil || h.isTCP || h.isUDP, "a transport checksum without TCP or UDP")
    fuzzCheck((h.ipv4ChecksumValid != nil) == (h.network == .ipv4), "an IPv4 checksum verdict for \(h.network)")
}

func checksum(_ bytes: [UInt8]) {
    // Data padded to even length, with its checksum appended, adds up; a zero word changes nothing.
    var data = bytes
    if data.count % 2 == 1 { data.append(0) }
    let c = data.withUnsafeBytes { InternetChecksum.checksum($0) }
    var whole = InternetChecksum()
    data.withUnsafeBytes { whole.add($0) }
    whole.add(word: c)
    fuzzCheck(whole.isValid, "data plus its checksum \(c) folds to \(whole.folded)")
    let padded = data + [0, 0]
    fuzzCheck(padded.withUnsafeBytes { InternetChecksum.checksum($0) } == c, "a zero word changed the checksum")
}

func addresses(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let mac = MACAddress(parsing: text) {
        fuzzCheck(MACAddress(parsing: mac.description) == mac, "\(mac) does not parse back")
    }
    if let ip = IPv4Address(parsing: text) {
        fuzzCheck(IPv4Address(parsing: ip.description) == ip, "\(ip) does not parse back")
    }
}
