import Foundation
import MailPortCore
import MailPortRules

/// Endpoint facts written by hand, as the probes stage would record them, for the rules to judge.
enum Fixture {
    /// The instant every fixture is judged at.
    static let now = ISO8601DateFormatter().date(from: "2026-06-01T00:00:00Z")!

    static func day(_ offset: Int) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: now.addingTimeInterval(Double(offset) * 86_400))
    }

    static func smtp(
        banner: String = "mx.example.org ESMTP", extensions: [String] = ["PIPELINING", "STARTTLS"],
        starttls: StartTLSObservation? = nil, tls: TLSObservation? = nil, usedHELO: Bool = false,
        complete: Bool = true, afterTLS: [String]? = nil, checks: SMTPChecks? = nil
    ) -> DialogObservation {
        var dialog = DialogObservation(
            identifiedAs: .smtp, banner: banner, greetingStatus: "220", capabilities: extensions,
            authMechanisms: authOf(extensions), usedHELO: usedHELO,
            starttls: starttls ?? StartTLSObservation(offered: extensions.contains("STARTTLS")), complete: complete
        )
        if !complete { dialog.incompleteReason = "server busy: 421 too many connections" }
        dialog.tls = tls
        dialog.smtpChecks = checks
        if let afterTLS {
            dialog.capabilitiesAfterTLS = afterTLS
            dialog.authMechanismsAfterTLS = authOf(afterTLS)
        }
        return dialog
    }

    /// SMTP questions with the given outcomes (relay by %-hack when accepted).
    static func smtpChecks(
        relay: ProbeOutcome = .refused, vrfy: ProbeOutcome = .refused,
        enumeration: ProbeOutcome? = nil
    ) -> SMTPChecks {
        let relayAnswer = SMTPAnswer(
            question: "relay percent-hack", command: "RCPT TO:<relaytest%example.org@[192.0.2.1]>",
            reply: relay == .accepted
                ? "250 2.1.5 Ok"
                : (relay == .refused ? "554 5.7.1 Relay access denied" : "452 4.5.3 too many recipients"),
            outcome: relay)
        return SMTPChecks(
            relayAttempts: [relayAnswer], relay: relay,
            vrfy: SMTPAnswer(
                question: "VRFY postmaster", command: "VRFY postmaster",
                reply: vrfy == .accepted ? "252 2.0.0 postmaster" : "502 5.5.1 VRFY command is disabled", outcome: vrfy),
            recipientEnumeration: enumeration.map {
                SMTPAnswer(
                    question: "RCPT postmaster / unknown user", command: "RCPT TO:<postmaster@mx.example.org>",
                    reply: "250 2.1.5 Ok / 550 5.1.1 User unknown", outcome: $0)
            })
    }

    static func imap(
        greeting: String = "OK", capabilities: [String] = ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"],
        tls: TLSObservation? = nil
    ) -> DialogObservation {
        var dialog = DialogObservation(
            identifiedAs: .imap, banner: "* \(greeting) Dovecot ready.", greetingStatus: greeting,
            capabilities: capabilities,
            authMechanisms: capabilities.filter { $0.uppercased().hasPrefix("AUTH=") }.map {
                String($0.dropFirst(5)).uppercased()
            },
            starttls: StartTLSObservation(offered: capabilities.contains("STARTTLS"))
        )
        dialog.tls = tls
        return dialog
    }

    static func pop3(capabilities: [String] = ["TOP", "UIDL", "STLS"], sasl: [String] = []) -> DialogObservation {
        DialogObservation(
            identifiedAs: .pop3, banner: "+OK Dovecot ready.", greetingStatus: "+OK",
            capabilities: capabilities, authMechanisms: sasl,
            starttls: StartTLSObservation(offered: capabilities.contains("STLS")))
    }

    static func other(_ identified: IdentifiedProtocol, banner: String? = "SSH-2.0-OpenSSH_9.2") -> DialogObservation {
        DialogObservation(identifiedAs: identified, banner: banner)
    }

    static func authOf(_ extensions: [String]) -> [String] {
        extensions.filter { $0.uppercased().hasPrefix("AUTH ") }.flatMap {
            $0.split(separator: " ").dropFirst().map(String.init)
        }
    }

    static func certificate(
        subject: String = "CN=mail.example.org", issuer: String = "CN=Example CA",
        sans: [String] = ["mail.example.org"], notBefore: Int = -30, notAfter: Int = 300,
        keyType: String = "RSA", keyBits: Int = 2048,
        signature: String = "sha256WithRSAEncryption", selfSigned: Bool = false
    ) -> CertificateFacts {
        CertificateFacts(
            subject: subject, issuer: issuer, sans: sans, notBefore: day(notBefore), notAfter: day(notAfter),
            keyType: keyType, keyBits: keyBits, signatureAlgorithm: signature,
            sha256: String(repeating: "ab", count: 32), selfSigned: selfSigned)
    }

    static func tls(
        version: String = "TLSv1.3", cipher: String = "TLS_AES_256_GCM_SHA384",
        versions: [String] = ["TLSv1.3", "TLSv1.2"], weak: [String] = [],
        chain: [CertificateFacts]? = nil, verified: Bool = true, verifyError: String? = nil,
        missingIntermediate: Bool = false, names: [String: Bool] = [:], legacy: Bool = false
    ) -> TLSObservation {
        let chain = chain ?? [certificate()]
        var facts = TLSObservation(
            negotiatedVersion: version, cipher: cipher, keyExchangeGroup: "X25519",
            versionsAccepted: versions, certificate: chain.first, chain: chain,
            chainVerified: verified, verifyError: verifyError,
            missingIntermediate: missingIntermediate, nameMatches: names)
        facts.cipherClassesProbed = ["anonymous", "null", "no-forward-secrecy"]
        facts.cipherClassesAccepted = weak
        facts.legacyHandshake = legacy
        return facts
    }

    static func upgraded(_ tls: TLSObservation = Fixture.tls(), injection: Bool? = false) -> StartTLSObservation {
        var starttls = StartTLSObservation(
            offered: true, attempted: true, reply: "220 2.0.0 Ready to start TLS",
            accepted: true, upgraded: true)
        starttls.injectionAnsweredInsideTLS = injection
        return starttls
    }

    static func endpoint(
        _ port: UInt16, _ service: MailService? = nil, state: PortState = .open,
        dialog: DialogObservation? = nil
    ) -> ScanReport.Endpoint {
        let service = service ?? MailService.standard(forPort: port)!
        let transport: Transport = dialog?.starttls?.upgraded == true ? .starttls : service.expectedTransport
        return ScanReport.Endpoint(
            port: port, state: state, stateReason: state == .open ? .synAck : .reset,
            service: service, transport: transport, rttMs: 0.1, dialog: dialog)
    }

    static func host(
        _ endpoints: ScanReport.Endpoint..., address: String = "192.0.2.10", names: [String] = [],
        mx: Bool = false
    ) -> ScanReport.Host {
        ScanReport.Host(address: address, names: names, declaredMX: mx, grade: nil, endpoints: endpoints)
    }

    static func report(_ hosts: [ScanReport.Host]) -> ScanReport {
        ScanReport(
            tool: .init(version: "test"),
            scan: .init(
                startedAt: day(0), finishedAt: day(0), targets: ["192.0.2.0/24"], excludes: [],
                ports: PortSpec.defaults, profile: "baseline", mode: .connect, complete: true,
                incompleteReason: nil, seed: 1, probesPlanned: 1, probesDone: 1, discoveryOnly: false),
            summary: .init(
                hosts: 256, hostsUp: UInt64(hosts.count), hostsWithOpenPorts: UInt64(hosts.count),
                openEndpoints: 0, closedEndpoints: 0, filteredEndpoints: 0, findingsBySeverity: [:], grade: nil),
            hosts: hosts
        )
    }

    /// The built-in rules, loaded once. A rule file that does not load fails each test that uses them, with the
    /// loader's message, instead of crashing the test process.
    private static let loadedBuiltin = Result { try RuleLoader.builtin() }
    static var builtin: RuleSet { get throws { try loadedBuiltin.get() } }

    /// Judges hosts with a profile; returns the judged report.
    static func judge(
        _ hosts: [ScanReport.Host], profile: String = "baseline", waivers: [Waiver] = [],
        failOn: FailThreshold = .severity(.high), ruleSet: RuleSet? = nil,
        domains: [DomainObservation]? = nil
    ) throws -> ScanReport {
        var facts = report(hosts)
        facts.domains = domains
        return try RuleEngine(ruleSet: try ruleSet ?? Fixture.builtin, profile: profile).evaluate(
            facts, waivers: waivers, failOn: failOn, now: now)
    }

    /// Endpoint findings, then domain findings.
    static func findings(_ report: ScanReport) -> [ScanReport.Finding] {
        report.hosts.flatMap(\.endpoints).flatMap(\.findings) + (report.domains ?? []).flatMap(\.findings)
    }
}
