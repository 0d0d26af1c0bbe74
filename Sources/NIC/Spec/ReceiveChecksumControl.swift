import VFIO

/// RXCSUM, receive checksum control (82574 datasheet 10.2.5.2).
@frozen
public struct ReceiveChecksumControl: RegisterValue, Hashable {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// RXCSUM.PCSS (bits 7:0): packet checksum start offset.
    @inlinable public var packetChecksumStart: UInt8 {
        get { UInt8(truncatingIfNeeded: rawValue.nicBits(0..<8)) }
        set { rawValue.setNICBits(0..<8, to: UInt32(newValue)) }
    }
    /// RXCSUM.IPOFL: IPv4 header checksum offload.
    @inlinable public var ipChecksumOffload: Bool { get { rawValue.nicBit(8) } set { rawValue.setNICBit(8, newValue) } }
    /// RXCSUM.TUOFL: TCP/UDP checksum offload.
    @inlinable public var tcpUDPChecksumOffload: Bool { get { rawValue.nicBit(9) } set { rawValue.setNICBit(9, newValue) } }
    /// RXCSUM.CRCOFL: CRC offload.
    @inlinable public var crcOffload: Bool { get { rawValue.nicBit(11) } set { rawValue.setNICBit(11, newValue) } }
    /// RXCSUM.PCSD: packet checksum disable: the descriptor's checksum dword carries the RSS hash
    /// instead (required for RSS, QEMU `e1000e_rss_enabled`).
    @inlinable public var packetChecksumDisable: Bool { get { rawValue.nicBit(13) } set { rawValue.setNICBit(13, newValue) } }
}
