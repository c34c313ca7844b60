import MailPortCore

/// The keyed hash that makes SYN discovery stateless: a probe's sequence number is derived from where it went, so a
/// reply is matched by its acknowledgement number alone, and replies to probes never sent (or spoofed) are dropped.
/// SipHash-2-4 (Aumasson and Bernstein) over the destination address, destination port and source port.
///
/// The hash fills the sequence number's upper 24 bits; the low 8 carry the SYN's tick (which run of consecutive
/// probes it belongs to), which every answer echoes, so a stateless scan still learns each answer's round-trip
/// time. 24 bits leave a reply one chance in 16.7 million of passing by accident.
public struct SynCookie: Sendable {
    private let k0: UInt64
    private let k1: UInt64

    public init(k0: UInt64 = .random(in: 0...UInt64.max), k1: UInt64 = .random(in: 0...UInt64.max)) {
        self.k0 = k0
        self.k1 = k1
    }

    /// The sequence number of a SYN to `address`:`port` sent in `tick`.
    public func sequence(for address: IPAddress, port: UInt16, sourcePort: UInt16, tick: UInt8) -> UInt32 {
        hash(address, port: port, sourcePort: sourcePort) & 0xFFFF_FF00 | UInt32(tick)
    }

    /// The tick `sequence` was sent in, when it is the sequence number of a SYN of this run to `address`:`port`;
    /// nil for anything else (a reply to a probe never sent, or forged).
    public func tick(of sequence: UInt32, for address: IPAddress, port: UInt16, sourcePort: UInt16) -> UInt8? {
        guard sequence & 0xFFFF_FF00 == hash(address, port: port, sourcePort: sourcePort) & 0xFFFF_FF00 else {
            return nil
        }
        return UInt8(truncatingIfNeeded: sequence)
    }

    private func hash(_ address: IPAddress, port: UInt16, sourcePort: UInt16) -> UInt32 {
        let value = address.integerValue
        let high = UInt64(truncatingIfNeeded: value >> 64)
        let low = UInt64(truncatingIfNeeded: value)
        let ports = UInt64(port) << 16 | UInt64(sourcePort) | (address.family == .v6 ? 1 << 32 : 0)
        return UInt32(truncatingIfNeeded: sipHash([high, low, ports]))
    }

    private func sipHash(_ words: [UInt64]) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ k0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ k1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ k0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ k1
        func round() {
            v0 &+= v1
            v1 = v1.rotatedLeft(13)
            v1 ^= v0
            v0 = v0.rotatedLeft(32)
            v2 &+= v3
            v3 = v3.rotatedLeft(16)
            v3 ^= v2
            v0 &+= v3
            v3 = v3.rotatedLeft(21)
            v3 ^= v0
            v2 &+= v1
            v1 = v1.rotatedLeft(17)
            v1 ^= v2
            v2 = v2.rotatedLeft(32)
        }
        for word in words + [UInt64(words.count * 8) << 56] {
            v3 ^= word
            round()
            round()
            v0 ^= word
        }
        v2 ^= 0xff
        round()
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}

/// TCP segments for SYN discovery (the kernel adds the IP header) and the parsing of what comes back.
public enum SynPackets {
    public struct TCPFlags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = TCPFlags(rawValue: 0x01)
        public static let syn = TCPFlags(rawValue: 0x02)
        public static let rst = TCPFlags(rawValue: 0x04)
        public static let ack = TCPFlags(rawValue: 0x10)
    }

    /// A 24-byte TCP header (20 + the MSS option, as real stacks send) with its checksum over the pseudo-header.
    public static func segment(
        from source: IPAddress, _ sourcePort: UInt16, to destination: IPAddress, _ port: UInt16,
        sequence: UInt32, acknowledgement: UInt32 = 0, flags: TCPFlags
    ) -> [UInt8] {
        let withMSS = flags.contains(.syn)
        var bytes = [UInt8](repeating: 0, count: withMSS ? 24 : 20)
        put16(sourcePort, into: &bytes, at: 0)
        put16(port, into: &bytes, at: 2)
        put32(sequence, into: &bytes, at: 4)
        put32(acknowledgement, into: &bytes, at: 8)
        bytes[12] = UInt8(bytes.count / 4) << 4
        bytes[13] = flags.rawValue
        put16(flags.contains(.rst) ? 0 : 1024, into: &bytes, at: 14)  // window
        if withMSS {
            bytes[20] = 2
            bytes[21] = 4
            put16(1460, into: &bytes, at: 22)
        }
        put16(checksum(bytes, source: source, destination: destination), into: &bytes, at: 16)
        return bytes
    }

    /// The Internet checksum (RFC 1071) of a TCP segment with the IPv4 or IPv6 pseudo-header.
    static func checksum(_ segment: [UInt8], source: IPAddress, destination: IPAddress) -> UInt16 {
        var sum: UInt64 = 0
        func add(_ value: UInt128, bytes: Int) {
            for index in stride(from: bytes - 2, through: 0, by: -2) {
                sum += UInt64(truncatingIfNeeded: (value >> (index * 8)) & 0xFFFF)
            }
        }
        let width = source.family == .v4 ? 4 : 16
        add(source.integerValue, bytes: width)
        add(destination.integerValue, bytes: width)
        sum += UInt64(segment.count) + 6  // length and protocol (TCP)
        var index = 0
        while index + 1 < segment.count {
            sum += UInt64(segment[index]) << 8 | UInt64(segment[index + 1])
            index += 2
        }
        if index < segment.count { sum += UInt64(segment[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    private static func put16(_ value: UInt16, into bytes: inout [UInt8], at offset: Int) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(value & 0xFF)
    }

    private static func put32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        put16(UInt16(value >> 16), into: &bytes, at: offset)
        put16(UInt16(value & 0xFFFF), into: &bytes, at: offset + 2)
    }

    /// What a captured packet says about a probe.
    public enum Reply: Equatable, Sendable {
        /// A TCP segment to our source port: SYN-ACK (open) or RST (closed), with the acknowledgement to check.
        case tcp(
            from: IPAddress, port: UInt16, toPort: UInt16, flags: TCPFlags, sequence: UInt32, acknowledgement: UInt32)
        /// An ICMP/ICMPv6 destination-unreachable quoting one of our SYNs: the probe's address, port, our source port
        /// and sequence number, and why.
        case unreachable(to: IPAddress, port: UInt16, fromPort: UInt16, sequence: UInt32, reason: StateReason)
    }

    /// Link-layer header lengths for the capture types SYN discovery reads (DLT_* values of pcap).
    public static func linkHeaderLength(_ linkType: Int32) -> Int? {
        switch linkType {
        case 1: return 14  // Ethernet (also Linux loopback and veth)
        case 12, 14, 101: return 0  // raw IP
        case 113: return 16  // Linux cooked (SLL)
        case 276: return 20  // Linux cooked v2 (SLL2)
        default: return nil
        }
    }

    /// Parses a captured frame; nil for anything that is not a reply SYN discovery can use. Every offset is checked
    /// against the captured length: captured bytes are hostile input like any other.
    public static func parse(_ frame: UnsafeRawBufferPointer, linkHeader: Int) -> Reply? {
        guard frame.count > linkHeader else { return nil }
        var offset = linkHeader
        // An 802.1Q tag on Ethernet: skip it.
        if linkHeader == 14, frame.count >= 18, frame[12] == 0x81, frame[13] == 0x00 { offset += 4 }
        guard let ip = parseIP(frame, at: offset) else { return nil }
        switch ip.protocolNumber {
        case 6:
            guard frame.count >= ip.payload + 14 else { return nil }
            let sourcePort = read16(frame, ip.payload)
            let destinationPort = read16(frame, ip.payload + 2)
            return .tcp(
                from: ip.source, port: sourcePort, toPort: destinationPort,
                flags: TCPFlags(rawValue: frame[ip.payload + 13]),
                sequence: read32(frame, ip.payload + 4), acknowledgement: read32(frame, ip.payload + 8))
        case 1, 58:
            guard frame.count >= ip.payload + 8 else { return nil }
            let type = frame[ip.payload]
            let code = frame[ip.payload + 1]
            let reason: StateReason
            if ip.protocolNumber == 1 {
                guard type == 3 else { return nil }
                switch code {
                case 0: reason = .networkUnreachable
                case 9, 10, 13: reason = .adminProhibited
                default: reason = .hostUnreachable
                }
            } else {
                guard type == 1 else { return nil }
                switch code {
                case 0: reason = .networkUnreachable
                case 1, 5, 6: reason = .adminProhibited
                default: reason = .hostUnreachable
                }
            }
            // The quoted packet: our IP header and at least the first 8 bytes of our TCP header.
            guard let quoted = parseIP(frame, at: ip.payload + 8), quoted.protocolNumber == 6,
                frame.count >= quoted.payload + 8
            else { return nil }
            return .unreachable(
                to: quoted.destination, port: read16(frame, quoted.payload + 2),
                fromPort: read16(frame, quoted.payload), sequence: read32(frame, quoted.payload + 4),
                reason: reason)
        default:
            return nil
        }
    }

    private struct IPHeader {
        var source: IPAddress
        var destination: IPAddress
        var protocolNumber: UInt8
        var payload: Int
    }

    private static func parseIP(_ frame: UnsafeRawBufferPointer, at offset: Int) -> IPHeader? {
        guard frame.count > offset else { return nil }
        switch frame[offset] >> 4 {
        case 4:
            let headerLength = Int(frame[offset] & 0x0F) * 4
            guard headerLength >= 20, frame.count >= offset + headerLength else { return nil }
            return IPHeader(
                source: .v4(read32(frame, offset + 12)), destination: .v4(read32(frame, offset + 16)),
                protocolNumber: frame[offset + 9], payload: offset + headerLength)
        case 6:
            guard frame.count >= offset + 40 else { return nil }
            var source: UInt128 = 0
            var destination: UInt128 = 0
            for index in 0..<16 {
                source = source << 8 | UInt128(frame[offset + 8 + index])
                destination = destination << 8 | UInt128(frame[offset + 24 + index])
            }
            // Extension headers are not followed: replies to a SYN do not carry them in practice.
            return IPHeader(
                source: .v6(source), destination: .v6(destination), protocolNumber: frame[offset + 6],
                payload: offset + 40)
        default:
            return nil
        }
    }

    private static func read16(_ frame: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(frame[offset]) << 8 | UInt16(frame[offset + 1])
    }

    private static func read32(_ frame: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(read16(frame, offset)) << 16 | UInt32(read16(frame, offset + 2))
    }
}
