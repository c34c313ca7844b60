#if canImport(Glibc)
import Glibc
#endif
import CMailPortPcap
import MailPortCore

/// Replies to SYN discovery, read with libpcap: one interface, inbound only, a BPF filter that lets through TCP to
/// our source port and ICMP/ICMPv6 (unreachables quoting our SYNs), immediate delivery, non-blocking reads.
final class PacketCapture {
    let interface: String
    private let handle: OpaquePointer
    let linkHeader: Int
    /// For poll(2).
    let descriptor: Int32

    init(interface: String, sourcePort: UInt16) throws(MailPortError) {
        self.interface = interface
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errors) else {
            throw .scanFailed("cannot open interface '\(printable(interface))' for capture: \(Self.text(errors))")
        }
        self.handle = handle
        pcap_set_snaplen(handle, 256)
        pcap_set_promisc(handle, 0)
        pcap_set_immediate_mode(handle, 1)
        // Replies to a fast sweep arrive in bursts; a large ring keeps them until the loop reads.
        pcap_set_buffer_size(handle, 64 << 20)
        let status = pcap_activate(handle)
        if status < 0 {
            let message = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            if status == PCAP_ERROR_PERM_DENIED {
                throw .scanFailed("--syn cannot capture on '\(printable(interface))': permission denied; expected root or CAP_NET_RAW")
            }
            throw .scanFailed("cannot capture on '\(printable(interface))': \(message); expected an interface that is up (--interface)")
        }
        _ = pcap_setdirection(handle, PCAP_D_IN)
        guard let header = SynPackets.linkHeaderLength(pcap_datalink(handle)) else {
            pcap_close(handle)
            throw .scanFailed("interface '\(printable(interface))' has a link type SYN discovery cannot read (\(pcap_datalink(handle)))")
        }
        linkHeader = header
        var program = bpf_program()
        let filter = "(tcp dst port \(sourcePort)) or icmp or icmp6"
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0, pcap_setfilter(handle, &program) == 0 else {
            let message = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw .scanFailed("cannot set the capture filter on '\(printable(interface))': \(message)")
        }
        pcap_freecode(&program)
        guard pcap_setnonblock(handle, 1, &errors) == 0 else {
            pcap_close(handle)
            throw .scanFailed("cannot make the capture on '\(printable(interface))' non-blocking: \(Self.text(errors))")
        }
        descriptor = pcap_get_selectable_fd(handle)
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads every packet waiting (at most `limit`), handing each frame to `body`. Returns how many were read.
    @discardableResult
    func drain(limit: Int = 10_000, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var count = 0
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while count < limit, pcap_next_ex(handle, &header, &data) == 1, let header, let data {
            body(UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen)))
            count += 1
        }
        return count
    }

    /// Packets the kernel dropped because the capture buffer was full (a sign the rate is too high for this host).
    var kernelDrops: UInt32 {
        var stats = pcap_stat()
        return pcap_stats(handle, &stats) == 0 ? stats.ps_drop : 0
    }

    deinit {
        pcap_close(handle)
    }
}

/// Where SYN packets leave from: the source address the routing table picks for a target (found by connecting a
/// UDP socket, which sends nothing) and the interface that holds that address. `--interface` and `--source-ip`
/// override the choice.
struct SynRoute: Equatable {
    var source: IPAddress
    var interface: String

    static func find(for target: IPAddress, interface: String?, sourceIP: IPAddress?) throws(MailPortError) -> SynRoute {
        if let sourceIP {
            guard sourceIP.family == target.family else {
                throw .invalidInput("--source-ip \(sourceIP) is \(sourceIP.family.rawValue) but \(target) is not; expected one source per family")
            }
            guard let owner = interfaceHolding(sourceIP) else {
                throw .invalidInput("--source-ip \(sourceIP) is not an address of this machine; expected a local address")
            }
            return SynRoute(source: sourceIP, interface: interface ?? owner)
        }
        if let interface {
            guard let address = addresses(of: interface).first(where: { $0.family == target.family }) else {
                throw .invalidInput("interface '\(printable(interface))' has no \(target.family.rawValue) address; expected an interface that is up with one (or --source-ip)")
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
                let size = socketAddress.pointee.sa_family == sa_family_t(AF_INET6)
                    ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
                withUnsafeMutableBytes(of: &storage) { raw in
                    raw.copyMemory(from: UnsafeRawBufferPointer(start: socketAddress, count: size))
                }
                if let address = IPAddress(socketAddress: storage),
                   !(address.family == .v6 && address.integerValue >> 118 == 0x3FA) {
                    found.append((String(cString: entry.pointee.ifa_name), address))
                }
            }
            cursor = entry.pointee.ifa_next
        }
        return found
    }
}
