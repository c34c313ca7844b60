// Its header includes <sys/socket.h>; in a release build the socket-type constants (SOCK_DGRAM, SOCK_CLOEXEC) are
// then found only through this module.
import CMailPortSystem
import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// Where SYN packets leave from: the source address the routing table picks for a target (found by connecting a
/// UDP socket, which sends nothing) and the interface that holds that address. `--interface` and `--source-ip`
/// override the choice.
struct SynRoute: Equatable {
    var source: IPAddress
    var interface: String

    static func find(for target: IPAddress, interface: String?, sourceIP: IPAddress?) throws(MailPortError) -> SynRoute
    {
        if let sourceIP {
            guard sourceIP.family == target.family else {
                throw .invalidInput(
                    "--source-ip \(sourceIP) is \(sourceIP.family.rawValue) but \(target) is not; expected one source per family"
                )
            }
            let owner = try owner(ofSourceIP: sourceIP)
            return SynRoute(source: sourceIP, interface: interface ?? owner)
        }
        if let interface {
            guard let address = addresses(of: interface).first(where: { $0.family == target.family }) else {
                throw .invalidInput(
                    "interface '\(printable(interface))' has no \(target.family.rawValue) address; expected an interface that is up with one (or --source-ip)"
                )
            }
            return SynRoute(source: address, interface: interface)
        }
        let family = target.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .scanFailed("cannot open a socket to look up the route: \(errnoText())") }
        defer { close(fd) }
        guard target.withSocketAddress(port: 9, { connect(fd, $0, $1) }) == 0 else {
            throw .scanFailed("no route to \(target): \(errnoText()); expected a target this machine can reach")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0, let source = IPAddress(socketAddress: storage) else {
            throw .scanFailed("cannot tell the source address for \(target): \(errnoText())")
        }
        guard let owner = interfaceHolding(source) else {
            throw .scanFailed("no interface holds the source address \(source) for \(target); expected --interface")
        }
        return SynRoute(source: source, interface: owner)
    }

    /// The interface holding `--source-ip`, or the error that names it as not this machine's.
    static func owner(ofSourceIP sourceIP: IPAddress) throws(MailPortError) -> String {
        guard let owner = interfaceHolding(sourceIP) else {
            throw .invalidInput("--source-ip \(sourceIP) is not an address of this machine; expected a local address")
        }
        return owner
    }

    private static func interfaceHolding(_ address: IPAddress) -> String? {
        allAddresses().first { $0.1 == address }?.0
    }

    private static func addresses(of interface: String) -> [IPAddress] {
        allAddresses().filter { $0.0 == interface }.map(\.1)
    }

    /// Every (interface, address) pair from getifaddrs; IPv6 link-local addresses are left out (they need a scope).
    private static func allAddresses() -> [(String, IPAddress)] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var found: [(String, IPAddress)] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            if let socketAddress = entry.pointee.ifa_addr {
                var storage = sockaddr_storage()
                let size =
                    socketAddress.pointee.sa_family == sa_family_t(AF_INET6)
                    ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
                withUnsafeMutableBytes(of: &storage) { raw in
                    raw.copyMemory(from: UnsafeRawBufferPointer(start: socketAddress, count: size))
                }
                if let address = IPAddress(socketAddress: storage),
                    !(address.family == .v6 && address.integerValue >> 118 == 0x3FA)
                {
                    found.append((String(cString: entry.pointee.ifa_name), address))
                }
            }
            cursor = entry.pointee.ifa_next
        }
        return found
    }
}
