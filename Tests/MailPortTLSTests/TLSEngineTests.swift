import MailPortCore
import MailPortLab
import Testing

@testable import MailPortTLS

/// A client and a server engine joined in memory, bytes moved between them in chunks of `chunk` bytes.
struct EnginePair {
    let client: TLSEngine
    let server: TLSEngine

    init(clientName: String? = "mail.demo.mailport.test", caFile: String? = nil) throws {
        try self.init(
            serverContext: try Self.demoServerContext(), clientContext: try TLSContext.client(caFile: caFile),
            clientName: clientName)
    }

    init(
        serverContext: TLSContext, clientContext: TLSContext, clientName: String? = "mail.demo.mailport.test",
        resuming session: TLSSession? = nil
    ) throws {
        server = try TLSEngine(context: serverContext, role: .server)
        client = try TLSEngine(context: clientContext, role: .client, serverName: clientName, resuming: session)
    }

    static func demoServerContext(
        maximumVersion: TLSProtocolVersion? = nil, resumption: Bool = true
    ) throws -> TLSContext {
        let certificate = try DemoCertificates.write(DemoCertificates.leafCertificate, named: "leaf.pem")
        let key = try DemoCertificates.write(DemoCertificates.leafKey, named: "leaf.key")
        return try TLSContext.server(
            certificateChainFile: certificate, privateKeyFile: key, maximumVersion: maximumVersion,
            resumption: resumption)
    }

    /// Runs both handshakes to the end, moving at most `chunk` bytes per step in each direction.
    func handshake(chunk: Int) -> (TLSEngine.HandshakeStep, TLSEngine.HandshakeStep) {
        var toServer: [UInt8] = []
        var toClient: [UInt8] = []
        var clientStep = TLSEngine.HandshakeStep.needMoreData
        var serverStep = TLSEngine.HandshakeStep.needMoreData
        for _ in 0..<100_000 {
            if clientStep == .needMoreData { clientStep = client.handshake() }
            toServer += client.takeOutput()
            let a = toServer.prefix(chunk)
            server.receive(a)
            toServer.removeFirst(a.count)
            if serverStep == .needMoreData { serverStep = server.handshake() }
            toClient += server.takeOutput()
            let b = toClient.prefix(chunk)
            client.receive(b)
            toClient.removeFirst(b.count)
            if clientStep != .needMoreData && serverStep != .needMoreData && toServer.isEmpty && toClient.isEmpty {
                break
            }
        }
        return (clientStep, serverStep)
    }
}

@Suite("TLS engine over memory BIOs")
struct TLSEngineTests {
    @Test(
        "a session the server issued is resumed on a new connection; none from a server that issues none",
        arguments: [(TLSProtocolVersion.tls13, true), (.tls13, false), (.tls12, true), (.tls12, false)])
    func sessionResumption(version: TLSProtocolVersion, serverIssues: Bool) throws {
        let serverContext = try EnginePair.demoServerContext(maximumVersion: version, resumption: serverIssues)
        let clientContext = try TLSContext.client(
            caFile: try DemoCertificates.write(DemoCertificates.caCertificate, named: "ca.pem"))
        let first = try EnginePair(serverContext: serverContext, clientContext: clientContext)
        #expect(first.handshake(chunk: 16_384) == (.done, .done))
        // TLS 1.3: the ticket comes after the handshake, read with the first application data; TLS 1.2: in it.
        #expect((first.client.resumableSession != nil) == (serverIssues && version == .tls12))
        try first.server.writePlaintext(Array("220 greeting\r\n".utf8))
        first.client.receive(first.server.takeOutput())
        #expect(first.client.readPlaintext() == .plaintext(Array("220 greeting\r\n".utf8)))
        let session = first.client.resumableSession
        #expect((session != nil) == serverIssues)
        #expect(!first.client.offeredSession && !first.client.sessionReused)

        let second = try EnginePair(serverContext: serverContext, clientContext: clientContext, resuming: session)
        #expect(second.handshake(chunk: 16_384) == (.done, .done))
        #expect(second.client.offeredSession == serverIssues)
        // The server's own account: it took the session back (an abbreviated handshake, no certificate sent).
        #expect(second.server.sessionReused == serverIssues)
        #expect(second.client.sessionReused == serverIssues)
        #expect(second.client.negotiatedVersion == version.name)
        try second.client.writePlaintext(Array("EHLO x\r\n".utf8))
        second.server.receive(second.client.takeOutput())
        #expect(second.server.readPlaintext() == .plaintext(Array("EHLO x\r\n".utf8)))
    }

    @Test(
        "handshakes across arbitrary splits of the byte stream, then carries data both ways",
        arguments: [1, 2, 3, 7, 100, 517, 16_384])
    func handshakeInChunks(chunk: Int) throws {
        let pair = try EnginePair(caFile: try DemoCertificates.write(DemoCertificates.caCertificate, named: "ca.pem"))
        let (client, server) = pair.handshake(chunk: chunk)
        #expect(client == .done && server == .done)
        try pair.server.writePlaintext(Array("220 greeting\r\n".utf8))
        pair.client.receive(pair.server.takeOutput())
        #expect(pair.client.readPlaintext() == .plaintext(Array("220 greeting\r\n".utf8)))
        try pair.client.writePlaintext(Array("EHLO x\r\n".utf8))
        pair.server.receive(pair.client.takeOutput())
        #expect(pair.server.readPlaintext() == .plaintext(Array("EHLO x\r\n".utf8)))
        let facts = pair.client.observation(names: [
            "mail.demo.mailport.test", "other.example.org", "x.demo.mailport.test",
        ])
        #expect(facts.negotiatedVersion == "TLSv1.3")
        #expect(facts.chainVerified && facts.verifyError == nil && !facts.missingIntermediate)
        #expect(
            facts.nameMatches == [
                "mail.demo.mailport.test": true, "other.example.org": false, "x.demo.mailport.test": false,
            ])
        let leaf = try #require(facts.certificate)
        #expect(leaf.subject == "CN=mail.demo.mailport.test")
        #expect(leaf.issuer.contains("MailPort Demo CA"))
        #expect(leaf.sans == ["mail.demo.mailport.test", "127.77.0.2", "127.77.0.4"])
        #expect(leaf.keyType == "EC" && leaf.keyBits == 256)
        #expect(leaf.signatureAlgorithm == "ecdsa-with-SHA256")
        #expect(leaf.sha256.count == 64 && !leaf.selfSigned)
        #expect(leaf.notBefore.hasPrefix("2026-11-25T") && leaf.notAfter.hasPrefix("2036-"))
    }

    @Test("without the CA the chain does not verify, and the reason says so")
    func untrustedIssuer() throws {
        let pair = try EnginePair()
        _ = pair.handshake(chunk: 4096)
        let facts = pair.client.observation(names: [])
        #expect(!facts.chainVerified)
        #expect(facts.verifyError == "unable to get local issuer certificate")
        #expect(facts.missingIntermediate, "a non-self-signed leaf whose issuer is unknown")
    }

    @Test("a peer that closes mid-handshake fails the handshake with OpenSSL's reason, not a hang")
    func peerClosesMidHandshake() throws {
        let pair = try EnginePair()
        #expect(pair.client.handshake() == .needMoreData)
        pair.server.receive(pair.client.takeOutput())
        _ = pair.server.handshake()
        let serverFlight = pair.server.takeOutput()
        // Half of the server's flight, then the connection ends.
        pair.client.receive(serverFlight.prefix(serverFlight.count / 2))
        #expect(pair.client.handshake() == .needMoreData)
        pair.client.receiveEndOfStream()
        guard case .failed(let reason) = pair.client.handshake() else {
            Issue.record("expected a failure")
            return
        }
        #expect(!reason.isEmpty)
    }

    @Test("plaintext where TLS was expected fails fast with OpenSSL's reason")
    func plaintextInsteadOfTLS() throws {
        let pair = try EnginePair()
        _ = pair.client.handshake()
        pair.client.receive(Array("220 mail.example.org ESMTP\r\n".utf8))
        guard case .failed(let reason) = pair.client.handshake() else {
            Issue.record("expected a failure")
            return
        }
        #expect(reason.contains("wrong version number") || reason.contains("packet length too long"), "\(reason)")
    }
}
