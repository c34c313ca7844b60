import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// Turns a host name into addresses. The scanner uses `SystemResolver`; tests that must not touch DNS pass their
/// own table.
public protocol HostResolver: Sendable {
    /// All A and AAAA addresses of `name`, or an error naming it.
    func resolve(_ name: String) throws(MailPortError) -> [IPAddress]
}

/// The system resolver (`getaddrinfo`, so /etc/hosts and nsswitch apply), asking for both families.
public struct SystemResolver: HostResolver {
    public init() {}

    public func resolve(_ name: String) throws(MailPortError) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        guard status == 0, let first = list else {
            let reason = String(cString: gai_strerror(status))
            throw .invalidInput(
                "cannot resolve host name '\(printable(name))': \(reason); expected a name with an A or AAAA record")
        }
        defer { freeaddrinfo(list) }
        var found: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let socketAddress = entry.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { raw in
                    raw.copyMemory(
                        from: UnsafeRawBufferPointer(start: socketAddress, count: Int(entry.pointee.ai_addrlen)))
                }
                if let address = IPAddress(socketAddress: storage) { found.append(address) }
            }
            cursor = entry.pointee.ai_next
        }
        var seen = Set<IPAddress>()
        return found.filter { seen.insert($0).inserted }
    }
}

/// A fixed name table, for tests and for names already resolved elsewhere (e.g. DNS mode).
public struct StaticResolver: HostResolver {
    public var table: [String: [IPAddress]]

    public init(_ table: [String: [IPAddress]]) {
        self.table = table
    }

    public func resolve(_ name: String) throws(MailPortError) -> [IPAddress] {
        guard let addresses = table[name], !addresses.isEmpty else {
            throw .invalidInput(
                "cannot resolve host name '\(printable(name))'; expected a name with an A or AAAA record")
        }
        return addresses
    }
}

/// Names found by an earlier stage (domain mode's DNS lookups) first, then another resolver for everything else.
public struct LayeredResolver: HostResolver {
    public var known: StaticResolver
    public var fallback: any HostResolver

    public init(known: [String: [IPAddress]], fallback: any HostResolver) {
        self.known = StaticResolver(known)
        self.fallback = fallback
    }

    public func resolve(_ name: String) throws(MailPortError) -> [IPAddress] {
        if let addresses = known.table[name], !addresses.isEmpty { return addresses }
        return try fallback.resolve(name)
    }
}
