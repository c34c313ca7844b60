import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

/// Hosts that between them set every value a host's row and details can show: what the demo's golden page lacks
/// (SMTP questions, a client-first probe, unanswered questions, a failed handshake, a legacy-only handshake, an
/// endpoint never talked to, IPv6, new and waived findings with and without a fix) and hostile text in each.
enum EveryHostKind {
    static func report() -> ScanReport {
        var report = Hostile.report()
        report.hosts.append(contentsOf: [questioned(), discoveryOnly(), failedHandshake(), ipv6()])
        // Domains show findings in the same markup as endpoints: one with findings, one without.
        report.domains = [
            DomainObservation(
                name: "example.net", status: .ok, hosts: ["198.51.100.7", "203.0.113.99"], grade: .c,
                findings: [
                    ScanReport.Finding(
                        rule: "MP-SMTP-OPEN-RELAY", severity: .high, title: "Domain " + Hostile.script, evidence: "e")
                ]),
            DomainObservation(name: "quiet.example", status: .ok),
        ]
        report.rules["MP-SMTP-OPEN-RELAY"] = .init(
            title: "Open relay", description: "d", severity: .critical, remediation: ["postfix": "smtpd_relay"],
            references: ["RFC 5321"])
        return report
    }

    static func questioned() -> ScanReport.Host {
        var dialog = DialogObservation(
            identifiedAs: .smtp, banner: "220 mx.example.net ESMTP " + Hostile.quotes, greetingStatus: "220",
            capabilities: ["PIPELINING", "STARTTLS", "8BITMIME"], authMechanisms: [],
            starttls: StartTLSObservation(
                offered: true, attempted: true, reply: "220 go ahead", accepted: true, upgraded: true, error: nil),
            complete: false, incompleteReason: "the server closed the connection " + Hostile.script,
            transcript: [TranscriptLine(.server, "220 mx"), TranscriptLine(.client, "EHLO mailport.invalid")])
        dialog.capabilitiesAfterTLS = ["PIPELINING", "AUTH PLAIN LOGIN", Hostile.bidi]
        dialog.connections = 3
        dialog.clientFirstProbe = "EHLO mailport.invalid"
        dialog.unknownProbes = [
            UnknownProbe(probe: "TLSv1", reason: "no answer in 5 s"),
            UnknownProbe(probe: "RC4 <suites>", reason: Hostile.quotes),
        ]
        var checks = SMTPChecks(
            relayAttempts: [
                SMTPAnswer(question: "plain", command: "RCPT TO:<a@b>", reply: "554 no", outcome: .refused),
                SMTPAnswer(question: "percent hack", command: "RCPT TO:<a%b@c>", reply: "250 ok", outcome: .accepted),
            ], relay: .accepted, relayNeedsAuthentication: false,
            vrfy: SMTPAnswer(question: "VRFY", command: "VRFY root", reply: "252", outcome: .refused),
            expn: SMTPAnswer(question: "EXPN", command: "EXPN root", reply: "502", outcome: .unknown),
            recipientEnumeration: SMTPAnswer(
                question: "RCPT enumeration", command: "RCPT", reply: "550", outcome: .refused))
        checks.ownDomains = [SMTPAnswer(question: "own domain", command: "RCPT", reply: "250", outcome: .accepted)]
        dialog.smtpChecks = checks
        var tls = TLSObservation(
            negotiatedVersion: "TLSv1", cipher: "ECDHE-RSA-AES128-SHA", keyExchangeGroup: nil, certificate: nil,
            chain: [], chainVerified: true, verifyError: nil, missingIntermediate: true, nameMatches: [:])
        tls.legacyHandshake = true
        tls.versionsAccepted = ["TLSv1", "TLSv1.1"]
        tls.versionsUnknown = ["SSLv3"]
        tls.cipherClassesProbed = ["RC4", "3DES", "export"]
        tls.cipherClassesAccepted = ["3DES"]
        tls.cipherClassesUnknown = ["export"]
        dialog.tls = tls
        let findings = [
            ScanReport.Finding(
                rule: "MP-SMTP-OPEN-RELAY", severity: .critical, title: "Open relay",
                evidence: "25/smtp accepted a relay", status: .new),
            ScanReport.Finding(rule: "MP-NO-SUCH-RULE", severity: .low, title: "Unlisted rule", evidence: "e"),
            ScanReport.Finding(
                rule: "MP-SMTP-OPEN-RELAY", severity: .medium, title: "Waived", evidence: "e", waived: true,
                waiverReason: "lab", waiverExpires: "2999-12-31", status: .new),
        ]
        return .init(
            address: "198.51.100.7", names: ["mx.example.net", "mail.example.net"], declaredMX: true, grade: .f,
            endpoints: [
                .init(
                    port: 25, state: .open, stateReason: .synAck, service: .smtp, transport: .starttls, rttMs: 2,
                    dialog: dialog, findings: findings),
                .init(port: 110, state: .closed, stateReason: .reset, service: .pop3, transport: .plain, rttMs: 1),
                .init(
                    port: 143, state: .filtered, stateReason: .noResponse, service: .imap, transport: .starttls,
                    rttMs: nil),
            ])
    }

    static func discoveryOnly() -> ScanReport.Host {
        .init(
            address: "198.51.100.9", names: [], grade: nil,
            endpoints: [
                .init(
                    port: 587, state: .open, stateReason: .synAck, service: .submission, transport: .starttls, rttMs: 1)
            ])
    }

    static func failedHandshake() -> ScanReport.Host {
        var smtp = DialogObservation(
            identifiedAs: .smtp, banner: "220 ok", greetingStatus: "220", capabilities: [],
            starttls: StartTLSObservation(
                offered: false, attempted: false, reply: nil, accepted: nil, upgraded: nil, error: nil))
        smtp.tlsError = "handshake failed: " + Hostile.terminal
        var imaps = DialogObservation(
            identifiedAs: .imap, banner: nil, greetingStatus: nil, capabilities: ["IMAP4rev1"])
        var tls = TLSObservation(
            negotiatedVersion: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", keyExchangeGroup: "X25519",
            certificate: nil, chain: [], chainVerified: false, verifyError: nil, missingIntermediate: false,
            nameMatches: [:])
        tls.versionsAccepted = ["TLSv1.2", "TLSv1.3"]
        tls.cipherClassesProbed = ["RC4", "3DES"]
        imaps.tls = tls
        return .init(
            address: "198.51.100.10", names: [Hostile.script], grade: .b,
            endpoints: [
                .init(
                    port: 587, state: .open, stateReason: .synAck, service: .submission, transport: .starttls,
                    rttMs: 1, dialog: smtp),
                .init(
                    port: 993, state: .open, stateReason: .synAck, service: .imaps, transport: .implicitTLS, rttMs: 1,
                    dialog: imaps,
                    findings: [
                        ScanReport.Finding(rule: "MP-CERT-UNTRUSTED", severity: .info, title: "t", evidence: "e")
                    ]),
            ])
    }

    static func ipv6() -> ScanReport.Host {
        .init(
            address: "2001:db8::25", names: ["v6.example.net"], grade: .aPlus,
            endpoints: [
                .init(
                    port: 465, state: .open, stateReason: .synAck, service: .submissions, transport: .implicitTLS,
                    rttMs: 1, dialog: DialogObservation(identifiedAs: .tls))
            ])
    }
}

@Suite("HTML host markup")
struct HTMLHostMarkupTests {
    /// The page of `EveryHostKind`, against its golden file (MAILPORT_UPDATE_GOLDEN=1 rewrites it: review the diff).
    @Test("every kind of host renders as its golden page: rows, details, TLS facts, questions, findings")
    func everyHostKindGolden() throws {
        let rendered = HTMLReportWriter.encode(EveryHostKind.report())
        let path = ProjectPaths.fixtures + "/golden/every-host-kind.html"
        if ProcessInfo.processInfo.environment["MAILPORT_UPDATE_GOLDEN"] == "1" {
            try Data(rendered).write(to: URL(fileURLWithPath: path))
        }
        let golden = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(
            Data(rendered) == golden, "differs from \(path); rerun with MAILPORT_UPDATE_GOLDEN=1 and review the diff")
        let page = String(decoding: rendered, as: UTF8.self)
        // The page shows what the demo's golden page never does.
        for fragment in [
            "<dt>SMTP questions</dt>", "<dt>Client-first probe</dt>", "<dt>Unanswered</dt>", "<dt>TLS handshake</dt>",
            "(only with a lax, legacy client)", "not talked to (discovery only)", "none of RC4, 3DES",
            "<span class=\"tag-new\">new</span>", "Waived until 2999-12-31", "href=\"#fix-MP-SMTP-OPEN-RELAY\"",
            "<dt>Capabilities inside TLS</dt>", "data-value=\"6-20010db8000000000000000000000025\"", "(MX)",
        ] {
            #expect(page.contains(fragment), "\(fragment)")
        }
        #expect(!page.contains(Hostile.script), "server text is escaped")
    }
}
