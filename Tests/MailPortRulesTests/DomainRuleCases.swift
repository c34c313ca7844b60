import MailPortCore
import MailPortRules
import MailPortYAML
import Testing

/// The domain rules on hand-written DNS facts; the host 192.0.2.10 is the domain's MX (and SRV target) where a case
/// needs one.
let domainRuleCases: [RuleCase] = {
    typealias D = DomainObservation
    let mxHost = F.host(
        F.endpoint(25, dialog: F.smtp(starttls: F.upgraded(), tls: F.tls(names: ["mx.example.org": true]))),
        F.endpoint(993, dialog: F.imap(tls: F.tls())), F.endpoint(143, state: .closed),
        names: ["mx.example.org"])
    let wrongName = F.host(
        F.endpoint(25, dialog: F.smtp(starttls: F.upgraded(), tls: F.tls(names: ["mx.example.org": false]))),
        names: ["mx.example.org"])
    let noTLS = F.host(F.endpoint(25, dialog: F.smtp(extensions: ["PIPELINING"])), names: ["mx.example.org"])
    let mx = D.MXRecord(preference: 10, exchange: "mx.example.org", addresses: ["192.0.2.10"])
    func lookups(_ outcomes: [(String, String, D.LookupOutcome)]) -> [D.Lookup] {
        outcomes.map { D.Lookup(name: $0.0, type: $0.1, outcome: $0.2) }
    }
    let healthyLookups = lookups([
        ("example.org", "MX", .ok), ("_imaps._tcp.example.org", "SRV", .ok),
        ("_submissions._tcp.example.org", "SRV", .nxdomain), ("_pop3s._tcp.example.org", "SRV", .nxdomain),
    ])
    func domain(
        status: D.LookupOutcome = .ok, mx: [D.MXRecord] = [mx], nullMX: Bool = false, srv: [D.SRVRecord] = [],
        names: [D.NamedAddresses] = [], lookups extra: [D.Lookup] = healthyLookups
    ) -> D {
        D(
            name: "example.org", status: status, mx: mx, nullMX: nullMX, srv: srv, wellKnownNames: names,
            lookups: extra,
            hosts: ["192.0.2.10"])
    }
    let imaps = D.SRVRecord(
        service: "imaps", priority: 0, weight: 1, port: 993, target: "mx.example.org", addresses: ["192.0.2.10"])
    let imap = D.SRVRecord(
        service: "imap", priority: 0, weight: 1, port: 143, target: "mx.example.org", addresses: ["192.0.2.10"])
    return [
        RuleCase(
            rule: "MP-DOMAIN-NXDOMAIN", fires: true, why: "the domain does not exist", host: mxHost,
            domain: domain(status: .nxdomain, mx: [], lookups: lookups([("example.org", "MX", .nxdomain)]))),
        RuleCase(
            rule: "MP-DOMAIN-NXDOMAIN", fires: false, why: "SERVFAIL is not NXDOMAIN", host: mxHost,
            domain: domain(status: .servfail, mx: [], lookups: lookups([("example.org", "MX", .servfail)]))),
        RuleCase(
            rule: "MP-DNS-LOOKUP-FAILED", fires: true, why: "the MX lookup timed out", host: mxHost,
            domain: domain(status: .timeout, mx: [], lookups: lookups([("example.org", "MX", .timeout)]))),
        RuleCase(
            rule: "MP-DNS-LOOKUP-FAILED", fires: false, why: "NXDOMAIN and NODATA are answers", host: mxHost,
            domain: domain(
                lookups: lookups([
                    ("example.org", "MX", .ok), ("mail.example.org", "A", .nxdomain), ("example.org", "AAAA", .nodata),
                ]))),
        RuleCase(
            rule: "MP-MX-MISSING", fires: true, why: "NODATA for MX, mail falls back to the A record", host: mxHost,
            domain: domain(
                mx: [], names: [.init(name: "example.org", addresses: ["192.0.2.10"])],
                lookups: lookups([("example.org", "MX", .nodata)]))),
        RuleCase(
            rule: "MP-MX-MISSING", fires: false, why: "a null MX says no mail on purpose", host: mxHost,
            domain: domain(mx: [], nullMX: true, lookups: lookups([("example.org", "MX", .ok)]))),
        RuleCase(
            rule: "MP-MX-MISSING", fires: false, why: "the MX lookup failed: unknown, not missing", host: mxHost,
            domain: domain(mx: [], lookups: lookups([("example.org", "MX", .servfail)]))),
        RuleCase(
            rule: "MP-MX-CNAME", fires: true, why: "the exchange is an alias", host: mxHost,
            domain: domain(mx: [
                D.MXRecord(
                    preference: 10, exchange: "mail.example.org", cname: "mx.example.org", addresses: ["192.0.2.10"])
            ])),
        RuleCase(
            rule: "MP-MX-CNAME", fires: false, why: "the exchange has its own A record", host: mxHost, domain: domain()),
        RuleCase(
            rule: "MP-MX-ADDRESS-LITERAL", fires: true, why: "MX 10 192.0.2.10.", host: mxHost,
            domain: domain(mx: [
                D.MXRecord(
                    preference: 10, exchange: "192.0.2.10", addressLiteral: true, addresses: ["192.0.2.10"],
                    resolution: .nodata)
            ])),
        RuleCase(rule: "MP-MX-ADDRESS-LITERAL", fires: false, why: "a host name", host: mxHost, domain: domain()),
        RuleCase(
            rule: "MP-MX-NO-ADDRESS", fires: true, why: "the exchange does not exist", host: mxHost,
            domain: domain(mx: [mx, D.MXRecord(preference: 20, exchange: "old.example.org", resolution: .nxdomain)])),
        RuleCase(
            rule: "MP-MX-NO-ADDRESS", fires: false, why: "the exchange's lookups timed out: unknown", host: mxHost,
            domain: domain(mx: [mx, D.MXRecord(preference: 20, exchange: "old.example.org", resolution: .timeout)])),
        RuleCase(
            rule: "MP-MX-CERT-NAME", fires: true, why: "port 25's certificate lacks the MX name", host: wrongName,
            domain: domain()),
        RuleCase(
            rule: "MP-MX-CERT-NAME", fires: false, why: "the certificate covers the MX name", host: mxHost,
            domain: domain()),
        RuleCase(
            rule: "MP-MX-CERT-NAME", fires: false, why: "no TLS on 25 (MP-STARTTLS-MISSING's case)", host: noTLS,
            domain: domain()),
        RuleCase(
            rule: "MP-SRV-CLEARTEXT-ONLY", fires: true, why: "_imap without _imaps", host: mxHost,
            domain: domain(srv: [imap], lookups: lookups([("_imaps._tcp.example.org", "SRV", .nxdomain)]))),
        RuleCase(
            rule: "MP-SRV-CLEARTEXT-ONLY", fires: false, why: "_imap and _imaps", host: mxHost,
            domain: domain(srv: [imap, imaps])),
        RuleCase(
            rule: "MP-SRV-CLEARTEXT-ONLY", fires: false, why: "_imap with target '.' (not offered)", host: mxHost,
            domain: domain(srv: [D.SRVRecord(service: "imap", priority: 0, weight: 0, port: 0, target: ".")])),
        RuleCase(
            rule: "MP-SRV-CLEARTEXT-ONLY", fires: false, why: "the _imaps lookup failed: unknown", host: mxHost,
            domain: domain(srv: [imap], lookups: lookups([("_imaps._tcp.example.org", "SRV", .servfail)]))),
        RuleCase(
            rule: "MP-SRV-UNREACHABLE", fires: true, why: "_imap's port 143 is closed", host: mxHost,
            domain: domain(srv: [imap, imaps])),
        RuleCase(
            rule: "MP-SRV-UNREACHABLE", fires: true, why: "the target has no address", host: mxHost,
            domain: domain(srv: [
                imaps,
                D.SRVRecord(
                    service: "submissions", priority: 0, weight: 1, port: 465, target: "gone.example.org",
                    resolution: .nxdomain),
            ])),
        RuleCase(
            rule: "MP-SRV-UNREACHABLE", fires: false, why: "_imaps answers on 993", host: mxHost,
            domain: domain(srv: [imaps])),
    ] + policyRuleCases(domain: domain(), mxHost: mxHost, wrongName: wrongName, noTLS: noTLS)
}()

/// The transport policy rules (MTA-STS, TLS-RPT) on hand-written facts: `base` is a healthy domain whose MX is
/// mx.example.org at 192.0.2.10.
func policyRuleCases(
    domain base: DomainObservation, mxHost: ScanReport.Host, wrongName: ScanReport.Host, noTLS: ScanReport.Host
) -> [RuleCase] {
    let url = "https://mta-sts.example.org/.well-known/mta-sts.txt"
    func policy(
        _ mode: MTASTSPolicyFetch.Mode = .enforce, mx: [String] = ["mx.example.org"], maxAge: Int = 604_800,
        outcome: MTASTSPolicyFetch.Outcome = .fetched, problems: [String] = []
    ) -> MTASTSPolicyFetch {
        MTASTSPolicyFetch(
            url: url, address: "192.0.2.80", outcome: outcome,
            detail: outcome == .fetched ? nil : "HTTP 301 to https://www.example.org/", size: 90, version: "STSv1",
            mode: mode, maxAge: maxAge, mx: mx, problems: problems)
    }
    func sts(
        _ fetch: MTASTSPolicyFetch?, records: [String] = ["v=STSv1; id=1"], problems: [String] = []
    )
        -> MTASTSObservation
    {
        MTASTSObservation(
            lookup: records.isEmpty ? .nxdomain : .ok, records: records, id: problems.isEmpty ? "1" : nil,
            recordProblems: problems, policy: fetch)
    }
    func with(
        _ mtaSTS: MTASTSObservation?,
        _ tlsRPT: TLSRPTObservation? = TLSRPTObservation(
            lookup: .ok, records: ["v=TLSRPTv1; rua=mailto:tlsrpt@example.org"], rua: ["mailto:tlsrpt@example.org"])
    ) -> DomainObservation {
        var domain = base
        domain.mtaSTS = mtaSTS
        domain.tlsRPT = tlsRPT
        return domain
    }
    let good = with(sts(policy()))

    // DANE: the leaf's SPKI digest is "11…", its issuer's "22…"; the resolver validates unless a case says not.
    var leaf = F.certificate(sans: ["mx.example.org"])
    leaf.spkiSHA256 = String(repeating: "11", count: 32)
    var issuer = F.certificate(subject: "CN=Example CA", issuer: "CN=Example Root")
    issuer.sha256 = String(repeating: "cd", count: 32)
    issuer.spkiSHA256 = String(repeating: "22", count: 32)
    let daneHost = F.host(
        F.endpoint(
            25,
            dialog: F.smtp(
                starttls: F.upgraded(), tls: F.tls(chain: [leaf, issuer], names: ["mx.example.org": true]))),
        names: ["mx.example.org"])
    func dane(
        _ records: [TLSARecord], authenticated: Bool = true, validates: Bool = true,
        lookup: DomainObservation
            .LookupOutcome = .ok
    ) -> DomainObservation {
        var domain = with(sts(nil, records: []))
        domain.dnssec = DNSSECObservation(resolverValidates: validates, mxAuthenticated: authenticated)
        domain.mx[0].tlsa = TLSAObservation(
            name: "_25._tcp.mx.example.org", lookup: lookup, authenticated: authenticated, records: records)
        return domain
    }
    let eeMatch = TLSARecord(
        usage: 3, selector: 1, matchingType: 1, data: String(repeating: "11", count: 32),
        digest: String(repeating: "11", count: 32))
    let eeOther = TLSARecord(
        usage: 3, selector: 1, matchingType: 1, data: String(repeating: "99", count: 32),
        digest: String(repeating: "99", count: 32))
    let taMatch = TLSARecord(
        usage: 2, selector: 0, matchingType: 1, data: String(repeating: "cd", count: 32),
        digest: String(repeating: "cd", count: 32))
    let pkix = TLSARecord(
        usage: 1, selector: 1, matchingType: 1, data: String(repeating: "11", count: 32),
        digest: String(repeating: "11", count: 32))
    return [
        RuleCase(
            rule: "MP-MTASTS-MISSING", fires: true, why: "no _mta-sts record, under the mx profile", host: mxHost,
            profile: "mx", domain: with(sts(nil, records: []))),
        RuleCase(
            rule: "MP-MTASTS-MISSING", fires: false, why: "no record, but off in the baseline profile", host: mxHost,
            domain: with(sts(nil, records: []))),
        RuleCase(
            rule: "MP-MTASTS-MISSING", fires: false, why: "a policy in enforce mode", host: mxHost, profile: "mx",
            domain: good),
        RuleCase(
            rule: "MP-MTASTS-MISSING", fires: false, why: "the TXT lookup failed: unknown, not missing", host: mxHost,
            profile: "mx", domain: with(MTASTSObservation(lookup: .servfail))),
        RuleCase(
            rule: "MP-MTASTS-RECORD-INVALID", fires: true, why: "two v=STSv1 records", host: mxHost,
            domain: with(
                sts(
                    nil, records: ["v=STSv1; id=1", "v=STSv1; id=2"],
                    problems: ["2 TXT records begin with v=STSv1"]))),
        RuleCase(
            rule: "MP-MTASTS-RECORD-INVALID", fires: false, why: "one valid record", host: mxHost, domain: good),
        RuleCase(
            rule: "MP-MTASTS-POLICY-UNAVAILABLE", fires: true, why: "the policy URL redirects", host: mxHost,
            domain: with(sts(policy(outcome: .redirected)))),
        RuleCase(
            rule: "MP-MTASTS-POLICY-UNAVAILABLE", fires: false, why: "the policy was fetched", host: mxHost,
            domain: good),
        RuleCase(
            rule: "MP-MTASTS-POLICY-INVALID", fires: true, why: "no max_age", host: mxHost,
            domain: with(sts(policy(problems: ["no max_age field"])))),
        RuleCase(
            rule: "MP-MTASTS-POLICY-INVALID", fires: false, why: "a valid policy", host: mxHost, domain: good),
        RuleCase(
            rule: "MP-MTASTS-NOT-ENFORCED", fires: true, why: "mode testing", host: mxHost,
            domain: with(sts(policy(.testing)))),
        RuleCase(
            rule: "MP-MTASTS-NOT-ENFORCED", fires: true, why: "mode none", host: mxHost,
            domain: with(sts(policy(MTASTSPolicyFetch.Mode.none, mx: [])))),
        RuleCase(
            rule: "MP-MTASTS-NOT-ENFORCED", fires: false, why: "mode enforce", host: mxHost, domain: good),
        RuleCase(
            rule: "MP-MTASTS-MAX-AGE-SHORT", fires: true, why: "max_age of an hour", host: mxHost,
            domain: with(sts(policy(maxAge: 3600)))),
        RuleCase(
            rule: "MP-MTASTS-MAX-AGE-SHORT", fires: false, why: "max_age of a week", host: mxHost, domain: good),
        RuleCase(
            rule: "MP-MTASTS-MX-NOT-COVERED", fires: true, why: "the policy lists another MX", host: mxHost,
            domain: with(sts(policy(mx: ["mx.example.net"])))),
        RuleCase(
            rule: "MP-MTASTS-MX-NOT-COVERED", fires: false, why: "a wildcard covers the MX", host: mxHost,
            domain: with(sts(policy(mx: ["*.example.org"])))),
        RuleCase(
            rule: "MP-MTASTS-MX-NOT-COVERED", fires: false, why: "mode none asks nothing of the MX", host: mxHost,
            domain: with(sts(policy(MTASTSPolicyFetch.Mode.none, mx: ["mx.example.net"])))),
        RuleCase(
            rule: "MP-MTASTS-MX-CERT-INVALID", fires: true, why: "port 25's certificate does not name the MX",
            host: wrongName, domain: good),
        RuleCase(
            rule: "MP-MTASTS-MX-CERT-INVALID", fires: true, why: "port 25 offers no STARTTLS", host: noTLS,
            domain: good),
        RuleCase(
            rule: "MP-MTASTS-MX-CERT-INVALID", fires: false, why: "a valid certificate for the MX name", host: mxHost,
            domain: good),
        RuleCase(
            rule: "MP-MTASTS-MX-CERT-INVALID", fires: false, why: "no policy, so no promise to keep",
            host: wrongName, domain: with(sts(nil, records: []))),
        RuleCase(
            rule: "MP-TLSRPT-MISSING", fires: true, why: "no _smtp._tls record, under the mx profile", host: mxHost,
            profile: "mx", domain: with(sts(policy()), TLSRPTObservation(lookup: .nxdomain))),
        RuleCase(
            rule: "MP-TLSRPT-MISSING", fires: false, why: "a record with a rua", host: mxHost, profile: "mx",
            domain: good),
        RuleCase(
            rule: "MP-TLSRPT-INVALID", fires: true, why: "a rua over http", host: mxHost,
            domain: with(
                sts(policy()),
                TLSRPTObservation(
                    lookup: .ok, records: ["v=TLSRPTv1; rua=http://example.org/"],
                    problems: ["rua 'http://example.org/' is not a mailto: address or an https: URI"]))),
        RuleCase(rule: "MP-TLSRPT-INVALID", fires: false, why: "a valid record", host: mxHost, domain: good),
        RuleCase(
            rule: "MP-DANE-TLSA-MISMATCH", fires: true, why: "3 1 1 of another key", host: daneHost,
            domain: dane([eeOther])),
        RuleCase(
            rule: "MP-DANE-TLSA-MISMATCH", fires: true, why: "TLSA, but port 25 offers no STARTTLS", host: noTLS,
            domain: dane([eeMatch])),
        RuleCase(
            rule: "MP-DANE-TLSA-MISMATCH", fires: false, why: "3 1 1 of the leaf's key (beside a stale one)",
            host: daneHost, domain: dane([eeOther, eeMatch])),
        RuleCase(
            rule: "MP-DANE-TLSA-MISMATCH", fires: false, why: "2 0 1 of the issuer the server sent",
            host: daneHost, domain: dane([taMatch])),
        RuleCase(
            rule: "MP-DANE-TLSA-MISMATCH", fires: true, why: "2 0 1 of the issuer, but the leaf lacks the MX name",
            host: F.host(
                F.endpoint(
                    25,
                    dialog: F.smtp(
                        starttls: F.upgraded(),
                        tls: F.tls(chain: [leaf, issuer], names: ["mx.example.org": false]))),
                names: ["mx.example.org"]), domain: dane([taMatch])),
        RuleCase(
            rule: "MP-DANE-TLSA-MISMATCH", fires: false, why: "the resolver does not validate: unknown",
            host: daneHost, domain: dane([eeOther], validates: false)),
        RuleCase(
            rule: "MP-DANE-TLSA-MISMATCH", fires: false, why: "unauthenticated records are not DANE",
            host: daneHost, domain: dane([eeOther], authenticated: false)),
        RuleCase(
            rule: "MP-DANE-TLSA-UNSIGNED", fires: true, why: "TLSA without the AD bit", host: daneHost,
            domain: dane([eeMatch], authenticated: false)),
        RuleCase(
            rule: "MP-DANE-TLSA-UNSIGNED", fires: false, why: "authenticated TLSA", host: daneHost,
            domain: dane([eeMatch])),
        RuleCase(
            rule: "MP-DANE-TLSA-UNUSABLE", fires: true, why: "only PKIX-EE(1), which SMTP ignores", host: daneHost,
            domain: dane([pkix])),
        RuleCase(
            rule: "MP-DANE-TLSA-UNUSABLE", fires: false, why: "a DANE-EE record beside it", host: daneHost,
            domain: dane([pkix, eeMatch])),
        RuleCase(
            rule: "MP-DANE-MISSING", fires: true, why: "a signed MX answer, no TLSA", host: daneHost,
            domain: dane([], lookup: .nodata)),
        RuleCase(
            rule: "MP-DANE-MISSING", fires: false, why: "an unsigned MX answer", host: daneHost,
            domain: dane([], authenticated: false, lookup: .nodata)),
        RuleCase(
            rule: "MP-MX-REFUSES-DOMAIN", fires: true, why: "RCPT postmaster@example.org refused on 25",
            host: ownDomainHost(.refused, reply: "554 5.7.1 <postmaster@example.org>: Relay access denied"),
            domain: good),
        RuleCase(
            rule: "MP-MX-REFUSES-DOMAIN", fires: false, why: "RCPT postmaster@example.org accepted",
            host: ownDomainHost(.accepted, reply: "250 2.1.5 Ok"), domain: good),
        RuleCase(
            rule: "MP-MX-REFUSES-DOMAIN", fires: false, why: "a 451 deferral is unknown, not a refusal",
            host: ownDomainHost(.unknown, reply: "451 4.3.0 try later"), domain: good),
        RuleCase(
            rule: "MP-MTASTS-MISSING", fires: false, why: "DANE on every MX does the job (mx profile)",
            host: daneHost, profile: "mx", domain: dane([eeMatch])),
    ]
}

@Suite("Domain rules")
struct DomainRuleTests {
    @Test("a domain's grade is the worse of its own findings and its hosts'; findings count toward --fail-on")
    func gradeAndVerdict() throws {
        let host = F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())), names: ["mx.example.org"])
        let nxdomain = DomainObservation(
            name: "gone.example", status: .nxdomain,
            lookups: [.init(name: "gone.example", type: "MX", outcome: .nxdomain)])
        let healthy = DomainObservation(name: "example.org", status: .ok, hosts: ["192.0.2.10"])
        let report = try Fixture.judge([host], domains: [nxdomain, healthy])
        #expect(report.domains?[0].grade == .c && report.domains?[1].grade == report.hosts[0].grade)
        #expect(report.summary.grade == .c && report.summary.failed)
        #expect(report.summary.findingsBySeverity["high"] == 1)
        #expect(report.rules["MP-DOMAIN-NXDOMAIN"] != nil)
    }

    @Test("a waiver naming the domain (no port) waives its finding")
    func waiver() throws {
        let rules = try Fixture.builtin
        let waivers = try WaiverLoader.parse(
            try YAMLNode.parse(
                """
                waivers:
                  - host: Example.org
                    rule: MP-MX-MISSING
                    reason: parked domain
                    expires: 2099-01-01
                """, file: "waivers.yaml"), ruleSet: rules)
        let domain = DomainObservation(
            name: "example.org", status: .ok, lookups: [.init(name: "example.org", type: "MX", outcome: .nodata)])
        let report = try Fixture.judge([], waivers: waivers, domains: [domain])
        #expect(report.domains?[0].findings.map(\.waived) == [true])
        #expect(report.summary.waivedFindings == 1 && !report.summary.failed)
        #expect(report.waivers.first?.matched == 1)
    }
}

/// Port 25 of the MX after the own-domain question was answered `outcome`.
func ownDomainHost(_ outcome: ProbeOutcome, reply: String) -> ScanReport.Host {
    var checks = F.smtpChecks()
    checks.ownDomains = [
        SMTPAnswer(
            question: "own domain example.org", command: "RCPT TO:<postmaster@example.org>", reply: reply,
            outcome: outcome)
    ]
    return F.host(
        F.endpoint(
            25,
            dialog: F.smtp(
                starttls: F.upgraded(), tls: F.tls(names: ["mx.example.org": true]), checks: checks)),
        names: ["mx.example.org"])
}
