import Foundation
import MailPortCore

/// Stage 1b (domain mode): from a mail domain to the hosts that serve it. Asks for the domain's MX records, the
/// RFC 6186 SRV records and the usual host names, then the addresses of every host named there. Everything is asked
/// in two rounds of parallel queries, so a domain costs two resolver round trips, not twenty.
public struct DomainDiscovery: Sendable {
    /// RFC 6186 / RFC 8314 SRV services and the mail service each one names.
    public static let srvServices: [(label: String, service: MailService)] = [
        ("submission", .submission), ("submissions", .submissions), ("imap", .imap), ("imaps", .imaps),
        ("pop3", .pop3), ("pop3s", .pop3s),
    ]
    /// Host names administrators and mail clients' autoconfiguration try first.
    public static let wellKnownPrefixes = ["mail", "smtp", "imap", "pop"]

    public let client: DNSClient

    public init(client: DNSClient) {
        self.client = client
    }

    /// What DNS said, and the names and addresses to scan.
    public struct Result: Sendable {
        public var domains: [DomainObservation]
        /// Every host name found, with its addresses (the scan's name table).
        public var addressesByName: [String: [IPAddress]]
        /// Names found as MX exchanges: port 25 is expected there.
        public var mxNames: [String]
        /// SRV records on ports outside the standard seven, as port=service pairs to add to the scan.
        public var extraPorts: [PortSpec]
        /// The TXT answers of each domain's transport policy names (`_mta-sts.DOMAIN`, `_smtp._tls.DOMAIN`), by name.
        public var policyTexts: [String: PolicyTexts] = [:]
        /// Addresses of each domain's MTA-STS policy host `mta-sts.DOMAIN`, by domain: a web server the policy
        /// stage fetches from, not a scan target.
        public var policyHosts: [String: [IPAddress]] = [:]
        /// The `_25._tcp` TLSA answer of each MX exchange, by exchange (the policy stage reads it: DANE).
        public var tlsaAnswers: [String: DNSLookupResult] = [:]
    }

    /// How a TXT lookup ended and the texts of its records (each record's strings joined).
    public struct PolicyTexts: Sendable, Equatable {
        public var outcome: DomainObservation.LookupOutcome
        public var texts: [String]
    }

    static let rootQuestion = DNSQuestion(".", .soa)

    /// RFC 7672 §2.2: the TLSA records of an MX host's port 25.
    public static func tlsaName(_ exchange: String) -> String { "_25._tcp.\(exchange)" }

    /// The TXT names of a domain's transport policies.
    public static func mtaSTSRecordName(_ domain: String) -> String { "_mta-sts.\(domain)" }
    public static func tlsRPTRecordName(_ domain: String) -> String { "_smtp._tls.\(domain)" }
    public static func mtaSTSHost(_ domain: String) -> String { "mta-sts.\(domain)" }

    public func discover(_ domainNames: [String]) -> Result {
        let domains = domainNames.map(DNSName.normalized)
        var first: [DNSQuestion] = []
        for domain in domains {
            first.append(DNSQuestion(domain, .mx))
            first.append(DNSQuestion(domain, .a))
            first.append(DNSQuestion(domain, .aaaa))
            for (label, _) in Self.srvServices { first.append(DNSQuestion("_\(label)._tcp.\(domain)", .srv)) }
            for prefix in Self.wellKnownPrefixes {
                first.append(DNSQuestion("\(prefix).\(domain)", .a))
                first.append(DNSQuestion("\(prefix).\(domain)", .aaaa))
            }
            first.append(DNSQuestion(Self.mtaSTSRecordName(domain), .txt))
            first.append(DNSQuestion(Self.tlsRPTRecordName(domain), .txt))
            // Asked beside the rest (one round trip); used only when the domain announces a policy.
            first.append(DNSQuestion(Self.mtaSTSHost(domain), .a))
            first.append(DNSQuestion(Self.mtaSTSHost(domain), .aaaa))
        }
        // Whether the resolver validates: the root zone is signed, so a validating resolver sets AD on its SOA.
        first.append(Self.rootQuestion)
        let answers = client.lookup(first)
        let resolverValidates =
            answers[Self.rootQuestion].map { $0.outcome.isFailure == false && $0.authenticated }
            ?? false

        // Second round: the addresses of every MX exchange and SRV target.
        var hostNames: [String] = []
        for domain in domains {
            for exchange in Self.exchanges(answers[DNSQuestion(domain, .mx)], owner: domain)
            where exchange != "." && Self.addressLiteral(exchange) == nil {
                hostNames.append(exchange)
            }
            for (label, _) in Self.srvServices {
                let owner = "_\(label)._tcp.\(domain)"
                for record in Self.records(answers[DNSQuestion(owner, .srv)], owner: owner) {
                    if case .srv(_, _, _, let target) = record.data, target != "." { hostNames.append(target) }
                }
            }
        }
        // DANE (RFC 7672 §2.2): the TLSA records of port 25 of every MX exchange, in the same round.
        let mxExchanges = domains.flatMap { domain in
            Self.exchanges(answers[DNSQuestion(domain, .mx)], owner: domain).filter {
                $0 != "." && Self.addressLiteral($0) == nil
            }
        }
        let second = client.lookup(
            hostNames.flatMap { [DNSQuestion($0, .a), DNSQuestion($0, .aaaa)] }
                + mxExchanges.map { DNSQuestion(Self.tlsaName($0), .tlsa) })
        let all = answers.merging(second) { first, _ in first }

        var table: [String: [IPAddress]] = [:]
        var mxNames: [String] = []
        var extraPorts: [PortSpec] = []
        var observations: [DomainObservation] = []
        var policyTexts: [String: PolicyTexts] = [:]
        var policyHosts: [String: [IPAddress]] = [:]
        for domain in domains {
            var observation = DomainObservation(name: domain, status: .ok)
            observation.dnssec = DNSSECObservation(
                resolverValidates: resolverValidates,
                mxAuthenticated: all[DNSQuestion(domain, .mx)]?.authenticated ?? false)
            var asked: [DNSQuestion] = [DNSQuestion(domain, .mx), DNSQuestion(domain, .a), DNSQuestion(domain, .aaaa)]
            let mxAnswer = all[DNSQuestion(domain, .mx)]
            switch mxAnswer?.outcome ?? .timeout {
            case .ok, .nodata: observation.status = .ok
            case let outcome: observation.status = outcome
            }
            for record in Self.records(mxAnswer, owner: domain) {
                guard case .mx(let preference, let exchange) = record.data else { continue }
                if exchange == "." {
                    observation.nullMX = true
                    continue
                }
                var mx = DomainObservation.MXRecord(preference: preference, exchange: exchange)
                if let literal = Self.addressLiteral(exchange) {
                    mx.addressLiteral = true
                    mx.addresses = [literal.description]
                    mx.resolution = .nodata
                } else {
                    let resolved = Self.addresses(of: exchange, in: all)
                    mx.cname = resolved.cname
                    mx.addresses = resolved.addresses.map(\.description)
                    mx.resolution = resolved.outcome
                    asked += [DNSQuestion(exchange, .a), DNSQuestion(exchange, .aaaa)]
                    asked.append(DNSQuestion(Self.tlsaName(exchange), .tlsa))
                    if !resolved.addresses.isEmpty {
                        table[exchange, default: []].append(contentsOf: resolved.addresses)
                        if !mxNames.contains(exchange) { mxNames.append(exchange) }
                    }
                }
                observation.mx.append(mx)
            }
            observation.mx.sort { ($0.preference, $0.exchange) < ($1.preference, $1.exchange) }

            for (label, service) in Self.srvServices {
                let owner = "_\(label)._tcp.\(domain)"
                asked.append(DNSQuestion(owner, .srv))
                for record in Self.records(all[DNSQuestion(owner, .srv)], owner: owner) {
                    guard case .srv(let priority, let weight, let port, let target) = record.data else { continue }
                    var srv = DomainObservation.SRVRecord(
                        service: label, priority: priority, weight: weight, port: port,
                        target: target)
                    if target != "." {
                        let resolved = Self.addresses(of: target, in: all)
                        srv.addresses = resolved.addresses.map(\.description)
                        srv.resolution = resolved.outcome
                        asked += [DNSQuestion(target, .a), DNSQuestion(target, .aaaa)]
                        table[target, default: []].append(contentsOf: resolved.addresses)
                        if port != 0, service.standardPort != port,
                            !extraPorts.contains(where: { $0.port == port })
                        {
                            extraPorts.append(PortSpec(port: port, service: service))
                        }
                    }
                    observation.srv.append(srv)
                }
            }

            // The apex too: without MX, RFC 5321 §5.1 sends mail to the domain's own address.
            for name in [domain] + Self.wellKnownPrefixes.map({ "\($0).\(domain)" }) {
                if name != domain { asked += [DNSQuestion(name, .a), DNSQuestion(name, .aaaa)] }
                let resolved = Self.addresses(of: name, in: all)
                guard !resolved.addresses.isEmpty else { continue }
                observation.wellKnownNames.append(.init(name: name, addresses: resolved.addresses.map(\.description)))
                table[name, default: []].append(contentsOf: resolved.addresses)
            }

            // Transport policies: the records now, the MTA-STS policy host's addresses for the fetch to come.
            for name in [Self.mtaSTSRecordName(domain), Self.tlsRPTRecordName(domain)] {
                let question = DNSQuestion(name, .txt)
                asked.append(question)
                let answer = all[question]
                let texts = Self.records(answer, owner: name).compactMap { record -> String? in
                    if case .txt(let text) = record.data { return text }
                    return nil
                }
                policyTexts[name] = PolicyTexts(outcome: answer?.outcome ?? .timeout, texts: texts)
            }
            if policyTexts[Self.mtaSTSRecordName(domain)]?.texts.contains(where: { $0.hasPrefix("v=STSv1") }) == true {
                let host = Self.mtaSTSHost(domain)
                asked += [DNSQuestion(host, .a), DNSQuestion(host, .aaaa)]
                policyHosts[domain] = Self.addresses(of: host, in: all).addresses
            }

            var seen = Set<DNSQuestion>()
            for question in asked where seen.insert(question).inserted {
                guard let answer = all[question] else { continue }
                var detail: [String] = []
                if [.a, .aaaa].contains(question.type),
                    let alias = Self.aliasChain(from: question.name, in: answer.records).dropFirst().first
                {
                    detail.append("alias of \(alias)")
                }
                if answer.usedTCP { detail.append("answer truncated over UDP, asked again over TCP") }
                observation.lookups.append(
                    .init(
                        name: question.name, type: question.type.description,
                        outcome: answer.outcome,
                        detail: detail.isEmpty ? nil : detail.joined(separator: "; ")))
            }
            // Address literals are not scanned: a sending MTA would not use them either.
            var hosts: [String] = []
            for address in observation.mx.filter({ !$0.addressLiteral }).flatMap(\.addresses)
                + observation.srv.flatMap(\.addresses) + observation.wellKnownNames.flatMap(\.addresses)
            where !hosts.contains(address) {
                hosts.append(address)
            }
            observation.hosts = hosts
            observations.append(observation)
        }
        for name in table.keys {
            var seen = Set<IPAddress>()
            table[name] = table[name]!.filter { seen.insert($0).inserted }
        }
        var tlsaAnswers: [String: DNSLookupResult] = [:]
        for exchange in mxExchanges {
            tlsaAnswers[exchange] = all[DNSQuestion(Self.tlsaName(exchange), .tlsa)]
        }
        return Result(
            domains: observations, addressesByName: table.filter { !$0.value.isEmpty }, mxNames: mxNames,
            extraPorts: extraPorts, policyTexts: policyTexts, policyHosts: policyHosts, tlsaAnswers: tlsaAnswers)
    }

    /// Records of a lookup that belong to `owner` (after following a CNAME chain of the answer), in answer order.
    public static func records(_ result: DNSLookupResult?, owner: String) -> [DNSRecord] {
        guard let result, result.outcome == .ok else { return [] }
        let chain = aliasChain(from: owner, in: result.records)
        return result.records.filter { record in
            if case .cname = record.data { return false }
            return chain.contains(record.owner)
        }
    }

    static func exchanges(_ result: DNSLookupResult?, owner: String) -> [String] {
        records(result, owner: owner).compactMap { record in
            if case .mx(_, let exchange) = record.data { return exchange }
            return nil
        }
    }

    /// The name, then each alias target in turn (at most 8 steps, so a CNAME loop ends).
    public static func aliasChain(from name: String, in records: [DNSRecord]) -> [String] {
        var chain = [name]
        while chain.count <= 8,
            let next = records.first(where: { record in
                if case .cname = record.data { return record.owner == chain.last! }
                return false
            })
        {
            guard case .cname(let target) = next.data, !chain.contains(target) else { break }
            chain.append(target)
        }
        return chain
    }

    /// A and AAAA of `name` together: the addresses, the first alias target if the name is an alias, and one outcome
    /// for both (an address from either family counts; otherwise a failure outranks "no such name").
    static func addresses(
        of name: String, in answers: [DNSQuestion: DNSLookupResult]
    )
        -> (addresses: [IPAddress], cname: String?, outcome: DomainObservation.LookupOutcome)
    {
        var found: [IPAddress] = []
        var cname: String?
        var outcomes: [DomainObservation.LookupOutcome] = []
        for type in [DNSRecordType.a, .aaaa] {
            guard let result = answers[DNSQuestion(name, type)] else { continue }
            outcomes.append(result.outcome)
            let chain = aliasChain(from: DNSName.normalized(name), in: result.records)
            if chain.count > 1, cname == nil { cname = chain[1] }
            for record in result.records where chain.contains(record.owner) {
                if case .address(let address) = record.data, !found.contains(address) { found.append(address) }
            }
        }
        let outcome: DomainObservation.LookupOutcome
        if !found.isEmpty {
            outcome = .ok
        } else if let failure = outcomes.first(where: \.isFailure) {
            outcome = failure
        } else if !outcomes.isEmpty && outcomes.allSatisfy({ $0 == .nxdomain }) {
            outcome = .nxdomain
        } else {
            outcome = outcomes.isEmpty ? .timeout : .nodata
        }
        return (found, cname, outcome)
    }

    /// An MX exchange written as an address: `192.0.2.1`, or `[192.0.2.1]` (whose brackets arrive as \091 and \093).
    public static func addressLiteral(_ exchange: String) -> IPAddress? {
        var text = exchange
        if text.hasPrefix("\\091") && text.hasSuffix("\\093") { text = String(text.dropFirst(4).dropLast(4)) }
        text = text.replacingOccurrences(of: "\\058", with: ":")
        return IPAddress(text)
    }
}
