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
    ]
}()

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
