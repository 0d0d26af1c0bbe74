import NIC

/// What the receive path learns from a frame's headers: enough for RSS and the descriptor's
/// packet type (QEMU net_rx_pkt, reduced to Ethernet II, IPv4 and IPv6 without extension headers).
struct PacketHeaders {
    enum Network { case none, ipv4, ipv6 }
    var network = Network.none
    var isTCP = false
    var isUDP = false
    /// IPv4 MF set or a fragment offset: no ports to hash.
    var isFragment = false
    /// Source and destination addresses, network order (4 or 16 bytes each).
    var source: ArraySlice<UInt8> = []
    var destination: ArraySlice<UInt8> = []
    /// Source and destination ports, network order (TCP/UDP, first fragment only).
    var ports: ArraySlice<UInt8> = []
    var ipIdentification: UInt16 = 0
    /// The IPv4 header checksum verifies; nil when there is no IPv4 header.
    var ipv4ChecksumValid: Bool?
    /// The TCP or UDP checksum verifies (a UDP checksum of zero means "none" and passes); nil when
    /// there is no unfragmented TCP/UDP segment inside the IP length.
    var l4ChecksumValid: Bool?

    init(_ frame: [UInt8]) {
        guard frame.count >= 14 else { return }
        let etherType = UInt16(frame[12]) << 8 | UInt16(frame[13])
        var l4 = 0
        var l4End = 0
        var protocolNumber: UInt8 = 0
        switch etherType {
        case 0x0800:
            guard frame.count >= 34 else { return }
            let ihl = Int(frame[14] & 0xF) * 4
            guard frame[14] >> 4 == 4, ihl >= 20, frame.count >= 14 + ihl else { return }
            network = .ipv4
            protocolNumber = frame[23]
            let flagsFragment = UInt16(frame[20]) << 8 | UInt16(frame[21])
            isFragment = flagsFragment & 0x2000 != 0 || flagsFragment & 0x1FFF != 0
            ipIdentification = UInt16(frame[18]) << 8 | UInt16(frame[19])
            source = frame[26..<30]
            destination = frame[30..<34]
            l4 = 14 + ihl
            ipv4ChecksumValid = Self.onesComplementSum(frame[14..<(14 + ihl)]) == 0xFFFF
            let totalLength = Int(UInt16(frame[16]) << 8 | UInt16(frame[17]))
            l4End = min(frame.count, 14 + max(totalLength, ihl))
        case 0x86DD:
            guard frame.count >= 54, frame[14] >> 4 == 6 else { return }
            network = .ipv6
            protocolNumber = frame[20]
            source = frame[22..<38]
            destination = frame[38..<54]
            l4 = 54
            l4End = min(frame.count, 54 + Int(UInt16(frame[18]) << 8 | UInt16(frame[19])))
        default:
            return
        }
        isTCP = protocolNumber == 6
        isUDP = protocolNumber == 17
        if (isTCP || isUDP) && !isFragment && frame.count >= l4 + 4 {
            ports = frame[l4..<(l4 + 4)]
        }
        if (isTCP && l4End >= l4 + 20) || (isUDP && l4End >= l4 + 8), !isFragment {
            let segment = frame[l4..<l4End]
            if isUDP && segment[segment.startIndex + 6] == 0 && segment[segment.startIndex + 7] == 0 && network == .ipv4 {
                l4ChecksumValid = true
            } else {
                // Pseudo-header (RFC 793, RFC 768, RFC 8200 8.1): addresses, protocol, length.
                var pseudo = Array(source) + Array(destination)
                let length = segment.count
                pseudo += [0, isTCP ? 6 : 17, UInt8(length >> 8), UInt8(length & 0xFF)]
                let sum = Self.onesComplementSum(pseudo[...], plus: Self.onesComplementSum(segment))
                l4ChecksumValid = sum == 0xFFFF
            }
        }
    }

    /// The Internet checksum's folded one's-complement sum of `bytes` (RFC 1071), added to `plus`.
    static func onesComplementSum(_ bytes: ArraySlice<UInt8>, plus: UInt32 = 0) -> UInt32 {
        var sum = plus
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.endIndex { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return sum
    }
}

/// RSS as QEMU 7.2's e1000e does it (`e1000e_rss_parse_packet`): enabled when MRQC.MRQE is 1,
/// RXCSUM.PCSD is set and extended descriptors are in use (RFCTL.EXSTEN); legacy descriptors
/// have no room for the hash, so with them every frame goes to queue 0. The hash is Toeplitz over
/// the addresses (and the ports for unfragmented TCP); UDP is hashed as plain IP, as the 82574
/// hashes no UDP ports. Bit 7 of RETA[hash & 0x7F] picks the queue.
struct RSSDecision: Equatable {
    /// QEMU `E1000_MRQ_RSS_TYPE_*`.
    enum HashType: UInt32 {
        case none = 0, tcpIPv4 = 1, ipv4 = 2, tcpIPv6 = 3, ipv6Extended = 4, ipv6 = 5
    }
    var enabled = false
    var type = HashType.none
    var hash: UInt32 = 0
    var queue = 0
}

extension NICEngine {
    var rssEnabled: Bool {
        MultipleReceiveQueuesCommand(rawValue: load(Offset.mrqc)).rssEnabled
            && ReceiveChecksumControl(rawValue: load(Offset.rxcsum)).packetChecksumDisable
            && ReceiveFilterControl(rawValue: load(Offset.rfctl)).extendedStatus
    }

    func rssDecision(_ headers: PacketHeaders) -> RSSDecision {
        guard rssEnabled else { return RSSDecision() }
        var decision = RSSDecision(enabled: true)
        let mrqc = load(Offset.mrqc)
        let bit = { (n: UInt32) -> Bool in mrqc & (1 << n) != 0 }
        switch headers.network {
        case .ipv4:
            if !headers.isFragment && headers.isTCP && bit(16) {
                decision.type = .tcpIPv4
            } else if bit(17) {
                decision.type = .ipv4
            }
        case .ipv6:
            if headers.isTCP && !headers.isFragment && bit(18) {
                decision.type = .tcpIPv6
            } else if bit(19) {
                decision.type = .ipv6Extended
            } else if bit(20) {
                decision.type = .ipv6
            }
        case .none:
            break
        }
        guard decision.type != .none else { return decision }
        var input = Array(headers.source) + Array(headers.destination)
        if decision.type == .tcpIPv4 || decision.type == .tcpIPv6 { input += headers.ports }
        decision.hash = Self.toeplitz(input, key: rssKey)
        let entry = UInt8(truncatingIfNeeded: load(Offset.reta0 + (Int(decision.hash) & 0x7C)) >> (8 * (decision.hash & 3)))
        decision.queue = RedirectionTable.queue(entry: entry)
        return decision
    }

    /// RSSRK as bytes, byte 0 in the low byte of register 0.
    var rssKey: [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(RSSKey.byteCount)
        for r in 0..<RSSKey.registerCount {
            let word = load(Offset.rssrk0 + 4 * r)
            for b in 0..<4 { key.append(UInt8(truncatingIfNeeded: word >> (8 * b))) }
        }
        return key
    }

    /// The Toeplitz hash (Microsoft RSS specification): for each input bit set, XOR in the 32 key
    /// bits starting at that bit position.
    static func toeplitz(_ input: [UInt8], key: [UInt8]) -> UInt32 {
        var result: UInt32 = 0
        for (n, byte) in input.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> bit) != 0 {
                // Key bits [i, i + 32) for input bit i: five key bytes from i / 8, shifted.
                let i = 8 * n + bit
                var window: UInt64 = 0
                for k in 0..<5 {
                    let index = i / 8 + k
                    window = window << 8 | UInt64(index < key.count ? key[index] : 0)
                }
                result ^= UInt32(truncatingIfNeeded: window >> UInt64(8 - i % 8))
            }
        }
        return result
    }
}
