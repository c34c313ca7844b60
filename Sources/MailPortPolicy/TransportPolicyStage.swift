import MailPortCore
import MailPortDNS
import MailPortTLS

/// Stage 1c (domain mode): the mail transport policies each domain publishes. The records come from the DNS round of
/// stage 1b; the MTA-STS policies are fetched over HTTPS while discovery and the dialogs run. The rules hold them
/// against the certificates the MX hosts serve on port 25 once those are known.
public enum TransportPolicyStage {
    /// The `_mta-sts` and `_smtp._tls` records of each domain, and the TLSA records of each of its MX exchanges,
    /// parsed into its observation.
    public static func records(
        _ domains: [DomainObservation], texts: [String: DomainDiscovery.PolicyTexts],
        tlsa: [String: DNSLookupResult]
    ) -> [DomainObservation] {
        domains.map { domain in
            var domain = domain
            if let sts = texts[DomainDiscovery.mtaSTSRecordName(domain.name)] {
                domain.mtaSTS = PolicyRecords.mtaSTS(lookup: sts.outcome, texts: sts.texts)
            }
            if let rpt = texts[DomainDiscovery.tlsRPTRecordName(domain.name)] {
                domain.tlsRPT = PolicyRecords.tlsRPT(lookup: rpt.outcome, texts: rpt.texts)
            }
            for index in domain.mx.indices where !domain.mx[index].addressLiteral {
                let exchange = domain.mx[index].exchange
                domain.mx[index].tlsa = tlsa[exchange].map { observation(tlsaOf: exchange, $0) }
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

    /// The TLSA lookup of an exchange as found (CNAMEs followed): at most 16 records, the association data as hex
    /// (at most 4,096 bytes of it). The digest the certificates are compared with is the data itself for SHA-256/512
    /// records and, for exact matches (type 0), the SHA-256 of the whole data (equal data have equal digests).
    static func observation(tlsaOf exchange: String, _ answer: DNSLookupResult) -> TLSAObservation {
        let name = DomainDiscovery.tlsaName(exchange)
        let records = DomainDiscovery.records(answer, owner: name).prefix(16).compactMap { record -> TLSARecord? in
            guard case .tlsa(let usage, let selector, let matchingType, let data) = record.data else { return nil }
            let hex = data.prefix(4096).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
            let digest: String? =
                switch matchingType {
                case 0: Digest.sha256(data)
                case 1, 2: hex
                default: nil
                }
            return TLSARecord(
                usage: Int(usage), selector: Int(selector), matchingType: Int(matchingType), data: hex, digest: digest)
        }
        return TLSAObservation(
            name: name, lookup: answer.outcome, authenticated: answer.authenticated, records: Array(records))
    }
}
