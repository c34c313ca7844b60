import MailPortCore
import MailPortDNS
import MailPortTLS

/// Stage 1c (domain mode): the mail transport policies each domain publishes. The records come from the DNS round of
/// stage 1b; the MTA-STS policies are fetched over HTTPS while discovery and the dialogs run. The rules hold them
/// against the certificates the MX hosts serve on port 25 once those are known.
public enum TransportPolicyStage {
    /// The `_mta-sts` and `_smtp._tls` records of each domain, parsed into its observation.
    public static func records(
        _ domains: [DomainObservation], texts: [String: DomainDiscovery.PolicyTexts]
    ) -> [DomainObservation] {
        domains.map { domain in
            var domain = domain
            if let sts = texts[DomainDiscovery.mtaSTSRecordName(domain.name)] {
                domain.mtaSTS = PolicyRecords.mtaSTS(lookup: sts.outcome, texts: sts.texts)
            }
            if let rpt = texts[DomainDiscovery.tlsRPTRecordName(domain.name)] {
                domain.tlsRPT = PolicyRecords.tlsRPT(lookup: rpt.outcome, texts: rpt.texts)
            }
            // Exact-match TLSA records (matching type 0) are compared by the SHA-256 of their data.
            for index in domain.mx.indices {
                guard var tlsa = domain.mx[index].tlsa else { continue }
                for record in tlsa.records.indices where tlsa.records[record].digest == nil {
                    tlsa.records[record].digest = bytes(ofHex: tlsa.records[record].data).map(Digest.sha256)
                }
                domain.mx[index].tlsa = tlsa
            }
            return domain
        }
    }

    /// Fetches the policy of every domain whose record announces one, all at once, from the first address of its
    /// `mta-sts.DOMAIN` (IPv4 first, as it was resolved).
    public static func fetchPolicies(
        _ domains: [DomainObservation], hosts: [String: [IPAddress]], fetcher: PolicyFetcher
    ) async -> [DomainObservation] {
        var fetched: [String: MTASTSPolicyFetch] = [:]
        await withTaskGroup(of: (String, MTASTSPolicyFetch).self) { group in
            for domain in domains where domain.mtaSTS?.announced == true {
                let name = domain.name
                guard let address = hosts[name]?.first else {
                    let host = DomainDiscovery.mtaSTSHost(name)
                    fetched[name] = MTASTSPolicyFetch(
                        url: "https://\(host)\(PolicyFetcher.path)", outcome: .noAddress,
                        detail: "\(host) has no A or AAAA record")
                    continue
                }
                group.addTask { (name, await fetcher.fetch(domain: name, address: address)) }
            }
            for await (name, fetch) in group { fetched[name] = fetch }
        }
        return domains.map { domain in
            var domain = domain
            if let fetch = fetched[domain.name] { domain.mtaSTS?.policy = fetch }
            return domain
        }
    }

    /// Bytes of lower-case hex text, or nil for text that is not hex.
    static func bytes(ofHex hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for pair in stride(from: 0, to: digits.count, by: 2) {
            guard let high = hexValue(digits[pair]), let low = hexValue(digits[pair + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
