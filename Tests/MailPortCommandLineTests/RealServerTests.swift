import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// The scanner against real Postfix and Dovecot from Debian (scripts/mailbed.py), one configuration per address.
@Suite(
    "Real Postfix and Dovecot", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct RealServerTests {
    struct Expected {
        var starttls: Bool
        var auth: [String]
        var capabilitiesPresent: [String] = []
        var capabilitiesAbsent: [String] = []
    }

    /// What each address is configured to do (see scripts/mailbed.py).
    static let expected: [String: [Int: Expected]] = [
        "198.18.50.10": [  // strict
            25: Expected(starttls: true, auth: []),
            587: Expected(starttls: true, auth: []),
            143: Expected(starttls: true, auth: [], capabilitiesPresent: ["STARTTLS", "LOGINDISABLED"]),
            110: Expected(starttls: true, auth: [], capabilitiesPresent: ["STLS"], capabilitiesAbsent: ["USER"]),
        ],
        "198.18.50.11": [  // lax: STARTTLS offered, but passwords accepted before it
            25: Expected(starttls: true, auth: ["PLAIN", "LOGIN"]),
            587: Expected(starttls: true, auth: ["PLAIN", "LOGIN"]),
            143: Expected(starttls: true, auth: ["PLAIN", "LOGIN"], capabilitiesAbsent: ["LOGINDISABLED"]),
            110: Expected(starttls: true, auth: ["PLAIN", "LOGIN"], capabilitiesPresent: ["STLS", "USER"]),
        ],
        "198.18.50.12": [  // plain: no TLS at all
            25: Expected(starttls: false, auth: []),
            587: Expected(starttls: false, auth: ["PLAIN", "LOGIN"]),
            143: Expected(starttls: false, auth: ["PLAIN", "LOGIN"], capabilitiesAbsent: ["LOGINDISABLED"]),
            110: Expected(
                starttls: false, auth: ["PLAIN", "LOGIN"], capabilitiesPresent: ["USER"], capabilitiesAbsent: ["STLS"]),
        ],
    ]

    @Test("every recorded fact matches the configuration of its address")
    func factsMatchConfiguration() async throws {
        try await MailBed.with(name: "mpmailt") { bed in
            let directory = makeTemporaryDirectory()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.50.10-12", "--ports", "25,587,143,110,993,995", "--output-dir", directory,
                    // Generous: the root tier runs suites side by side, and a TLS handshake starved past the read
                    // timeout leaves its question honestly unknown, which this test would read as a wrong fact.
                    "--read-timeout", "15",
                    "--ca-file", bed.certificateFile,
                ])
            #expect(
                outcome.status == 1, "the lax and plain hosts have findings at or above high: \(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            var seen = 0
            for host in report.hosts {
                let address = host.address
                for endpoint in host.endpoints {
                    let port = Int(endpoint.port)
                    guard let want = Self.expected[address]?[port] else { continue }
                    seen += 1
                    let place = "\(address):\(port)"
                    let service = [25: "smtp", 587: "smtp", 143: "imap", 110: "pop3"][port]
                    #expect(endpoint.state == .open, "\(place)")
                    let dialog = try #require(endpoint.dialog, "\(place): a dialog ran")
                    #expect(dialog.identifiedAs.rawValue == service, "\(place)")
                    #expect(dialog.complete, "\(place): \(dialog.incompleteReason ?? "")")
                    let banner = dialog.banner ?? ""
                    #expect(banner.contains(service == "smtp" ? "Postfix" : "Dovecot"), "\(place): \(banner)")
                    let starttls = dialog.starttls
                    #expect(starttls?.offered == want.starttls, "\(place)")
                    if want.starttls {
                        #expect(starttls?.accepted == true, "\(place): the server agreed to start TLS")
                        #expect(starttls?.upgraded == true, "\(place): the handshake completed")
                        #expect(endpoint.transport == .starttls, "\(place)")
                        let tls = dialog.tls
                        #expect(tls?.negotiatedVersion == "TLSv1.3", "\(place)")
                        #expect(tls?.chainVerified == true, "\(place): verified with --ca-file")
                        #expect(tls?.certificate?.subject == "CN=lab.mailport.test")
                        #expect(dialog.capabilitiesAfterTLS != nil, "\(place): capabilities asked again inside TLS")
                        #expect(
                            starttls?.injectionAnsweredInsideTLS == false,
                            "\(place): Postfix and Dovecot drop pipelined plaintext")
                        // Postfix takes back the TLS 1.3 ticket it issued the dialog; Debian's Dovecot resumes nothing
                        // (its login processes do not take sessions back), so its check runs on a full handshake.
                        #expect(
                            starttls?.injectionCheckResumed == (service == "smtp"),
                            "\(place): the check resumed the dialog's session where the server takes it back")
                    } else {
                        #expect(dialog.tls == nil, "\(place)")
                    }
                    #expect(dialog.authMechanisms == want.auth, "\(place)")
                    let capabilities = dialog.capabilities.map { $0.uppercased() }
                    for present in want.capabilitiesPresent {
                        #expect(capabilities.contains(present), "\(place) lacks \(present)")
                    }
                    for absent in want.capabilitiesAbsent {
                        #expect(!capabilities.contains(absent), "\(place) has \(absent)")
                    }
                    // Credentials are never sent: the client side of every transcript holds only these commands.
                    let sent = dialog.transcript.filter { $0.direction == .client }.map(\.text)
                    // SMTP adds its questions: VRFY/EXPN postmaster, and transactions with RFC 2606 addresses that are
                    // always reset. Never DATA: no message is ever sent.
                    let allowed = [
                        "EHLO mailport.invalid", "STARTTLS", "QUIT", "mp1 CAPABILITY", "mp2 STARTTLS", "mp3 LOGOUT",
                        "mp4 CAPABILITY", "mp5 LOGOUT", "CAPA", "STLS", "VRFY postmaster", "EXPN postmaster", "RSET",
                        "MAIL FROM:<mailport-relay-check@example.net>",
                    ]
                    #expect(!sent.isEmpty)
                    #expect(
                        sent.allSatisfy { allowed.contains($0) || $0.hasPrefix("RCPT TO:<") }, "\(place) sent \(sent)")
                    #expect(!sent.contains { $0.uppercased().hasPrefix("DATA") }, "\(place) sent DATA")
                }
            }
            #expect(seen == 12, "all three addresses × four ports are in the report")
            // The strict host offers AUTH on 587 only inside TLS (smtpd_tls_auth_only): seen after STARTTLS.
            let endpoints = try #require(report.host("198.18.50.10")).endpoints
            let submission = try #require(endpoints.first { $0.port == 587 })
            #expect(submission.dialog?.authMechanismsAfterTLS == ["PLAIN", "LOGIN"])
            // Protocol probing: the dialog's TLS 1.3, then the legacy versions. Strict Dovecot refuses the combined
            // SSLv3-TLS 1.1 hello; lax Dovecot answers it with TLS 1.1, then TLS 1.0, and refuses SSLv3.
            let lax = try #require(report.host("198.18.50.11"))
            let laxIMAPS = try #require(lax.endpoints.first { $0.port == 993 })
            #expect(laxIMAPS.dialog?.tls?.versionsAccepted == ["TLSv1.3", "TLSv1.1", "TLSv1"])
            let strictIMAPS = try #require(endpoints.first { $0.port == 993 })
            #expect(strictIMAPS.dialog?.tls?.versionsAccepted == ["TLSv1.3"])
            // The connection budget: real Postfix and Dovecot configured well cost at most 4 connections after discovery.
            let connections = strictIMAPS.dialog?.connections
            #expect((connections ?? 99) <= 4, "\(connections.map(String.init) ?? "none")")
            // Dovecot's implicit-TLS ports: the dialog runs inside TLS.
            for port: UInt16 in [993, 995] {
                let endpoint = try #require(endpoints.first { $0.port == port })
                #expect(endpoint.transport == .implicitTLS)
                #expect(endpoint.dialog?.identifiedAs == (port == 993 ? .imap : .pop3))
                #expect(endpoint.dialog?.tls?.negotiatedVersion == "TLSv1.3")
                #expect(endpoint.dialog?.complete == true, "\(port): \(endpoint.dialog?.incompleteReason ?? "")")
            }
        }
    }

    /// Rule ids each configured address must (and must not) show under the baseline profile, with the modern host
    /// declared MX. Derived from the configurations in scripts/mailbed.py, not from a previous run.
    static let expectedFindings: [String: (present: [Int: [String]], absent: [String])] = [
        "198.18.50.10": (  // strict: TLS everywhere, no passwords before it, but plaintext-start ports open
            [25: ["MP-PORT-25", "MP-SMTP-VRFY"], 143: ["MP-PORT-143"], 110: ["MP-PORT-110"]],  // Debian's default VRFY
            [
                "MP-AUTH-CLEARTEXT", "MP-STARTTLS-MISSING", "MP-STARTTLS-FAILED", "MP-CERT-UNTRUSTED", "MP-PREFER-993",
                "MP-PREFER-995", "MP-STARTTLS-INJECTION", "MP-TLS-ABSENT", "MP-SMTP-OPEN-RELAY",
                "MP-SMTP-USER-ENUMERATION",
            ]
        ),
        "198.18.50.11": (  // lax: passwords before TLS, TLS 1.0/1.1 on Dovecot
            [
                25: ["MP-PORT-25", "MP-AUTH-CLEARTEXT"], 587: ["MP-AUTH-CLEARTEXT"],
                143: ["MP-PORT-143", "MP-AUTH-CLEARTEXT", "MP-TLS-LEGACY-PROTOCOL"],
                110: ["MP-PORT-110", "MP-AUTH-CLEARTEXT", "MP-TLS-LEGACY-PROTOCOL"],
                993: ["MP-TLS-LEGACY-PROTOCOL"], 995: ["MP-TLS-LEGACY-PROTOCOL"],
            ],
            ["MP-STARTTLS-MISSING", "MP-STARTTLS-FAILED", "MP-CERT-UNTRUSTED", "MP-PREFER-993", "MP-SMTP-OPEN-RELAY"]
        ),
        "198.18.50.12": (  // plain: no TLS anywhere, an open relay
            [
                25: ["MP-PORT-25", "MP-STARTTLS-MISSING", "MP-SMTP-OPEN-RELAY"],
                587: ["MP-STARTTLS-MISSING", "MP-AUTH-CLEARTEXT", "MP-SMTP-OPEN-RELAY"],
                143: ["MP-PORT-143", "MP-STARTTLS-MISSING", "MP-AUTH-CLEARTEXT", "MP-PREFER-993"],
                110: ["MP-PORT-110", "MP-STARTTLS-MISSING", "MP-AUTH-CLEARTEXT", "MP-PREFER-995"],
            ],
            ["MP-TLS-LEGACY-PROTOCOL", "MP-CERT-UNTRUSTED", "MP-PREFER-587"]
        ),
        "198.18.50.13": (
            [25: ["MP-PORT-25"]],
            [
                "MP-PREFER-587", "MP-PREFER-993", "MP-PREFER-995", "MP-SMTP-VRFY",
                "MP-SMTP-OPEN-RELAY", "MP-SMTP-USER-ENUMERATION",
            ]
        ),  // modern, MX, VRFY off
    ]

    @Test("the rules find what each configuration gets wrong, and nothing medium or worse on the modern host")
    func findingsMatchConfiguration() async throws {
        try await MailBed.with(name: "mpmailr") { bed in
            let directory = makeTemporaryDirectory()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.50.10-13", "--ports", "25,587,465,143,110,993,995", "--output-dir", directory,
                    "--ca-file", bed.certificateFile, "--mx", "198.18.50.13", "--fail-on", "high",
                ])
            #expect(outcome.status == 1, "findings at or above high exist: \(outcome.standardError)")
            #expect(outcome.standardOutput.contains("fails --fail-on high"), "\(outcome.standardOutput)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            let hosts = report.hosts
            #expect(hosts.count == 4)
            for host in hosts {
                let address = host.address
                guard let want = Self.expectedFindings[address] else {
                    Issue.record("unexpected host \(address)")
                    continue
                }
                var all: [String] = []
                for endpoint in host.endpoints {
                    let port = Int(endpoint.port)
                    let rules = endpoint.findings.map(\.rule)
                    all += rules
                    for rule in want.present[port] ?? [] {
                        #expect(rules.contains(rule), "\(address):\(port) lacks \(rule); has \(rules)")
                    }
                }
                for rule in want.absent { #expect(!all.contains(rule), "\(address) has \(rule)") }
            }
            // The well-configured host: declared MX, so port 25 is info; nothing else counts.
            let modern = try #require(report.host("198.18.50.13"))
            #expect(modern.declaredMX)
            let modernFindings = modern.endpoints.flatMap(\.findings)
            let serious = modernFindings.filter { $0.severity >= .medium }
            #expect(serious.isEmpty, "\(serious)")
            #expect(modernFindings.contains { $0.rule == "MP-PORT-25" && $0.severity == .info })
            #expect(modern.grade?.rawValue == "A", "port 25 is plaintext-start, so not A+")
            #expect(report.host("198.18.50.12")?.grade?.rawValue == "F")
            #expect(report.summary.grade?.rawValue == "F" && report.summary.failed)
            #expect(
                report.rules["MP-AUTH-CLEARTEXT"]?.remediation["postfix"]?.contains("smtpd_tls_auth_only") == true)
        }
    }

    /// Certificate variants served by real Dovecot (993) and Postfix (465), and what must be recorded and found.
    static let certificateVariants: [String: (verified: Bool, error: String?, rules: Set<String>, postfix: Bool)] = [
        "198.18.50.20": (true, nil, [], true),  // full chain from the test CA
        // No intermediate:
        "198.18.50.21": (false, "unable to get local issuer certificate", ["MP-CERT-UNTRUSTED"], true),
        "198.18.50.22": (false, "certificate has expired", ["MP-CERT-EXPIRED"], true),
        "198.18.50.23": (false, "certificate is not yet valid", ["MP-CERT-EXPIRED"], true),
        "198.18.50.24": (false, "EE certificate key too weak", ["MP-CERT-WEAK-KEY", "MP-CERT-UNTRUSTED"], false),
        "198.18.50.25": (
            false, "CA signature digest algorithm too weak", ["MP-CERT-WEAK-SIGNATURE", "MP-CERT-UNTRUSTED"], false
        ),
        "198.18.50.26": (false, "self-signed certificate", ["MP-CERT-UNTRUSTED"], true),
    ]

    @Test(
        "certificate variants on real Dovecot and Postfix: chain, dates, key, signature facts and the rules they fire")
    func certificateVariantsOnRealServers() async throws {
        try await MailBed.with(name: "mpmailc", certs: true) { bed in
            let directory = makeTemporaryDirectory()
            let outcome = try await bed.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.50.20-26", "--ports", "993,465", "--output-dir", directory, "--ca-file",
                    bed.variantRootsFile,
                    "--fail-on", "never",
                ])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let certificateRules: Set<String> = [
                "MP-CERT-UNTRUSTED", "MP-CERT-EXPIRED", "MP-CERT-EXPIRING", "MP-CERT-WEAK-KEY",
                "MP-CERT-WEAK-SIGNATURE", "MP-CERT-NAME-MISMATCH",
            ]
            var seen = 0
            for host in try latestReport(in: directory).hosts {
                let address = host.address
                let want = try #require(Self.certificateVariants[address])
                for endpoint in host.endpoints where endpoint.state == .open {
                    let port = endpoint.port
                    let place = "\(address):\(port) (\(port == 993 ? "Dovecot" : "Postfix"))"
                    seen += 1
                    let tls = endpoint.dialog?.tls
                    #expect(tls?.chainVerified == want.verified, "\(place)")
                    #expect(tls?.verifyError == want.error, "\(place): \(tls?.verifyError ?? "none")")
                    #expect(tls?.missingIntermediate == (address == "198.18.50.21"), "\(place)")
                    let rules = Set(endpoint.findings.map(\.rule))
                    #expect(rules.intersection(certificateRules) == want.rules, "\(place): \(rules)")
                    let certificate = tls?.certificate
                    if address == "198.18.50.24" { #expect(certificate?.keyBits == 1024) }
                    if address == "198.18.50.25" {
                        #expect(certificate?.signatureAlgorithm == "sha1WithRSAEncryption")
                    }
                    if address == "198.18.50.20" {
                        #expect(tls?.chain.count == 2, "leaf and intermediate sent")
                    }
                }
            }
            let expected = Self.certificateVariants.values.reduce(0) { $0 + ($1.postfix ? 2 : 1) }
            #expect(seen == expected, "every variant on Dovecot, and on Postfix where it can load the certificate")
        }
    }
}
