import Foundation
import MailPortCore
import MailPortYAML
import Testing

@testable import MailPortRules

@Suite("Profiles")
struct ProfileTests {
    @Test("port 25 on a declared MX is info under baseline, and on every host under mx")
    func portTwentyFive() throws {
        let relay = F.host(F.endpoint(25, dialog: F.smtp()))
        let mx = F.host(F.endpoint(25, dialog: F.smtp()), mx: true)
        func severity(_ host: ScanReport.Host, _ profile: String) throws -> Severity? {
            Fixture.findings(try Fixture.judge([host], profile: profile)).first { $0.rule == "MP-PORT-25" }?.severity
        }
        #expect(try severity(relay, "baseline") == .medium)
        #expect(try severity(mx, "baseline") == .info)
        #expect(try severity(relay, "mx") == .info, "the mx profile treats every host as MX")
    }

    @Test("under mx, certificate problems on 25 are info; elsewhere they keep their severity")
    func mxCertificates() throws {
        let untrusted = F.tls(
            chain: [F.certificate(selfSigned: true)], verified: false, verifyError: "self-signed certificate")
        let host = F.host(
            F.endpoint(25, dialog: F.smtp(starttls: F.upgraded(untrusted), tls: untrusted)),
            F.endpoint(993, dialog: F.imap(tls: untrusted)))
        let findings = Fixture.findings(try Fixture.judge([host], profile: "mx")).filter {
            $0.rule == "MP-CERT-UNTRUSTED"
        }
        #expect(findings.map(\.severity).sorted() == [.info, .high], "25 info, 993 high: \(findings)")
        let baseline = Fixture.findings(try Fixture.judge([host])).filter { $0.rule == "MP-CERT-UNTRUSTED" }
        #expect(baseline.map(\.severity) == [.high, .high])
    }

    @Test("rfc8314 prefers 465 over 587 and rates STARTTLS ports one step worse")
    func rfc8314() throws {
        let host = F.host(
            F.endpoint(587, dialog: F.smtp(extensions: ["STARTTLS", "AUTH PLAIN"], starttls: F.upgraded())),
            F.endpoint(143, dialog: F.imap()), F.endpoint(993, dialog: F.imap(tls: F.tls())))
        let baseline = Fixture.findings(try Fixture.judge([host]))
        let strict = Fixture.findings(try Fixture.judge([host], profile: "rfc8314"))
        #expect(!baseline.contains { $0.rule == "MP-PREFER-465" })
        #expect(strict.contains { $0.rule == "MP-PREFER-465" })
        #expect(baseline.first { $0.rule == "MP-PORT-143" }?.severity == .high)
        #expect(strict.first { $0.rule == "MP-PORT-143" }?.severity == .critical)
        #expect(strict.first { $0.rule == "MP-AUTH-CLEARTEXT" }?.severity == .critical, "already at the top")
        // A 465-only submission host: baseline wants 587; rfc8314 does not.
        let implicitOnly = F.host(F.endpoint(465, dialog: F.smtp(extensions: ["AUTH PLAIN"], tls: F.tls())))
        #expect(Fixture.findings(try Fixture.judge([implicitOnly])).map(\.rule) == ["MP-PREFER-587"])
        #expect(Fixture.findings(try Fixture.judge([implicitOnly], profile: "rfc8314")).isEmpty)
        // Port 25 is server to server: not made worse.
        let relay = F.host(F.endpoint(25, dialog: F.smtp()))
        #expect(Fixture.findings(try Fixture.judge([relay], profile: "rfc8314")).first?.severity == .medium)
    }

    @Test("an unknown profile is an input error naming the known ones")
    func unknownProfile() {
        #expect(throws: MailPortError.invalidInput("unknown profile 'strict'; expected one of: baseline, mx, rfc8314"))
        {
            try RuleEngine(ruleSet: try Fixture.builtin, profile: "strict")
        }
    }

    @Test("a rules file extends a profile and overrides severities, switches and parameters")
    func userProfile() throws {
        let ruleSet = try RuleLoader.load(layers: [
            BuiltinRuleFiles.files,
            [
                (
                    "corp.yaml",
                    """
                    profiles:
                      - id: corp
                        extends: mx
                        disable: [MP-BANNER-DISCLOSURE]
                        severities: {MP-PORT-143: critical}
                        parameters:
                          MP-CERT-EXPIRING: {days: 60}
                    """
                )
            ],
        ])
        let host = F.host(
            F.endpoint(143, dialog: F.imap(tls: nil)),
            F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(notAfter: 45)]))),
            F.endpoint(25, dialog: F.smtp(banner: "mx ESMTP Exim 4.96")))
        let findings = Fixture.findings(try Fixture.judge([host], profile: "corp", ruleSet: ruleSet))
        #expect(findings.first { $0.rule == "MP-PORT-143" }?.severity == .critical)
        #expect(findings.contains { $0.rule == "MP-CERT-EXPIRING" }, "45 days left is within the profile's 60")
        #expect(!findings.contains { $0.rule == "MP-BANNER-DISCLOSURE" })
        #expect(findings.first { $0.rule == "MP-PORT-25" }?.severity == .info, "inherited from mx")
        let plain = Fixture.findings(try Fixture.judge([host], ruleSet: ruleSet))
        #expect(!plain.contains { $0.rule == "MP-CERT-EXPIRING" }, "baseline keeps 30 days")
    }
}

@Suite("Waivers and the verdict")
struct WaiverTests {
    static func waivers(_ yaml: String) throws -> [Waiver] {
        try WaiverLoader.parse(try YAMLNode.parse(yaml, file: "waivers.yaml"), ruleSet: try Fixture.builtin)
    }

    static let legacy = F.host(
        F.endpoint(143, dialog: F.imap()), F.endpoint(993, dialog: F.imap(tls: F.tls())), address: "192.0.2.77")

    @Test("an active waiver keeps the finding, marked, out of the counts and the verdict")
    func active() throws {
        let list = try Self.waivers(
            """
            waivers:
              - host: 192.0.2.77
                port: 143
                rule: MP-PORT-143
                reason: legacy scanner appliance, ticket SEC-1234
                expires: 2026-12-31
            """)
        let report = try Fixture.judge([Self.legacy], waivers: list)
        let finding = try #require(Fixture.findings(report).first { $0.rule == "MP-PORT-143" })
        #expect(
            finding.waived && finding.waiverReason == "legacy scanner appliance, ticket SEC-1234"
                && finding.waiverExpires == "2026-12-31")
        #expect(report.summary.findingsBySeverity["high"] == 0 && report.summary.waivedFindings == 1)
        #expect(!report.summary.failed)
        // Nothing counts, but 143 is an open plaintext-start port: A, not A+.
        #expect(report.hosts[0].grade == .a)
        #expect(report.waivers.first?.status == .active && report.waivers.first?.matched == 1)
    }

    @Test("an expired waiver covers nothing and is itself reported")
    func expired() throws {
        let list = try Self.waivers(
            """
            waivers:
              - {host: 192.0.2.77, rule: MP-PORT-143, reason: until migration, expires: 2026-05-31}
            """)
        let report = try Fixture.judge([Self.legacy], waivers: list)
        let findings = Fixture.findings(report)
        #expect(findings.first { $0.rule == "MP-PORT-143" }?.waived == false)
        let expired = try #require(findings.first { $0.rule == "MP-WAIVER-EXPIRED" })
        #expect(expired.evidence.contains("2026-05-31") && expired.evidence.contains("MP-PORT-143"))
        #expect(report.summary.failed && report.waivers.first?.status == .expired)
    }

    @Test("a waiver holds through its expiry day")
    func expiryDay() throws {
        let list = try Self.waivers("waivers: [{host: 192.0.2.77, rule: MP-PORT-143, reason: r, expires: 2026-06-01}]")
        #expect(list[0].isActive(at: Fixture.now.addingTimeInterval(86_399)))
        #expect(!list[0].isActive(at: Fixture.now.addingTimeInterval(86_400)))
    }

    @Test("waivers by CIDR and by name; other hosts, ports and rules stay counted")
    func matching() throws {
        let list = try Self.waivers(
            """
            waivers:
              - {host: 192.0.2.64/26, rule: MP-PORT-143, reason: lab net, expires: 2027-01-01}
              - {host: mail.example.org, port: 25, rule: MP-PORT-25, reason: the MX, expires: 2027-01-01}
            """)
        let named = F.host(
            F.endpoint(25, dialog: F.smtp()), F.endpoint(587, dialog: F.smtp()), address: "198.51.100.5",
            names: ["MAIL.example.org"])
        let outside = F.host(
            F.endpoint(143, dialog: F.imap()), F.endpoint(993, dialog: F.imap(tls: F.tls())), address: "192.0.2.200")
        let report = try Fixture.judge([Self.legacy, named, outside], waivers: list)
        let byHost = Dictionary(
            uniqueKeysWithValues: report.hosts.map { ($0.address, $0.endpoints.flatMap(\.findings)) })
        #expect(byHost["192.0.2.77"]?.first { $0.rule == "MP-PORT-143" }?.waived == true, "inside the /26")
        #expect(byHost["192.0.2.200"]?.first { $0.rule == "MP-PORT-143" }?.waived == false, "outside the /26")
        #expect(byHost["198.51.100.5"]?.first { $0.rule == "MP-PORT-25" }?.waived == true, "by name, any case")
    }

    @Test("hosts judged in parts and merged in order give the report judged in one pass: counts, waivers, grades")
    func partsMerged() throws {
        let list = try Self.waivers(
            """
            waivers:
              - {host: 192.0.2.64/26, rule: MP-PORT-143, reason: lab net, expires: 2027-01-01}
              - {host: 198.51.100.0/24, port: 25, rule: MP-PORT-25, reason: the MX, expires: 2027-01-01}
            """)
        var hosts: [ScanReport.Host] = []
        for index in 0..<12 {
            hosts.append(
                index % 3 == 0
                    ? F.host(
                        F.endpoint(25, dialog: F.smtp()), F.endpoint(587, dialog: F.smtp()),
                        address: "198.51.100.\(index)")
                    : F.host(
                        F.endpoint(143, dialog: F.imap()), F.endpoint(993, dialog: F.imap(tls: F.tls())),
                        address: "192.0.2.\(60 + index)"))
        }
        let engine = try RuleEngine(ruleSet: try Fixture.builtin, profile: "baseline")
        let facts = Fixture.report(hosts)
        let whole = engine.evaluate(facts, waivers: list, failOn: .severity(.high), now: Fixture.now)
        #expect(whole.summary.waivedFindings > 0 && whole.waivers.allSatisfy { $0.matched > 0 })
        for cut in [1, 5, 11] {
            var first = engine.startJudging(waivers: list, now: Fixture.now, domains: [])
            var second = first
            var judged = facts
            for index in hosts.indices {
                judged.hosts[index] = index < cut ? first.judge(hosts[index]) : second.judge(hosts[index])
            }
            first.merge(second)
            let split = first.finish(judged, failOn: .severity(.high))
            #expect(split.summary == whole.summary, "cut at \(cut)")
            #expect(split.waivers == whole.waivers && split.hosts.array == whole.hosts.array)
        }
    }

    @Test("--fail-on boundaries for every severity", arguments: Severity.allCases)
    func failOnBoundaries(_ worst: Severity) throws {
        // A custom rule of exactly this severity, firing on one endpoint, and nothing else enabled.
        let ruleSet = try RuleLoader.load(layers: [
            [
                (
                    "only.yaml",
                    """
                    base: none
                    grades:
                      order: [A+, A, A-, B, C, F]
                      by-severity: {critical: F, high: C, medium: B, low: A-, info: A}
                      clean: A
                      best: A+
                    profiles:
                      - id: baseline
                    rules:
                      - id: TEST-ONE
                        title: one finding
                        severity: \(worst.rawValue)
                        match: {port: 993}
                    """
                )
            ]
        ])
        let host = F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))
        for threshold in Severity.allCases {
            let report = try Fixture.judge([host], failOn: .severity(threshold), ruleSet: ruleSet)
            #expect(report.summary.failed == (worst >= threshold), "finding \(worst), --fail-on \(threshold)")
        }
        #expect(try !Fixture.judge([host], failOn: .never, ruleSet: ruleSet).summary.failed)
        #expect(
            FailThreshold("NEVER") == .never && FailThreshold("High") == .severity(.high)
                && FailThreshold("severe") == nil)
    }
}

@Suite("Grades")
struct GradeTests {
    /// The grades as labels, to compare with the scale's words.
    static func grade(_ hosts: [ScanReport.Host]) throws -> (hosts: [String?], overall: String?) {
        let report = try Fixture.judge(hosts)
        return (report.hosts.map { $0.grade?.rawValue }, report.summary.grade?.rawValue)
    }

    @Test("A+ needs no counted finding and no plaintext-start port but a TLS-required 587")
    func best() throws {
        let submission = F.endpoint(
            587, dialog: F.smtp(extensions: ["STARTTLS"], starttls: F.upgraded(), afterTLS: ["AUTH PLAIN"]))
        #expect(try Self.grade([F.host(submission, F.endpoint(993, dialog: F.imap(tls: F.tls())))]).overall == "A+")
        let mx = F.host(F.endpoint(25, dialog: F.smtp(starttls: F.upgraded())), submission, mx: true)
        #expect(try Self.grade([mx]).overall == "A", "an MX's 25 is info, but a plaintext-start port")
    }

    @Test("grade follows the worst counted finding; the overall grade is the worst host's")
    func worst() throws {
        // MP-PREFER-587:
        let low = F.host(
            F.endpoint(465, dialog: F.smtp(extensions: ["AUTH PLAIN"], tls: F.tls())), address: "192.0.2.1")
        let medium = F.host(F.endpoint(25, dialog: F.smtp(starttls: F.upgraded())), address: "192.0.2.2")  // MP-PORT-25
        let high = F.host(
            F.endpoint(143, dialog: F.imap()), F.endpoint(993, dialog: F.imap(tls: F.tls())), address: "192.0.2.3")
        let critical = F.host(F.endpoint(993, dialog: F.imap()), address: "192.0.2.4")  // MP-TLS-ABSENT
        let result = try Self.grade([low, medium, high, critical])
        #expect(result.hosts == ["A-", "B", "C", "F"])
        #expect(result.overall == "F")
        #expect(try Self.grade([low, medium]).overall == "B")
        #expect(try Self.grade([]).overall == nil, "nothing to grade")
    }

    @Test("a rule set may name its own grades; reports carry them as they are")
    func ownScale() throws {
        let ruleSet = try RuleLoader.load(layers: [
            BuiltinRuleFiles.files,
            [
                (
                    "scale.yaml",
                    """
                    grades:
                      order: [Gold, Silver, Bronze, Fail]
                      by-severity: {critical: Fail, high: Bronze, medium: Silver, low: Silver, info: Gold}
                      clean: Gold
                      best: Gold
                    """
                )
            ],
        ])
        let high = F.host(F.endpoint(143, dialog: F.imap()), F.endpoint(993, dialog: F.imap(tls: F.tls())))
        let report = try Fixture.judge([high], ruleSet: ruleSet)
        #expect(report.hosts.map { $0.grade?.rawValue } == ["Bronze"] && report.summary.grade?.rawValue == "Bronze")
        #expect(try JSONDecoder().decode(ScanReport.self, from: JSONEncoder().encode(report)) == report)
    }

    @Test("summary counts by severity and records the rules that fired")
    func summary() throws {
        let report = try Fixture.judge([F.host(F.endpoint(143, dialog: F.imap()), F.endpoint(110, dialog: F.pop3()))])
        #expect(report.summary.findingsBySeverity == ["info": 0, "low": 0, "medium": 2, "high": 2, "critical": 0])
        #expect(Set(report.rules.keys) == ["MP-PORT-143", "MP-PORT-110", "MP-PREFER-993", "MP-PREFER-995"])
        #expect(report.rules["MP-PORT-143"]?.remediation["dovecot"]?.contains("port = 0") == true)
    }
}
