import MailPortCore
import MailPortRules
import Testing

/// Every built-in rule, judged on hand-written endpoint facts: at least one case where it must fire and one where
/// it must not (the "must not" cases are the ones a careless check gets wrong).
struct RuleCase: Sendable, CustomTestStringConvertible {
    var rule: String
    var fires: Bool
    var why: String
    var host: ScanReport.Host
    var profile = "baseline"
    /// For the domain rules: what DNS said (the host is then one of the domain's hosts).
    var domain: DomainObservation? = nil

    var testDescription: String { "\(rule) \(fires ? "fires" : "stays quiet"): \(why)" }
}

typealias F = Fixture

let ruleCases = endpointRuleCases + domainRuleCases

let endpointRuleCases: [RuleCase] = [
    // Ports
    RuleCase(
        rule: "MP-PORT-25", fires: true, why: "SMTP answers on 25", host: F.host(F.endpoint(25, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-PORT-25", fires: false, why: "25 is closed",
        host: F.host(F.endpoint(25, state: .closed), F.endpoint(587, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-PORT-25", fires: false, why: "25 speaks SSH (another rule's business)",
        host: F.host(F.endpoint(25, dialog: F.other(.ssh)))),
    RuleCase(
        rule: "MP-PORT-110", fires: true, why: "POP3 answers on 110", host: F.host(F.endpoint(110, dialog: F.pop3()))),
    RuleCase(
        rule: "MP-PORT-110", fires: true, why: "a mapped POP3 port counts too",
        host: F.host(F.endpoint(10110, .pop3, dialog: F.pop3()))),
    RuleCase(rule: "MP-PORT-110", fires: false, why: "POP3S only", host: F.host(F.endpoint(995, dialog: F.pop3()))),
    RuleCase(
        rule: "MP-PORT-143", fires: true, why: "open in discovery-only mode (no dialog)", host: F.host(F.endpoint(143))),
    RuleCase(
        rule: "MP-PORT-143", fires: false, why: "143 answers HTTP",
        host: F.host(F.endpoint(143, dialog: F.other(.http, banner: "HTTP/1.1 400")))),
    RuleCase(
        rule: "MP-PREFER-587", fires: true, why: "465 without 587",
        host: F.host(F.endpoint(465, dialog: F.smtp(extensions: ["AUTH PLAIN"])))),
    RuleCase(
        rule: "MP-PREFER-587", fires: true, why: "AUTH on 25 without 587",
        host: F.host(
            F.endpoint(
                25, dialog: F.smtp(extensions: ["STARTTLS"], starttls: F.upgraded(), afterTLS: ["AUTH PLAIN LOGIN"])))),
    RuleCase(
        rule: "MP-PREFER-587", fires: false, why: "465 and 587",
        host: F.host(F.endpoint(465, dialog: F.smtp()), F.endpoint(587, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-PREFER-587", fires: false, why: "a plain MX without AUTH",
        host: F.host(F.endpoint(25, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-PREFER-465", fires: true, why: "587 without 465 under rfc8314",
        host: F.host(F.endpoint(587, dialog: F.smtp())), profile: "rfc8314"),
    RuleCase(
        rule: "MP-PREFER-465", fires: false, why: "587 without 465 under baseline (off)",
        host: F.host(F.endpoint(587, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-PREFER-465", fires: false, why: "587 and 465 under rfc8314",
        host: F.host(F.endpoint(587, dialog: F.smtp()), F.endpoint(465, dialog: F.smtp())), profile: "rfc8314"),
    RuleCase(
        rule: "MP-PREFER-993", fires: true, why: "143 without 993", host: F.host(F.endpoint(143, dialog: F.imap()))),
    RuleCase(
        rule: "MP-PREFER-993", fires: false, why: "143 and 993",
        host: F.host(F.endpoint(143, dialog: F.imap()), F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    RuleCase(
        rule: "MP-PREFER-995", fires: true, why: "110 without 995", host: F.host(F.endpoint(110, dialog: F.pop3()))),
    RuleCase(
        rule: "MP-PREFER-995", fires: false, why: "110 and 995",
        host: F.host(F.endpoint(110, dialog: F.pop3()), F.endpoint(995, dialog: F.pop3()))),
    // STARTTLS and credentials
    RuleCase(
        rule: "MP-STARTTLS-MISSING", fires: true, why: "EHLO lists no STARTTLS",
        host: F.host(F.endpoint(587, dialog: F.smtp(extensions: ["PIPELINING"])))),
    RuleCase(
        rule: "MP-STARTTLS-MISSING", fires: true, why: "POP3 CAPA without STLS",
        host: F.host(F.endpoint(110, dialog: F.pop3(capabilities: ["TOP", "USER"])))),
    RuleCase(
        rule: "MP-STARTTLS-MISSING", fires: false, why: "EHLO refused, HELO used: extensions unknown",
        host: F.host(F.endpoint(25, dialog: F.smtp(extensions: [], usedHELO: true)))),
    RuleCase(
        rule: "MP-STARTTLS-MISSING", fires: false, why: "421 busy: dialog incomplete",
        host: F.host(F.endpoint(25, dialog: F.smtp(extensions: [], complete: false)))),
    RuleCase(
        rule: "MP-STARTTLS-MISSING", fires: false, why: "STARTTLS offered",
        host: F.host(F.endpoint(587, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-STARTTLS-MISSING", fires: false, why: "implicit TLS port",
        host: F.host(F.endpoint(465, dialog: F.smtp(extensions: ["AUTH PLAIN"], tls: F.tls())))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: true, why: "SMTP AUTH before STARTTLS",
        host: F.host(
            F.endpoint(587, dialog: F.smtp(extensions: ["STARTTLS", "AUTH PLAIN LOGIN"], starttls: F.upgraded())))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: false, why: "AUTH offered only after STARTTLS",
        host: F.host(
            F.endpoint(
                587, dialog: F.smtp(extensions: ["STARTTLS"], starttls: F.upgraded(), afterTLS: ["AUTH PLAIN LOGIN"])))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: true, why: "IMAP without LOGINDISABLED",
        host: F.host(F.endpoint(143, dialog: F.imap(capabilities: ["IMAP4rev1", "STARTTLS"])))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: true, why: "IMAP with AUTH=PLAIN before STARTTLS",
        host: F.host(
            F.endpoint(143, dialog: F.imap(capabilities: ["IMAP4rev1", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN"])))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: false, why: "IMAP with LOGINDISABLED",
        host: F.host(F.endpoint(143, dialog: F.imap()))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: true, why: "POP3 USER before STLS",
        host: F.host(F.endpoint(110, dialog: F.pop3(capabilities: ["STLS", "USER"])))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: true, why: "POP3 SASL PLAIN before STLS",
        host: F.host(F.endpoint(110, dialog: F.pop3(capabilities: ["STLS", "SASL PLAIN"], sasl: ["PLAIN"])))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: false, why: "POP3 with STLS only",
        host: F.host(F.endpoint(110, dialog: F.pop3()))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: false, why: "AUTH inside implicit TLS (465)",
        host: F.host(F.endpoint(465, dialog: F.smtp(extensions: ["AUTH PLAIN"], tls: F.tls())))),
    RuleCase(
        rule: "MP-AUTH-CLEARTEXT", fires: false, why: "EHLO refused: AUTH unknown",
        host: F.host(F.endpoint(587, dialog: F.smtp(extensions: [], usedHELO: true)))),
    RuleCase(
        rule: "MP-STARTTLS-FAILED", fires: true, why: "STARTTLS answered 454",
        host: F.host(
            F.endpoint(
                587,
                dialog: F.smtp(
                    starttls: StartTLSObservation(
                        offered: true, attempted: true, reply: "454 4.7.0 TLS not available", accepted: false))))),
    RuleCase(
        rule: "MP-STARTTLS-FAILED", fires: true, why: "handshake failed after 220",
        host: F.host(
            F.endpoint(
                25,
                dialog: F.smtp(
                    starttls: StartTLSObservation(
                        offered: true, attempted: true, reply: "220 go ahead", accepted: true, upgraded: false,
                        error: "unsupported protocol"))))),
    RuleCase(
        rule: "MP-STARTTLS-FAILED", fires: false, why: "handshake completed",
        host: F.host(F.endpoint(25, dialog: F.smtp(starttls: F.upgraded())))),
    RuleCase(
        rule: "MP-STARTTLS-FAILED", fires: false, why: "not offered",
        host: F.host(F.endpoint(25, dialog: F.smtp(extensions: ["PIPELINING"])))),
    RuleCase(
        rule: "MP-STARTTLS-INJECTION", fires: true, why: "NOOP answered inside TLS",
        host: F.host(F.endpoint(25, dialog: F.smtp(starttls: F.upgraded(injection: true))))),
    RuleCase(
        rule: "MP-STARTTLS-INJECTION", fires: false, why: "pipelined NOOP dropped",
        host: F.host(F.endpoint(25, dialog: F.smtp(starttls: F.upgraded(injection: false))))),
    RuleCase(
        rule: "MP-SMTP-OPEN-RELAY", fires: true, why: "an outside recipient accepted (%-hack)",
        host: F.host(F.endpoint(25, dialog: F.smtp(checks: F.smtpChecks(relay: .accepted))))),
    RuleCase(
        rule: "MP-SMTP-OPEN-RELAY", fires: false, why: "every form refused",
        host: F.host(F.endpoint(25, dialog: F.smtp(checks: F.smtpChecks(relay: .refused))))),
    RuleCase(
        rule: "MP-SMTP-OPEN-RELAY", fires: false, why: "deferred (452): unknown, no verdict",
        host: F.host(F.endpoint(25, dialog: F.smtp(checks: F.smtpChecks(relay: .unknown))))),
    RuleCase(
        rule: "MP-SMTP-VRFY", fires: true, why: "VRFY postmaster answered 252",
        host: F.host(F.endpoint(25, dialog: F.smtp(checks: F.smtpChecks(vrfy: .accepted))))),
    RuleCase(
        rule: "MP-SMTP-VRFY", fires: false, why: "VRFY disabled (502)",
        host: F.host(F.endpoint(25, dialog: F.smtp(checks: F.smtpChecks(vrfy: .refused))))),
    RuleCase(
        rule: "MP-SMTP-USER-ENUMERATION", fires: true, why: "RCPT tells postmaster from an unknown user before login",
        host: F.host(F.endpoint(587, dialog: F.smtp(checks: F.smtpChecks(enumeration: .accepted))))),
    RuleCase(
        rule: "MP-SMTP-USER-ENUMERATION", fires: false, why: "login required first",
        host: F.host(F.endpoint(587, dialog: F.smtp(checks: F.smtpChecks(enumeration: .refused))))),
    RuleCase(
        rule: "MP-STARTTLS-INJECTION", fires: false, why: "not checked",
        host: F.host(F.endpoint(25, dialog: F.smtp(starttls: F.upgraded(injection: nil))))),
    RuleCase(
        rule: "MP-IMAP-PREAUTH", fires: true, why: "PREAUTH on 143",
        host: F.host(F.endpoint(143, dialog: F.imap(greeting: "PREAUTH")))),
    RuleCase(
        rule: "MP-IMAP-PREAUTH", fires: false, why: "OK greeting", host: F.host(F.endpoint(143, dialog: F.imap()))),
    // TLS
    RuleCase(
        rule: "MP-TLS-ABSENT", fires: true, why: "993 greets in plaintext",
        host: F.host(F.endpoint(993, dialog: F.imap()))),
    RuleCase(
        rule: "MP-TLS-ABSENT", fires: false, why: "993 inside TLS",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    RuleCase(
        rule: "MP-TLS-ABSENT", fires: false, why: "993 silent (handshake failed, nothing sent)",
        host: F.host(F.endpoint(993, dialog: DialogObservation(complete: false)))),
    RuleCase(
        rule: "MP-TLS-LEGACY-PROTOCOL", fires: true, why: "TLS 1.0 accepted",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(versions: ["TLSv1.3", "TLSv1.2", "TLSv1"]))))),
    RuleCase(
        rule: "MP-TLS-LEGACY-PROTOCOL", fires: false, why: "TLS 1.2 and 1.3 only",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    RuleCase(
        rule: "MP-TLS-NO-MODERN", fires: true, why: "only TLS 1.0 and 1.1",
        host: F.host(
            F.endpoint(993, dialog: F.imap(tls: F.tls(version: "TLSv1", versions: ["TLSv1.1", "TLSv1"], legacy: true))))
    ),
    RuleCase(
        rule: "MP-TLS-NO-MODERN", fires: false, why: "TLS 1.2 among others",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(version: "TLSv1.2", versions: ["TLSv1.2", "TLSv1"]))))),
    RuleCase(
        rule: "MP-TLS-NO-MODERN", fires: false, why: "versions not probed",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(version: "TLSv1", versions: []))))),
    RuleCase(
        rule: "MP-TLS-WEAK-CIPHER", fires: true, why: "RSA key exchange accepted",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(weak: ["no-forward-secrecy"]))))),
    RuleCase(
        rule: "MP-TLS-WEAK-CIPHER", fires: false, why: "no weak class accepted",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    // Certificates
    RuleCase(
        rule: "MP-CERT-EXPIRED", fires: true, why: "leaf expired yesterday",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(notAfter: -1)]))))),
    RuleCase(
        rule: "MP-CERT-EXPIRED", fires: true, why: "intermediate not yet valid",
        host: F.host(
            F.endpoint(
                993,
                dialog: F.imap(
                    tls: F.tls(chain: [F.certificate(), F.certificate(subject: "CN=Example CA", notBefore: 5)]))))),
    RuleCase(
        rule: "MP-CERT-EXPIRED", fires: false, why: "valid for 300 days",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    RuleCase(
        rule: "MP-CERT-EXPIRING", fires: true, why: "10 days left",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(notAfter: 10)]))))),
    RuleCase(
        rule: "MP-CERT-EXPIRING", fires: false, why: "100 days left",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(notAfter: 100)]))))),
    RuleCase(
        rule: "MP-CERT-EXPIRING", fires: false, why: "already expired (MP-CERT-EXPIRED's case)",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(notAfter: -2)]))))),
    RuleCase(
        rule: "MP-CERT-UNTRUSTED", fires: true, why: "self-signed",
        host: F.host(
            F.endpoint(
                993,
                dialog: F.imap(
                    tls: F.tls(
                        chain: [F.certificate(issuer: "CN=mail.example.org", selfSigned: true)], verified: false,
                        verifyError: "self-signed certificate"))))),
    RuleCase(
        rule: "MP-CERT-UNTRUSTED", fires: true, why: "missing intermediate",
        host: F.host(
            F.endpoint(
                993,
                dialog: F.imap(
                    tls: F.tls(
                        verified: false, verifyError: "unable to get local issuer certificate",
                        missingIntermediate: true))))),
    RuleCase(
        rule: "MP-CERT-UNTRUSTED", fires: true, why: "no certificate (anonymous cipher)",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [], verified: false))))),
    RuleCase(
        rule: "MP-CERT-UNTRUSTED", fires: false, why: "verified",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    RuleCase(
        rule: "MP-CERT-UNTRUSTED", fires: false, why: "fails only on dates (MP-CERT-EXPIRED's case)",
        host: F.host(
            F.endpoint(
                993,
                dialog: F.imap(
                    tls: F.tls(
                        chain: [F.certificate(notAfter: -1)], verified: false, verifyError: "certificate has expired")))
        )),
    RuleCase(
        rule: "MP-CERT-NAME-MISMATCH", fires: true, why: "a given name is not covered",
        host: F.host(
            F.endpoint(993, dialog: F.imap(tls: F.tls(names: ["imap.example.org": false, "mail.example.org": true]))),
            names: ["imap.example.org", "mail.example.org"])),
    RuleCase(
        rule: "MP-CERT-NAME-MISMATCH", fires: false, why: "every name covered",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(names: ["mail.example.org": true]))))),
    RuleCase(
        rule: "MP-CERT-NAME-MISMATCH", fires: false, why: "scanned by address: no names to check",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    RuleCase(
        rule: "MP-CERT-WEAK-KEY", fires: true, why: "RSA 1024",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(keyBits: 1024)]))))),
    RuleCase(
        rule: "MP-CERT-WEAK-KEY", fires: true, why: "EC 224",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(keyType: "EC", keyBits: 224)]))))),
    RuleCase(
        rule: "MP-CERT-WEAK-KEY", fires: false, why: "RSA 2048 and EC 256",
        host: F.host(
            F.endpoint(
                993,
                dialog: F.imap(
                    tls: F.tls(chain: [F.certificate(keyType: "EC", keyBits: 256), F.certificate(keyBits: 2048)]))))),
    RuleCase(
        rule: "MP-CERT-WEAK-SIGNATURE", fires: true, why: "leaf signed with SHA-1",
        host: F.host(
            F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(signature: "sha1WithRSAEncryption")]))))),
    RuleCase(
        rule: "MP-CERT-WEAK-SIGNATURE", fires: false, why: "only the self-signed root uses SHA-1",
        host: F.host(
            F.endpoint(
                993,
                dialog: F.imap(
                    tls: F.tls(chain: [
                        F.certificate(),
                        F.certificate(
                            subject: "CN=Root", issuer: "CN=Root", signature: "sha1WithRSAEncryption", selfSigned: true),
                    ]))))),
    RuleCase(
        rule: "MP-CERT-WEAK-SIGNATURE", fires: false, why: "SHA-256",
        host: F.host(F.endpoint(993, dialog: F.imap(tls: F.tls())))),
    // What answers
    RuleCase(
        rule: "MP-SERVICE-UNEXPECTED", fires: true, why: "SSH on 25",
        host: F.host(F.endpoint(25, dialog: F.other(.ssh)))),
    RuleCase(
        rule: "MP-SERVICE-UNEXPECTED", fires: true, why: "TLS on the plaintext port 143",
        host: F.host(F.endpoint(143, dialog: F.other(.tls, banner: nil)))),
    RuleCase(
        rule: "MP-SERVICE-UNEXPECTED", fires: false, why: "SMTP on 25", host: F.host(F.endpoint(25, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-SERVICE-UNEXPECTED", fires: false, why: "nothing received",
        host: F.host(F.endpoint(25, dialog: DialogObservation(unresponsive: true)))),
    RuleCase(
        rule: "MP-SERVICE-UNRESPONSIVE", fires: true, why: "no greeting",
        host: F.host(
            F.endpoint(
                25,
                dialog: DialogObservation(
                    complete: false, incompleteReason: "no greeting within 5 s", unresponsive: true)))),
    RuleCase(
        rule: "MP-SERVICE-UNRESPONSIVE", fires: false, why: "greeted", host: F.host(F.endpoint(25, dialog: F.smtp()))),
    RuleCase(
        rule: "MP-PROTOCOL-VIOLATION", fires: true, why: "over-long line cut",
        host: F.host(
            F.endpoint(
                25,
                dialog: {
                    var dialog = F.smtp()
                    dialog.violations = [ProtocolViolation(.lineTooLong, "line longer than 2048 bytes cut")]
                    return dialog
                }()))),
    RuleCase(
        rule: "MP-PROTOCOL-VIOLATION", fires: false, why: "clean dialog", host: F.host(F.endpoint(25, dialog: F.smtp()))
    ),
    RuleCase(
        rule: "MP-BANNER-DISCLOSURE", fires: true, why: "Exim with version",
        host: F.host(F.endpoint(25, dialog: F.smtp(banner: "mx ESMTP Exim 4.96 Wed, 25 Nov 2026")))),
    RuleCase(
        rule: "MP-BANNER-DISCLOSURE", fires: true, why: "Microsoft's Version:",
        host: F.host(
            F.endpoint(25, dialog: F.smtp(banner: "mx Microsoft ESMTP MAIL Service, Version: 10.0.17763.1 ready")))),
    RuleCase(
        rule: "MP-BANNER-DISCLOSURE", fires: false, why: "Postfix without version",
        host: F.host(F.endpoint(25, dialog: F.smtp(banner: "mx ESMTP Postfix (Debian/GNU)")))),
]

@Suite("Built-in rules")
struct BuiltinRuleTests {
    @Test(arguments: ruleCases)
    func ruleJudgesFixture(_ fixture: RuleCase) throws {
        let report = try Fixture.judge([fixture.host], profile: fixture.profile, domains: fixture.domain.map { [$0] })
        let fired = Fixture.findings(report).filter { $0.rule == fixture.rule }
        #expect(fired.isEmpty != fixture.fires, "\(Fixture.findings(report).map { "\($0.rule): \($0.evidence)" })")
        for finding in fired {
            #expect(try !finding.evidence.isEmpty && finding.title == Fixture.builtin.rule(fixture.rule)?.title)
        }
    }

    @Test("every built-in rule has a case where it fires and one where it must not")
    func everyRuleIsCovered() throws {
        #expect(try Fixture.builtin.rules.count > 1)
        for rule in try Fixture.builtin.rules where rule.id != "MP-WAIVER-EXPIRED" {  // WaiverTests covers that one
            #expect(ruleCases.contains { $0.rule == rule.id && $0.fires }, "\(rule.id) never fires")
            #expect(ruleCases.contains { $0.rule == rule.id && !$0.fires }, "\(rule.id) never stays quiet")
        }
    }

    @Test("VRFY is low on port 25 and medium on submission; an open relay is critical")
    func smtpQuestionSeverities() throws {
        let report = try Fixture.judge([
            F.host(
                F.endpoint(25, dialog: F.smtp(checks: F.smtpChecks(relay: .accepted, vrfy: .accepted))),
                F.endpoint(587, dialog: F.smtp(checks: F.smtpChecks(vrfy: .accepted))))
        ])
        let findings = Fixture.findings(report)
        #expect(findings.first { $0.rule == "MP-SMTP-VRFY" && $0.evidence.hasPrefix("25/") }?.severity == .low)
        #expect(findings.first { $0.rule == "MP-SMTP-VRFY" && $0.evidence.hasPrefix("587/") }?.severity == .medium)
        #expect(findings.first { $0.rule == "MP-SMTP-OPEN-RELAY" }?.severity == .critical)
        #expect(findings.first { $0.rule == "MP-SMTP-OPEN-RELAY" }?.evidence.contains("relaytest%example.org") == true)
    }

    @Test("the contract's rule table: every id exists with its default severity")
    func contractTable() throws {
        let contract: [String: Severity] = [
            "MP-PORT-25": .medium, "MP-PORT-110": .high, "MP-PORT-143": .high, "MP-PREFER-587": .low,
            "MP-PREFER-993": .medium, "MP-PREFER-995": .medium, "MP-STARTTLS-MISSING": .high,
            "MP-AUTH-CLEARTEXT": .critical, "MP-STARTTLS-FAILED": .high, "MP-STARTTLS-INJECTION": .critical,
            "MP-TLS-ABSENT": .critical, "MP-TLS-LEGACY-PROTOCOL": .high, "MP-TLS-NO-MODERN": .high,
            "MP-TLS-WEAK-CIPHER": .medium, "MP-CERT-EXPIRED": .high, "MP-CERT-EXPIRING": .medium,
            "MP-CERT-UNTRUSTED": .high, "MP-CERT-NAME-MISMATCH": .high, "MP-CERT-WEAK-KEY": .high,
            "MP-CERT-WEAK-SIGNATURE": .medium, "MP-IMAP-PREAUTH": .medium, "MP-SERVICE-UNEXPECTED": .medium,
            "MP-SERVICE-UNRESPONSIVE": .low, "MP-PROTOCOL-VIOLATION": .low, "MP-BANNER-DISCLOSURE": .info,
        ]
        for (id, severity) in contract {
            #expect(try Fixture.builtin.rule(id)?.severity == severity, "\(id)")
        }
    }

    @Test("every built-in rule says how to fix it for Postfix, Dovecot and Exim, and cites a reference")
    func remediationIsComplete() throws {
        #expect(try Fixture.builtin.rules.count > 1)
        for rule in try Fixture.builtin.rules where rule.id != "MP-WAIVER-EXPIRED" {
            for key in ["general", "postfix", "dovecot", "exim"] {
                #expect(!(rule.remediation[key] ?? "").isEmpty, "\(rule.id) lacks remediation for \(key)")
            }
            #expect(!rule.references.isEmpty, "\(rule.id) has no references")
            #expect(!rule.description.isEmpty, "\(rule.id) has no description")
        }
    }

    @Test("an unanswered extra question concludes nothing itself and takes nothing from the dialog's own facts")
    func unansweredQuestion() throws {
        var dialog = F.imap(capabilities: ["IMAP4rev1", "STARTTLS"], tls: F.tls(versions: ["TLSv1.3"]))
        dialog.unknownProbes = [
            UnknownProbe(probe: "tls-versions TLSv1.1,TLSv1,SSLv3", reason: "greeting * BYE too many connections")
        ]
        dialog.tls?.versionsUnknown = ["TLSv1.1", "TLSv1", "SSLv3"]
        dialog.dialogComplete = true
        dialog.complete = false
        let rules = Set(Fixture.findings(try Fixture.judge([F.host(F.endpoint(143, dialog: dialog))])).map(\.rule))
        #expect(rules.contains("MP-AUTH-CLEARTEXT"), "the capabilities were gathered: \(rules)")
        #expect(!rules.contains("MP-TLS-LEGACY-PROTOCOL") && !rules.contains("MP-TLS-NO-MODERN"), "\(rules)")
        // Without its dialog's facts, an endpoint is judged on none of them.
        dialog.dialogComplete = false
        let cut = Set(Fixture.findings(try Fixture.judge([F.host(F.endpoint(143, dialog: dialog))])).map(\.rule))
        #expect(!cut.contains("MP-AUTH-CLEARTEXT") && !cut.contains("MP-STARTTLS-MISSING"), "\(cut)")
    }

    static let cipherSeverities: [(String, TLSObservation, Severity?)] = [
        ("anonymous", F.tls(weak: ["anonymous", "no-forward-secrecy"]), .high),
        // Forward secrecy as SSL Labs judges it: a static-RSA fallback for old clients is low (grade A-)...
        ("fallback only", F.tls(weak: ["no-forward-secrecy"]), .low),
        // ...a static-RSA suite chosen for a modern client is high, even when the class question found nothing more.
        ("chosen by default", F.tls(version: "TLSv1.2", cipher: "AES256-GCM-SHA384", versions: ["TLSv1.2"]), .high),
        (
            "chosen by default and accepted",
            F.tls(version: "TLSv1.2", cipher: "AES128-SHA", weak: ["no-forward-secrecy"]), .high
        ),
        ("ECDHE chosen", F.tls(version: "TLSv1.2", cipher: "ECDHE-RSA-AES128-GCM-SHA256", versions: ["TLSv1.2"]), nil),
        ("the lax handshake is no modern client", F.tls(version: "TLSv1", cipher: "AES128-SHA", legacy: true), nil),
        // The other classes keep the rule's severity as a floor, whatever the fallback would say.
        ("RC4 and a static-RSA fallback", F.tls(weak: ["rc4", "no-forward-secrecy"]), .medium),
        (
            "RC4 and static RSA chosen",
            F.tls(version: "TLSv1.2", cipher: "RC4-SHA", weak: ["rc4", "no-forward-secrecy"]), .high
        ),
    ]

    @Test(
        "weak-cipher severities: anonymous, forward secrecy by default or as a fallback, the other classes",
        arguments: cipherSeverities)
    func cipherSeverity(_ name: String, _ tls: TLSObservation, _ expected: Severity?) throws {
        let report = try Fixture.judge([F.host(F.endpoint(993, dialog: F.imap(tls: tls)))])
        let finding = Fixture.findings(report).first { $0.rule == "MP-TLS-WEAK-CIPHER" }
        #expect(finding?.severity == expected, "\(name): \(finding?.evidence ?? "no finding")")
    }
}
