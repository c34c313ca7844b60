import MailPortCore

/// One target token from the command line, a targets file or an exclusion, before expansion.
public enum TargetSpec: Hashable, Sendable {
    case address(IPAddress)
    /// A CIDR block; the address is already masked to its network (`192.0.2.7/24` means `192.0.2.0/24`).
    case network(IPAddress, prefixLength: Int)
    /// An inclusive range of one family, first ≤ last.
    case range(IPAddress, IPAddress)
    /// A DNS name, resolved later through the system resolver.
    case hostname(String)

    /// What a target token may look like; quoted in every parse error so the user sees the accepted forms.
    public static let expectedForms =
        "an IPv4/IPv6 address, CIDR (a.b.c.d/n, x::/n), range (a.b.c.d-e.f.g.h or a.b.c.d-h) or hostname"

    /// Parses one token. Whitespace around it is ignored; anything else that is not one of the accepted forms is an
    /// error naming the token.
    public static func parse(_ rawToken: String) throws(MailPortError) -> TargetSpec {
        let token = rawToken.trimmingWhitespace()
        func bad(_ why: String) -> MailPortError {
            .invalidInput("invalid target '\(printable(rawToken))': \(why); expected \(expectedForms)")
        }
        guard !token.isEmpty else { throw bad("empty") }
        guard token.utf8.count <= 253 + 4 else { throw bad("too long") }

        if let slash = token.firstIndex(of: "/") {
            let addressPart = String(token[..<slash])
            let prefixPart = token[token.index(after: slash)...]
            guard let address = IPAddress(addressPart) else {
                throw bad("'\(printable(addressPart))' before the '/' is not an IP address")
            }
            let width = address.family.bitWidth
            guard !prefixPart.isEmpty, prefixPart.count <= 3, prefixPart.allSatisfy({ $0.isASCII && $0.isNumber }),
                let prefix = Int(prefixPart), prefix <= width
            else {
                throw bad("prefix length must be 0 to \(width) for \(address.family == .v4 ? "IPv4" : "IPv6")")
            }
            return .network(address.masked(toPrefix: prefix), prefixLength: prefix)
        }

        if let address = IPAddress(token) {
            return .address(address)
        }

        if let dash = token.firstIndex(of: "-"), token.first?.isHexDigit == true || token.first == ":" {
            let left = String(token[..<dash])
            let right = String(token[token.index(after: dash)...])
            if let first = IPAddress(left) {
                let last: IPAddress
                if let full = IPAddress(right) {
                    guard full.family == first.family else { throw bad("the two ends are of different families") }
                    last = full
                } else if case .v4(let firstValue) = first,
                    right.count <= 3, right.allSatisfy({ $0.isASCII && $0.isNumber }), !right.isEmpty,
                    !(right.count > 1 && right.first == "0"), let octet = UInt32(right)
                {
                    guard octet <= 255 else { throw bad("last octet \(right) is above 255") }
                    last = .v4(firstValue & 0xffff_ff00 | octet)
                } else {
                    throw bad("'\(printable(right))' after the '-' is neither an address nor a last octet")
                }
                guard first <= last else { throw bad("range is reversed (\(first) is after \(last))") }
                return .range(first, last)
            }
            // Not an address range: fall through, since host names may contain dashes.
        }

        guard isValidHostname(token) else {
            throw bad("not an address and not a valid host name")
        }
        return .hostname(token.lowercased().hasSuffix(".") ? String(token.lowercased().dropLast()) : token.lowercased())
    }

    /// RFC 1123 host name (underscores allowed, as people name hosts); see `HostName.isValid`.
    static func isValidHostname(_ name: String) -> Bool {
        HostName.isValid(name, underscores: true)
    }
}

extension IPAddress {
    /// The network address of the block of `prefix` bits that contains this address.
    public func masked(toPrefix prefix: Int) -> IPAddress {
        let width = family.bitWidth
        let hostBits = width - prefix
        let mask: UInt128 = hostBits >= 128 ? 0 : (UInt128.max << hostBits)
        return IPAddress(family: family, integerValue: integerValue & mask & IPAddress.familyMask(family))
    }

    static func familyMask(_ family: Family) -> UInt128 {
        family == .v4 ? UInt128(UInt32.max) : UInt128.max
    }
}
