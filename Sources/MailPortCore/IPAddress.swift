#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address held as a plain integer, so ranges and CIDR blocks are arithmetic, not lists.
///
/// IPv4 addresses use the low 32 bits. Parsing is strict on purpose: `010.0.0.1` is refused rather than read as
/// octal (as `inet_aton` would) because a scanner that guesses widens or narrows the user's scope silently.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    public enum Family: String, Sendable, Codable {
        case v4 = "ipv4"
        case v6 = "ipv6"

        /// Number of address bits in this family.
        public var bitWidth: Int { self == .v4 ? 32 : 128 }
    }

    public var family: Family {
        switch self {
        case .v4: return .v4
        case .v6: return .v6
        }
    }

    /// The address as an unsigned integer of its family's width (widened to 128 bits).
    public var integerValue: UInt128 {
        switch self {
        case .v4(let value): return UInt128(value)
        case .v6(let value): return value
        }
    }

    /// Builds an address of `family` from an integer; the caller guarantees it fits the family's width.
    public init(family: Family, integerValue: UInt128) {
        switch family {
        case .v4: self = .v4(UInt32(truncatingIfNeeded: integerValue))
        case .v6: self = .v6(integerValue)
        }
    }

    /// Parses a literal IPv4 (dotted quad, decimal, no leading zeros) or IPv6 address (RFC 4291 text forms,
    /// including an embedded IPv4 tail). Returns nil for anything else, including zone ids (`fe80::1%eth0`).
    public init?(_ text: String) {
        if let v4 = IPAddress.parseIPv4(text) {
            self = .v4(v4)
        } else if text.contains(":"), let v6 = IPAddress.parseIPv6(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    static func parseIPv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            if part.count > 1 && part.first == "0" { return nil }
            guard let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseIPv6(_ text: String) -> UInt128? {
        guard text.utf8.count <= 45, text.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        var storage = in6_addr()
        let ok = text.withCString { inet_pton(AF_INET6, $0, &storage) }
        guard ok == 1 else { return nil }
        return withUnsafeBytes(of: &storage) { raw in
            raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        }
    }

    /// The conventional text form: dotted quad, or RFC 5952 compressed IPv6.
    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
        case .v6(let value):
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { raw in
                for index in 0..<16 {
                    raw[index] = UInt8(truncatingIfNeeded: value >> (8 * (15 - index)))
                }
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v6(let a), .v6(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }
}

extension IPAddress {
    /// Calls `body` with a sockaddr (sockaddr_in or sockaddr_in6) for this address and `port`.
    public func withSocketAddress<Result>(
        port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result
    ) -> Result {
        switch self {
        case .v4(let value):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = value.bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(let value):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { raw in
                for index in 0..<16 { raw[index] = UInt8(truncatingIfNeeded: value >> (8 * (15 - index))) }
            }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: deadlines that wall-clock changes cannot move.
public func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

extension IPAddress {
    /// The address of a sockaddr_in or sockaddr_in6; nil for other families.
    public init?(socketAddress storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let value = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
                }
            }
            self = .v4(value)
        case AF_INET6:
            let value = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { raw in
                        raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
                    }
                }
            }
            self = .v6(value)
        default:
            return nil
        }
    }
}
