import ArgumentParser
import NIC

// Ethernet II, ARP (RFC 826), IPv4 (RFC 791), ICMP echo (RFC 792) and UDP (RFC 768): just what
// `vfioctl net` needs to build test frames and to answer ARP and ping. Frames are read and
// written in place in packet buffers; every length and offset read from a received frame comes
// from the wire and is checked against the frame's length before use.

/// Ethernet II header (IEEE 802.3 clause 3.2): destination, source, EtherType; 14 bytes, no VLAN tag.
enum Ethernet {
    static let headerLength = 14
    /// Shortest frame without the FCS (64 bytes on the wire with it); shorter ones are padded.
    static let minimumFrameLength = 60
    /// Longest untagged frame without the FCS at the default 1500-byte MTU.
    static let maximumFrameLength = 1514
    static let typeIPv4: UInt16 = 0x0800
    static let typeARP: UInt16 = 0x0806
}

/// An IPv4 address in host order (`10.77.0.2` is 0x0A4D0002).
struct IPv4Address: Equatable, Sendable, CustomStringConvertible {
    var value: UInt32

    init(_ value: UInt32) { self.value = value }

    init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, let octet = UInt8(p) else { return nil }
            v = v << 8 | UInt32(octet)
        }
        value = v
    }

    var description: String { "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)" }
}

extension MACAddress {
    /// Parses `52:54:00:12:34:56` (also with `-`), for the command line.
    init?(parsing text: String) {
        let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var b: [UInt8] = []
        for p in parts {
            guard p.count == 2, let v = UInt8(p, radix: 16) else { return nil }
            b.append(v)
        }
        self.init(b[0], b[1], b[2], b[3], b[4], b[5])
    }

    /// Reads six bytes at `offset` (the caller has checked the frame is long enough).
    init(reading frame: UnsafeRawBufferPointer, at offset: Int) {
        self.init(frame[offset], frame[offset + 1], frame[offset + 2], frame[offset + 3], frame[offset + 4], frame[offset + 5])
    }

    func write(to frame: UnsafeMutableRawBufferPointer, at offset: Int) {
        frame[offset] = bytes.0; frame[offset + 1] = bytes.1; frame[offset + 2] = bytes.2
        frame[offset + 3] = bytes.3; frame[offset + 4] = bytes.4; frame[offset + 5] = bytes.5
    }
}

/// A MAC option's value, or a one-line error naming the option and the expected form
/// (ArgumentParser's own message for a bad value is several lines of usage).
func parseMAC(_ text: String, what: String) throws -> MACAddress {
    guard let mac = MACAddress(parsing: text) else {
        throw ValidationFailure("\(what) '\(text)' is not a MAC address; use six hex bytes, e.g. 52:54:00:12:34:56")
    }
    return mac
}

/// An IPv4 option's value, or a one-line error.
func parseIPv4(_ text: String, what: String) throws -> IPv4Address {
    guard let ip = IPv4Address(parsing: text) else {
        throw ValidationFailure("\(what) '\(text)' is not an IPv4 address; use dotted quads, e.g. 10.77.0.2")
    }
    return ip
}

// MARK: - Byte access in network order

extension UnsafeRawBufferPointer {
    func be16(_ offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
    func be32(_ offset: Int) -> UInt32 { UInt32(be16(offset)) << 16 | UInt32(be16(offset + 2)) }
}

extension UnsafeMutableRawBufferPointer {
    func setBE16(_ offset: Int, _ v: UInt16) { self[offset] = UInt8(v >> 8); self[offset + 1] = UInt8(truncatingIfNeeded: v) }
    func setBE32(_ offset: Int, _ v: UInt32) { setBE16(offset, UInt16(v >> 16)); setBE16(offset + 2, UInt16(truncatingIfNeeded: v)) }
}

/// The Internet checksum (RFC 1071): one's complement of the one's-complement sum of 16-bit words.
func internetChecksum(_ bytes: UnsafeRawBufferPointer, from start: Int, count: Int) -> UInt16 {
    var sum: UInt32 = 0
    var i = start
    let end = start + count
    while i + 1 < end {
        sum &+= UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
        i += 2
    }
    if i < end { sum &+= UInt32(bytes[i]) << 8 }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
}

// MARK: - What a received frame is

/// What `net recv` and `net echo` make of a received frame.
enum FrameKind: Equatable {
    /// ARP request: who has `target`? tell `senderIP` at `senderMAC`.
    case arpRequest(senderMAC: MACAddress, senderIP: IPv4Address, target: IPv4Address)
    case arpReply
    /// ICMP echo request to `destination`, of `ipTotalLength` bytes from the IPv4 header on.
    case icmpEchoRequest(destination: IPv4Address, ipHeaderLength: Int, ipTotalLength: Int)
    case icmpEchoReply
    case udp
    case otherIPv4
    case other(etherType: UInt16)
    /// Shorter than its headers say, or a header checksum that does not add up.
    case malformed
}

/// Classifies a frame. `frame` is exactly the bytes the NIC wrote (its length from the RX
/// descriptor, already bounded by the buffer size).
func classify(_ frame: UnsafeRawBufferPointer) -> FrameKind {
    guard frame.count >= Ethernet.headerLength else { return .malformed }
    let type = frame.be16(12)
    let l3 = Ethernet.headerLength
    switch type {
    case Ethernet.typeARP:
        // RFC 826 for Ethernet/IPv4: htype 1, ptype 0x0800, hlen 6, plen 4; 28 bytes.
        guard frame.count >= l3 + 28, frame.be16(l3) == 1, frame.be16(l3 + 2) == Ethernet.typeIPv4,
              frame[l3 + 4] == 6, frame[l3 + 5] == 4 else { return .malformed }
        switch frame.be16(l3 + 6) {
        case 1:
            return .arpRequest(senderMAC: MACAddress(reading: frame, at: l3 + 8),
                               senderIP: IPv4Address(frame.be32(l3 + 14)), target: IPv4Address(frame.be32(l3 + 24)))
        case 2: return .arpReply
        default: return .other(etherType: type)
        }
    case Ethernet.typeIPv4:
        guard frame.count >= l3 + 20, frame[l3] >> 4 == 4 else { return .malformed }
        let ihl = Int(frame[l3] & 0x0F) * 4
        let total = Int(frame.be16(l3 + 2))
        // RFC 791: IHL at least 5 words; total length covers the header and fits the frame
        // (the frame may be longer: padding to 60 bytes).
        guard ihl >= 20, total >= ihl, l3 + total <= frame.count,
              internetChecksum(frame, from: l3, count: ihl) == 0 else { return .malformed }
        let flagsAndOffset = frame.be16(l3 + 6)
        // A fragment (MF set or a non-zero offset) is not a whole ICMP message.
        let isFragment = flagsAndOffset & 0x3FFF != 0
        switch frame[l3 + 9] {
        case 1 where !isFragment:
            guard total - ihl >= 8 else { return .malformed }
            let icmp = l3 + ihl
            guard internetChecksum(frame, from: icmp, count: total - ihl) == 0 else { return .malformed }
            switch (frame[icmp], frame[icmp + 1]) {
            case (8, 0): return .icmpEchoRequest(destination: IPv4Address(frame.be32(l3 + 16)), ipHeaderLength: ihl, ipTotalLength: total)
            case (0, 0): return .icmpEchoReply
            default: return .otherIPv4
            }
        case 17: return .udp
        default: return .otherIPv4
        }
    default:
        return .other(etherType: type)
    }
}

// MARK: - Building frames

/// Writes an ARP reply (RFC 826: "swap the sender and target fields, put our address in sender")
/// into `out`; returns its length (padded to the 60-byte minimum).
func buildARPReply(into out: UnsafeMutableRawBufferPointer, ourMAC: MACAddress, ourIP: IPv4Address,
                   toMAC: MACAddress, toIP: IPv4Address) -> Int {
    let length = Ethernet.minimumFrameLength
    precondition(out.count >= length)
    for i in 0..<length { out[i] = 0 }
    toMAC.write(to: out, at: 0)
    ourMAC.write(to: out, at: 6)
    out.setBE16(12, Ethernet.typeARP)
    let a = Ethernet.headerLength
    out.setBE16(a, 1)
    out.setBE16(a + 2, Ethernet.typeIPv4)
    out[a + 4] = 6
    out[a + 5] = 4
    out.setBE16(a + 6, 2)
    ourMAC.write(to: out, at: a + 8)
    out.setBE32(a + 14, ourIP.value)
    toMAC.write(to: out, at: a + 18)
    out.setBE32(a + 24, toIP.value)
    return length
}

/// Writes an ARP request (RFC 826), broadcast: who has `target`? tell `senderIP`.
func buildARPRequest(into out: UnsafeMutableRawBufferPointer, senderMAC: MACAddress, senderIP: IPv4Address,
                     target: IPv4Address) -> Int {
    let length = buildARPReply(into: out, ourMAC: senderMAC, ourIP: senderIP, toMAC: .broadcast, toIP: target)
    out.setBE16(Ethernet.headerLength + 6, 1)
    // The target hardware address is unknown in a request: zero (RFC 826 leaves it unspecified).
    MACAddress(0, 0, 0, 0, 0, 0).write(to: out, at: Ethernet.headerLength + 18)
    return length
}

/// Writes an ICMP echo request (RFC 792) with `payload` bytes of a pattern derived from
/// `sequence`; returns the frame's length.
func buildEchoRequest(into out: UnsafeMutableRawBufferPointer, from: MACAddress, to: MACAddress,
                      sourceIP: IPv4Address, destinationIP: IPv4Address,
                      identifier: UInt16, sequence: UInt16, payload: Int) -> Int {
    let l3 = Ethernet.headerLength
    let total = 20 + 8 + payload
    let length = max(Ethernet.minimumFrameLength, l3 + total)
    precondition(out.count >= length)
    for i in 0..<length { out[i] = 0 }
    to.write(to: out, at: 0)
    from.write(to: out, at: 6)
    out.setBE16(12, Ethernet.typeIPv4)
    out[l3] = 0x45
    out.setBE16(l3 + 2, UInt16(total))
    out.setBE16(l3 + 4, sequence)
    out[l3 + 8] = 64
    out[l3 + 9] = 1
    out.setBE32(l3 + 12, sourceIP.value)
    out.setBE32(l3 + 16, destinationIP.value)
    out.setBE16(l3 + 10, internetChecksum(UnsafeRawBufferPointer(out), from: l3, count: 20))
    let icmp = l3 + 20
    out[icmp] = 8
    out.setBE16(icmp + 4, identifier)
    out.setBE16(icmp + 6, sequence)
    for i in 0..<payload { out[icmp + 8 + i] = UInt8(truncatingIfNeeded: Int(sequence) &+ i) }
    out.setBE16(icmp + 2, internetChecksum(UnsafeRawBufferPointer(out), from: icmp, count: 8 + payload))
    return length
}

/// Turns a received ICMP echo request (already checked by `classify`) into the echo reply in
/// `out` (RFC 792: swap addresses, type 0, same identifier, sequence and data); returns its length.
func buildEchoReply(from frame: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                    ourMAC: MACAddress, ipHeaderLength ihl: Int, ipTotalLength total: Int) -> Int {
    let l3 = Ethernet.headerLength
    let length = max(Ethernet.minimumFrameLength, l3 + total)
    precondition(out.count >= length && frame.count >= l3 + total)
    for i in 0..<(l3 + total) { out[i] = frame[i] }
    for i in (l3 + total)..<length { out[i] = 0 }
    MACAddress(reading: frame, at: 6).write(to: out, at: 0)
    ourMAC.write(to: out, at: 6)
    // IPv4: our address becomes the source, theirs the destination; a fresh TTL, no options
    // carried over would change the header length, so they are echoed as they came.
    out.setBE32(l3 + 12, frame.be32(l3 + 16))
    out.setBE32(l3 + 16, frame.be32(l3 + 12))
    out[l3 + 8] = 64
    out.setBE16(l3 + 10, 0)
    out.setBE16(l3 + 10, internetChecksum(UnsafeRawBufferPointer(out), from: l3, count: ihl))
    let icmp = l3 + ihl
    out[icmp] = 0
    out.setBE16(icmp + 2, 0)
    out.setBE16(icmp + 2, internetChecksum(UnsafeRawBufferPointer(out), from: icmp, count: total - ihl))
    return length
}

/// The generator's and `net send`'s frame: IPv4/UDP from port 42 to port 9 (discard), the
/// payload holding a 32-bit sequence number then a fixed byte pattern; `length` bytes without
/// the FCS (60...1514). The NIC appends the FCS.
struct UDPTemplate {
    let source: MACAddress
    let destination: MACAddress
    let sourceIP: IPv4Address
    let destinationIP: IPv4Address
    let length: Int

    static let sequenceOffset = Ethernet.headerLength + 20 + 8

    /// Writes the whole frame with sequence number 0 into `out`.
    func write(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= length && length >= Ethernet.minimumFrameLength && length <= Ethernet.maximumFrameLength)
        destination.write(to: out, at: 0)
        source.write(to: out, at: 6)
        out.setBE16(12, Ethernet.typeIPv4)
        let ip = Ethernet.headerLength
        let ipLength = length - Ethernet.headerLength
        out[ip] = 0x45
        out[ip + 1] = 0
        out.setBE16(ip + 2, UInt16(ipLength))
        out.setBE16(ip + 4, 0)
        out.setBE16(ip + 6, 0x4000)  // DF, no fragments
        out[ip + 8] = 64
        out[ip + 9] = 17
        out.setBE16(ip + 10, 0)
        out.setBE32(ip + 12, sourceIP.value)
        out.setBE32(ip + 16, destinationIP.value)
        out.setBE16(ip + 10, internetChecksum(UnsafeRawBufferPointer(out), from: ip, count: 20))
        let udp = ip + 20
        out.setBE16(udp, 42)
        out.setBE16(udp + 2, 9)
        out.setBE16(udp + 4, UInt16(ipLength - 20))
        out.setBE16(udp + 6, 0)  // RFC 768: zero means no checksum (IPv4)
        for i in Self.sequenceOffset..<length { out[i] = UInt8(truncatingIfNeeded: i) }
        out.setBE32(Self.sequenceOffset, 0)
    }

    /// Stamps the sequence number (UDP checksum is off, so nothing else changes).
    @inline(__always)
    static func stamp(_ out: UnsafeMutableRawBufferPointer, sequence: UInt32) {
        out.setBE32(sequenceOffset, sequence)
    }
}

/// Writes `frame`'s first `count` bytes as hex, 16 per line, for `net recv --print`.
func hexDump(_ frame: UnsafeRawBufferPointer, count: Int) -> String {
    var lines: [String] = []
    var offset = 0
    while offset < min(count, frame.count) {
        let end = min(offset + 16, count, frame.count)
        let hex = (offset..<end).map { i -> String in
            let s = String(frame[i], radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
        let o = String(offset, radix: 16)
        lines.append("  " + String(repeating: "0", count: max(0, 4 - o.count)) + o + "  " + hex)
        offset = end
    }
    return lines.joined(separator: "\n")
}
