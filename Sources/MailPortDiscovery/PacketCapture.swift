import CMailPortPcap
import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

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
        // Replies to a fast sweep arrive in bursts; the ring keeps them until the loop reads (16 MiB: some 60,000
        // replies at the snap length, well over a second of answers at 100,000 packets/s).
        pcap_set_buffer_size(handle, 16 << 20)
        let status = pcap_activate(handle)
        if status < 0 {
            let message = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            if status == PCAP_ERROR_PERM_DENIED {
                throw .scanFailed(
                    "--syn cannot capture on '\(printable(interface))': permission denied; expected root or CAP_NET_RAW"
                )
            }
            throw .scanFailed(
                "cannot capture on '\(printable(interface))': \(message); expected an interface that is up (--interface)"
            )
        }
        _ = pcap_setdirection(handle, PCAP_D_IN)
        guard let header = SynPackets.linkHeaderLength(pcap_datalink(handle)) else {
            pcap_close(handle)
            throw .scanFailed(
                "interface '\(printable(interface))' has a link type SYN discovery cannot read (\(pcap_datalink(handle)))"
            )
        }
        linkHeader = header
        var program = bpf_program()
        let filter = "(tcp dst port \(sourcePort)) or icmp or icmp6"
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0,
            pcap_setfilter(handle, &program) == 0
        else {
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
