import MailPortCore
import MailPortDNS

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
}
