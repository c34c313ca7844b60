import Foundation
import Logging
import MailPortCore
import MailPortLab
import MailPortProbe
import MailPortTestSupport
import NIOPosix
import Testing

@testable import MailPortTLS

/// Certificates made fresh for this test process by scripts/testcerts.py (root, intermediate, leaves), once: the
/// first test to ask starts the script, the others wait for the same run.
let testCertificatesMade = Task {
    let directory = makeTemporaryDirectory("testcerts")
    let outcome = try? await runProgram(
        "/usr/bin/env", ["python3", ProjectPaths.root + "/scripts/testcerts.py", directory])
    precondition(outcome?.status == 0, "scripts/testcerts.py failed: \(outcome?.standardError ?? "")")
    return directory
}

var testCertificates: String { get async { await testCertificatesMade.value } }

@Suite("Certificate facts from real handshakes", .serialized)
struct CertificateVariantTests {
    /// - Parameter weakServer: let the lab server load weak keys and signatures (OpenSSL security level 0).
    func facts(
        chain: String, key: String, address: String, names: [String], root: String = "root.pem",
        weakServer: Bool = false
    ) async throws -> TLSObservation? {
        let dir = await testCertificates
        let endpoint = LabEndpoint(
            address: address, port: 22993, behaviour: .imap(IMAPScript()),
            tls: LabTLS(
                certificateChainFile: "\(dir)/\(chain)", privateKeyFile: "\(dir)/\(key)",
                implicit: true, cipherList: weakServer ? "ALL" : nil))
        let lab = try await LoopbackLab.start([endpoint])
        defer { lab.stop() }
        let upgrader = try OpenSSLUpgrader(caFile: "\(dir)/\(root)", handshakeTimeout: .seconds(5))
        let permissive = try OpenSSLUpgrader(permissiveWithCAFile: "\(dir)/\(root)", handshakeTimeout: .seconds(5))
        return try await probeOnce(upgrader: upgrader, permissive: permissive, address: address, names: names)
    }

    @Test("a 1024-bit RSA key and a SHA-1 signature are recorded as they are")
    func weakKeyAndSignature() async throws {
        let weakKey = try #require(
            try await facts(
                chain: "rsa1024.pem", key: "rsa1024.key", address: "127.97.0.5",
                names: [], weakServer: true))
        #expect(weakKey.certificate?.keyType == "RSA" && weakKey.certificate?.keyBits == 1024)
        #expect(!weakKey.chainVerified)
        #expect(
            weakKey.verifyError == "EE certificate key too weak",
            "the standard handshake completes; verification says why")
        let sha1 = try #require(
            try await facts(
                chain: "sha1.pem", key: "sha1.key", address: "127.97.0.6", names: [],
                root: "root-rsa.pem", weakServer: true))
        #expect(sha1.certificate?.signatureAlgorithm == "sha1WithRSAEncryption")
        #expect(sha1.certificate?.keyBits == 2048)
        #expect(sha1.verifyError == "CA signature digest algorithm too weak")
        #expect(!weakKey.legacyHandshake && !sha1.legacyHandshake)
    }

    @Test("a full chain verifies; names follow RFC 6125 (wildcard only as the whole leftmost label)")
    func fullChain() async throws {
        let names = [
            "mail.test.mailport", "x.wild.test.mailport", "a.b.wild.test.mailport", "wild.test.mailport",
            "other.example.org",
        ]
        let tls = try #require(
            try await facts(chain: "chain-full.pem", key: "leaf.key", address: "127.97.0.1", names: names))
        #expect(tls.chainVerified && tls.verifyError == nil)
        #expect(tls.chain.count == 2)
        #expect(tls.chain[1].subject == "CN=MailPort Test Intermediate")
        #expect(
            tls.nameMatches == [
                "mail.test.mailport": true, "x.wild.test.mailport": true,
                "a.b.wild.test.mailport": false, "wild.test.mailport": false,
                "other.example.org": false,
            ])
        #expect(tls.certificate?.sans == ["mail.test.mailport", "*.wild.test.mailport"])
    }

    @Test("a server that leaves out its intermediate: unverified, and the missing intermediate is named as the reason")
    func missingIntermediate() async throws {
        let tls = try #require(
            try await facts(chain: "chain-leaf-only.pem", key: "leaf.key", address: "127.97.0.2", names: []))
        #expect(!tls.chainVerified)
        #expect(tls.verifyError == "unable to get local issuer certificate")
        #expect(tls.missingIntermediate)
    }

    @Test(
        "expired and not-yet-valid certificates",
        arguments: [
            ("expired", "certificate has expired"), ("future", "certificate is not yet valid"),
        ])
    func validity(variant: String, error: String) async throws {
        let address = variant == "expired" ? "127.97.0.3" : "127.97.0.4"
        let tls = try #require(
            try await facts(
                chain: "\(variant).pem", key: "\(variant).key", address: address,
                names: ["mail.test.mailport"]))
        #expect(!tls.chainVerified)
        #expect(tls.verifyError == error)
        #expect(!tls.missingIntermediate)
        #expect(tls.nameMatches == ["mail.test.mailport": true], "the name still matches; only the dates are wrong")
    }
}

/// Connects, upgrades at once (implicit TLS) and returns the handshake's facts.
func probeOnce(
    upgrader: OpenSSLUpgrader, permissive: OpenSSLUpgrader? = nil, address: String, names: [String]
)
    async throws -> TLSObservation?
{
    let prober = MailPortProbe.EndpointProber(
        options: MailPortProbe.ProbeOptions(retryPauseNanoseconds: 0, permissiveTLS: permissive), tls: upgrader,
        group: NIOPosix.MultiThreadedEventLoopGroup.singleton, logger: Logging.Logger(label: "test"))
    let observation = await prober.probe(
        MailPortProbe.ProbeTarget(
            address: IPAddress(address)!, port: PortSpec(port: 22993, service: .imaps), names: names))
    return observation.tls
}
