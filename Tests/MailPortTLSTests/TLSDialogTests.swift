import Logging
import MailPortCore
import MailPortLab
import MailPortProbe
import MailPortTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import MailPortTLS

/// Probes one lab endpoint with the real TLS layer (on the port it was bound to: port 0 takes a free one). Timeouts are generous: the lab shares the 2-thread cooperative
/// pool with the prober, and a loaded CI machine once stretched a 2 s read past its bound.
func probeWithTLS(
    _ endpoint: LabEndpoint, service: MailService, names: [String] = [], trustDemoCA: Bool = true,
    probeVersions: Bool = false, labStats: (LabConnectionStats) -> Void = { _ in }
) async throws -> DialogObservation {
    let lab = try await LoopbackLab.start([endpoint])
    let upgrader = try OpenSSLUpgrader(caFile: trustDemoCA ? try DemoLab.caFile() : nil, handshakeTimeout: .seconds(5))
    let versions = probeVersions ? ClientHelloProbe.legacyVersionQuestions(timeout: .seconds(5)) : []
    let weakCiphers = probeVersions ? WeakCipherQuestion(timeout: .seconds(5)) : nil
    let permissive =
        probeVersions
        ? try OpenSSLUpgrader(
            permissiveWithCAFile: trustDemoCA ? try DemoLab.caFile() : nil,
            handshakeTimeout: .seconds(5)) : nil
    let prober = EndpointProber(
        options: ProbeOptions(
            limits: DialogLimits(readTimeoutNanoseconds: 5_000_000_000), retryPauseNanoseconds: 100_000_000,
            legacyVersionQuestions: versions, weakCipherQuestion: weakCiphers, permissiveTLS: permissive),
        tls: upgrader, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
    let facts = await prober.probe(
        ProbeTarget(
            address: IPAddress(endpoint.address)!,
            port: PortSpec(port: lab.endpoints[0].port, service: service), names: names))
    labStats(lab.stats)
    await lab.shutdown()
    return facts
}

func demoLeaf(implicit: Bool) throws -> LabTLS {
    LabTLS(
        certificateChainFile: try DemoCertificates.write(DemoCertificates.leafCertificate, named: "leaf.pem"),
        privateKeyFile: try DemoCertificates.write(DemoCertificates.leafKey, named: "leaf.key"), implicit: implicit)
}

/// How a lab server treats TLS sessions, for the injection check's resumption.
enum ServerSessions: Sendable {
    case resumes, issuesNone, declines
}

@Suite("TLS dialogs against scripted servers")
struct TLSDialogTests {
    @Test("implicit TLS (IMAPS): handshake, then the IMAP dialog inside TLS")
    func implicitIMAPS() async throws {
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: "127.96.0.1", port: 21993,
                behaviour: .imap(IMAPScript(capabilities: ["IMAP4rev1", "AUTH=PLAIN"])),
                tls: try demoLeaf(implicit: true)),
            service: .imaps, names: ["mail.demo.mailport.test"])
        #expect(facts.complete, "\(facts.incompleteReason ?? "")")
        #expect(facts.identifiedAs == .imap)
        #expect(facts.tls?.negotiatedVersion == "TLSv1.3")
        #expect(facts.tls?.chainVerified == true)
        #expect(facts.tls?.nameMatches == ["mail.demo.mailport.test": true])
        #expect(facts.capabilities == ["IMAP4rev1", "AUTH=PLAIN"])
    }

    @Test("STARTTLS on SMTP: upgraded, TLS facts, EHLO asked again inside TLS")
    func starttlsSMTP() async throws {
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: "127.96.0.2", port: 21587,
                behaviour: .smtp(SMTPScript(extensions: ["PIPELINING", "STARTTLS", "AUTH PLAIN"])),
                tls: try demoLeaf(implicit: false)),
            service: .submission, names: ["mail.demo.mailport.test", "wrong.example.org"])
        #expect(facts.complete && facts.starttls?.upgraded == true)
        #expect(facts.tls?.chainVerified == true)
        #expect(facts.tls?.nameMatches == ["mail.demo.mailport.test": true, "wrong.example.org": false])
        #expect(facts.capabilitiesAfterTLS == ["PIPELINING", "STARTTLS", "AUTH PLAIN"])
        #expect(facts.authMechanismsAfterTLS == ["PLAIN"])
        #expect(facts.transcript.filter { $0.text == "EHLO mailport.invalid" }.count == 2)
        let sent = facts.transcript.filter { $0.direction == .client }.map(\.text)
        // Inside TLS, as a sender would: the SMTP questions (VRFY, EXPN, the relay forms, each transaction reset),
        // then QUIT. Never DATA.
        #expect(
            Array(sent.prefix(5)) == [
                "EHLO mailport.invalid", "STARTTLS", "EHLO mailport.invalid", "VRFY postmaster", "EXPN postmaster",
            ])
        // Seven relay forms (six, then one routed through the EHLO name), then (a submission port) postmaster and a
        // user that cannot exist; each transaction reset.
        #expect(
            sent.last == "QUIT" && sent.filter { $0.hasPrefix("RCPT TO:") }.count == 9
                && sent.filter { $0 == "RSET" }.count == 8, "\(sent)")
        #expect(
            facts.smtpChecks?.recipientEnumeration?.outcome == .accepted, "this lab server answers RCPT before login")
        #expect(!sent.contains { $0.uppercased().hasPrefix("DATA") })
        #expect(facts.smtpChecks?.relay == .refused)
        #expect(facts.smtpChecks?.relayNeedsAuthentication == true, "refused where AUTH is offered (inside TLS)")
    }

    @Test("a self-signed certificate is recorded as unverified, without aborting the dialog")
    func selfSigned() async throws {
        let tls = LabTLS(
            certificateChainFile: try DemoCertificates.write(DemoCertificates.selfSignedCertificate, named: "self.pem"),
            privateKeyFile: try DemoCertificates.write(DemoCertificates.selfSignedKey, named: "self.key"),
            implicit: true)
        let facts = try await probeWithTLS(
            LabEndpoint(address: "127.96.0.3", port: 21995, behaviour: .pop3(POP3Script()), tls: tls), service: .pop3s,
            names: ["legacy.demo.mailport.test"])
        #expect(
            facts.complete && facts.identifiedAs == .pop3,
            "\(facts.incompleteReason ?? "") \(facts.tlsError ?? "") \(facts.transcript.map { "\($0.direction.rawValue): \($0.text)" })"
        )
        #expect(facts.tls?.chainVerified == false)
        #expect(facts.tls?.verifyError == "self-signed certificate")
        #expect(facts.tls?.missingIntermediate == false)
        #expect(facts.tls?.certificate?.selfSigned == true)
        #expect(facts.tls?.certificate?.keyType == "RSA" && facts.tls?.certificate?.keyBits == 2048)
        #expect(facts.tls?.nameMatches == ["legacy.demo.mailport.test": true])
    }

    @Test(
        "an implicit-TLS port that answers in plaintext is audited as the plaintext dialog it is, capabilities and all")
    func plaintextOnImplicitPort() async throws {
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: "127.96.0.4", port: 21465,
                behaviour: .smtp(
                    SMTPScript(
                        greeting: [
                            "lab.mailport.test ESMTP", "a long greeting well past the 64 bytes a TLS library reads",
                        ],
                        extensions: ["PIPELINING", "AUTH PLAIN LOGIN"]))),
            service: .submissions)
        #expect(facts.identifiedAs == .smtp)
        #expect(facts.tls == nil)
        #expect(facts.tlsError != nil)
        #expect(
            facts.banner == "lab.mailport.test ESMTP\na long greeting well past the 64 bytes a TLS library reads",
            "the whole greeting")
        #expect(facts.authMechanisms == ["PLAIN", "LOGIN"], "credentials offered in clear are on record for the rules")
        #expect(facts.connections == 2, "the handshake's connection, then a plaintext one")
        #expect(facts.complete, "TLS absent is a complete fact: \(facts.incompleteReason ?? "")")
    }

    @Test(
        "a plaintext greeting on an implicit-TLS port whose second connection is refused is incomplete and retried, not complete"
    )
    func plaintextOnImplicitPortSecondConnectionRefused() async throws {
        // Accepts one connection, greets in plaintext, reads the ClientHello, then closes the listener too: every
        // later connect is refused.
        let script = """
            import socket
            server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.96.0.9", 21466)); server.listen(1); print("ready", flush=True)
            connection, _ = server.accept(); server.close()
            connection.sendall(b"220 lab.mailport.test ESMTP a greeting past the 64 bytes a TLS library reads\\r\\n")
            try:
                connection.recv(4096)
            finally:
                connection.close()
            """
        let server = try await ScriptedServer("/usr/bin/env", ["python3", "-c", script])
        defer { server.stop() }
        try #require(server.isReady)
        let upgrader = try OpenSSLUpgrader(caFile: nil, handshakeTimeout: .seconds(5))
        let prober = EndpointProber(
            options: ProbeOptions(
                limits: DialogLimits(readTimeoutNanoseconds: 5_000_000_000), retryPauseNanoseconds: 100_000_000),
            tls: upgrader, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let facts = await prober.probe(
            ProbeTarget(address: IPAddress("127.96.0.9")!, port: PortSpec(port: 21466, service: .submissions)))
        #expect(!facts.complete, "the capabilities were never read: \(facts.incompleteReason ?? "")")
        #expect(facts.attempts == 2, "retried once after the transient failure")
        #expect(facts.incompleteReason?.contains("connection failed") == true, "\(facts.incompleteReason ?? "")")
    }

    @Test(
        "legacy versions: one combined hello, and a drill-down only after an acceptance",
        arguments: [
            // The dialog's version first; then TLS 1.1 (the answer to the combined hello), TLS 1.0 (asked next), and
            // SSLv3 asked last and refused; this server also takes static RSA, so the weak-cipher question takes two
            // hellos (the second refused); then the injection check: 7 connections.
            ("127.96.1.1", TLSProtocolVersion.tls1, TLSProtocolVersion.tls12, ["TLSv1.2", "TLSv1.1", "TLSv1"], 7),
            // A modern server refuses the combined hello: dialog, legacy hello, weak-cipher hello, injection check.
            ("127.96.1.2", .tls12, .tls13, ["TLSv1.3"], 4),
            ("127.96.1.3", .tls13, .tls13, ["TLSv1.3"], 4),
        ])
    func versionProbing(
        address: String, minimum: TLSProtocolVersion, maximum: TLSProtocolVersion, expected: [String],
        connections: Int
    ) async throws {
        var tls = try demoLeaf(implicit: false)
        tls.minimumVersion = minimum
        tls.maximumVersion = maximum
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: address, port: 21587, behaviour: .smtp(SMTPScript(extensions: ["STARTTLS"])), tls: tls),
            service: .submission, probeVersions: true)
        #expect(facts.starttls?.upgraded == true)
        #expect(facts.tls?.versionsAccepted == expected)
        #expect(facts.tls?.negotiatedVersion == expected.first)
        #expect(facts.complete && facts.unknownProbes == nil, "\(facts.incompleteReason ?? "")")
        #expect(facts.connections == connections)
    }

    @Test(
        "weak cipher classes: all in one hello, then the classes still open",
        arguments: [
            // OpenSSL 3 servers still allow static-RSA suites by default: a real finding on untuned servers.
            ("127.96.3.1", nil as String?, ["no-forward-secrecy"]),
            ("127.96.3.2", "AES128-SHA:AECDH-AES128-SHA:NULL-SHA", ["anonymous", "null", "no-forward-secrecy"]),
            ("127.96.3.3", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA", ["no-forward-secrecy"]),
        ])
    func cipherClasses(address: String, serverCiphers: String?, expected: [String]) async throws {
        let tls = LabTLS(
            certificateChainFile: try DemoCertificates.write(DemoCertificates.selfSignedCertificate, named: "self.pem"),
            privateKeyFile: try DemoCertificates.write(DemoCertificates.selfSignedKey, named: "self.key"),
            implicit: true, cipherList: serverCiphers)
        let facts = try await probeWithTLS(
            LabEndpoint(address: address, port: 21465, behaviour: .smtp(SMTPScript()), tls: tls),
            service: .submissions, probeVersions: true)
        #expect(facts.tls?.negotiatedVersion == "TLSv1.3", "the standard handshake still prefers TLS 1.3")
        #expect(facts.tls?.cipherClassesProbed == ["anonymous", "null", "export", "rc4", "des", "no-forward-secrecy"])
        #expect(facts.tls?.cipherClassesAccepted == expected)
    }

    @Test("a server offering only anonymous ciphers: the standard client fails, the lax one finds no certificate")
    func anonymousOnly() async throws {
        var tls = try demoLeaf(implicit: true)
        tls.maximumVersion = .tls12
        tls.cipherList = "aNULL"
        let facts = try await probeWithTLS(
            LabEndpoint(address: "127.96.3.9", port: 21993, behaviour: .imap(IMAPScript()), tls: tls),
            service: .imaps, probeVersions: true)
        #expect(facts.tlsError != nil, "the standard handshake failed")
        #expect(facts.tls?.legacyHandshake == true)
        #expect(facts.tls?.certificate == nil && facts.tls?.chain.isEmpty == true)
        #expect(facts.tls?.verifyError == "no certificate" && facts.tls?.chainVerified == false)
        #expect(
            facts.tls?.cipher.contains("ADH") == true || facts.tls?.cipher.contains("AECDH") == true,
            "\(facts.tls?.cipher ?? "")")
        // OpenSSL's aNULL list includes AECDH-NULL-SHA, anonymous and unencrypted at once.
        #expect(facts.tls?.cipherClassesAccepted == ["anonymous", "null"])
    }

    @Test("a server that speaks only TLS 1.1 fails the standard client's handshake, and says why")
    func legacyOnlyServer() async throws {
        var tls = try demoLeaf(implicit: false)
        tls.minimumVersion = .tls11
        tls.maximumVersion = .tls11
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: "127.96.1.4", port: 21587, behaviour: .smtp(SMTPScript(extensions: ["STARTTLS"])), tls: tls),
            service: .submission, probeVersions: true)
        #expect(facts.starttls?.accepted == true && facts.starttls?.upgraded == false)
        // OpenSSL says why in its own words (here: "legacy sigalg disallowed or unsupported").
        #expect(facts.starttls?.error?.contains("SSL routines") == true, "\(facts.starttls?.error ?? "")")
        // A second, lax handshake still gathers the facts, marked as such.
        #expect(facts.tls?.legacyHandshake == true)
        #expect(facts.tls?.negotiatedVersion == "TLSv1.1")
        #expect(facts.tls?.versionsAccepted == ["TLSv1.1"])
        #expect(facts.tls?.chainVerified == true)
    }

    @Test(
        "STARTTLS injection: a server that answers pipelined plaintext inside TLS is told apart from one that does not",
        arguments: [
            // Address, vulnerable, how the server treats sessions.
            ("127.96.2.1", true, ServerSessions.resumes), ("127.96.2.2", false, .resumes),
            ("127.96.2.3", true, .issuesNone), ("127.96.2.4", false, .issuesNone),
            ("127.96.2.5", true, .declines), ("127.96.2.6", false, .declines),
        ])
    func injection(address: String, vulnerable: Bool, sessions: ServerSessions) async throws {
        var tls = try demoLeaf(implicit: false)
        tls.resumption = sessions != .issuesNone
        tls.contextPerConnection = sessions == .declines
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: address, port: 21025,
                behaviour: .smtp(SMTPScript(extensions: ["STARTTLS"], vulnerableToInjection: vulnerable)), tls: tls),
            service: .smtp, names: ["mail.demo.mailport.test"])
        #expect(facts.starttls?.upgraded == true)
        #expect(facts.starttls?.injectionAnsweredInsideTLS == vulnerable)
        // A server that issues TLS 1.3 tickets (OpenSSL's default) and takes them back has the check resume the
        // dialog's session; one that issues none, or cannot read the ticket it issued (new keys on every connection),
        // gets a full handshake and gives the same answer. The dialog's facts are those of its full handshake.
        #expect(facts.starttls?.injectionCheckResumed == (sessions == .resumes))
        #expect(facts.tls?.chainVerified == true)
        #expect(facts.tls?.certificate?.subject.contains("mail.demo.mailport.test") == true)
        #expect(facts.tls?.nameMatches == ["mail.demo.mailport.test": true])
        #expect(facts.connections == 2)
        #expect(facts.complete, "\(facts.incompleteReason ?? "")")
    }

    @Test(
        "the dialog's handshakes are full ones even with a session kept from a failed first attempt; only the check resumes"
    )
    func dialogNeverResumes() async throws {
        var handshakes = (full: 0, resumed: 0)
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: "127.96.2.7", port: 21025,
                behaviour: .smtp(SMTPScript(extensions: ["STARTTLS"], hangUpInsideTLSConnections: 1)),
                tls: try demoLeaf(implicit: false)),
            service: .smtp, names: ["mail.demo.mailport.test"],
            labStats: { handshakes = $0.tlsHandshakes("127.96.2.7") })
        // The first connection hung up inside TLS after its ticket came: the dialog ran again, with a full handshake
        // although a session was kept; then the injection check resumed it.
        #expect(facts.attempts == 2, "\(facts.incompleteReason ?? "")")
        #expect(facts.complete, "\(facts.incompleteReason ?? "")")
        #expect(facts.tls?.chainVerified == true)
        #expect(facts.starttls?.injectionCheckResumed == true)
        #expect(handshakes.full == 2 && handshakes.resumed == 1, "\(handshakes)")
    }

    @Test("a server that refuses the STARTTLS it advertised is recorded with its reply")
    func starttlsRefused() async throws {
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: "127.96.0.5", port: 21025,
                behaviour: .smtp(
                    SMTPScript(
                        extensions: ["STARTTLS"], starttlsReply: "454 4.7.0 TLS not available due to local problem"))),
            service: .smtp)
        #expect(
            facts.starttls
                == StartTLSObservation(
                    offered: true, attempted: true,
                    reply: "454 4.7.0 TLS not available due to local problem",
                    accepted: false, upgraded: nil,
                    error: "454 4.7.0 TLS not available due to local problem"))
        #expect(facts.tls == nil)
    }
}
