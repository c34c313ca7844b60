import Foundation
import Logging
import MailPortProbe
import NIOPosix
import MailPortCore
import MailPortLab
import MailPortTestSupport
import Testing

@testable import MailPortTLS

/// Certificates made fresh for this test process by scripts/testcerts.py (root, intermediate, leaves).
let testCertificates: String = {
    let directory = makeTemporaryDirectory("testcerts")
    let outcome = try? runProgram("/usr/bin/env", ["python3", ProjectPaths.root + "/scripts/testcerts.py", directory])
    precondition(outcome?.status == 0, "scripts/testcerts.py failed: \(outcome?.standardError ?? "")")
    return directory
}()

@Suite("Certificate facts from real handshakes", .serialized)
struct CertificateVariantTests {
    func facts(chain: String, key: String, address: String, names: [String]) async throws -> TLSObservation? {
        let dir = testCertificates
        let endpoint = LabEndpoint(address: address, port: 22993, behaviour: .imap(IMAPScript()),
                                   tls: LabTLS(certificateChainFile: "\(dir)/\(chain)", privateKeyFile: "\(dir)/\(key)",
                                               implicit: true))
        let lab = try await LoopbackLab.start([endpoint])
        defer { Task { await lab.shutdown() } }
        let upgrader = try OpenSSLUpgrader(caFile: "\(dir)/root.pem", handshakeTimeout: .seconds(5))
        return try await probeOnce(upgrader: upgrader, address: address, names: names)
    }

    @Test("a full chain verifies; names follow RFC 6125 (wildcard only as the whole leftmost label)")
    func fullChain() async throws {
        let names = ["mail.test.mailport", "x.wild.test.mailport", "a.b.wild.test.mailport", "wild.test.mailport",
                     "other.example.org"]
        let tls = try #require(try await facts(chain: "chain-full.pem", key: "leaf.key", address: "127.97.0.1", names: names))
        #expect(tls.chainVerified && tls.verifyError == nil)
        #expect(tls.chain.count == 2)
        #expect(tls.chain[1].subject == "CN=MailPort Test Intermediate")
        #expect(tls.nameMatches == ["mail.test.mailport": true, "x.wild.test.mailport": true,
                                    "a.b.wild.test.mailport": false, "wild.test.mailport": false,
                                    "other.example.org": false])
        #expect(tls.certificate?.sans == ["mail.test.mailport", "*.wild.test.mailport"])
    }

    @Test("a server that leaves out its intermediate: unverified, and the missing intermediate is named as the reason")
    func missingIntermediate() async throws {
        let tls = try #require(try await facts(chain: "chain-leaf-only.pem", key: "leaf.key", address: "127.97.0.2", names: []))
        #expect(!tls.chainVerified)
        #expect(tls.verifyError == "unable to get local issuer certificate")
        #expect(tls.missingIntermediate)
    }

    @Test("expired and not-yet-valid certificates", arguments: [
        ("expired", "certificate has expired"), ("future", "certificate is not yet valid"),
    ])
    func validity(variant: String, error: String) async throws {
        let address = variant == "expired" ? "127.97.0.3" : "127.97.0.4"
        let tls = try #require(try await facts(chain: "\(variant).pem", key: "\(variant).key", address: address,
                                               names: ["mail.test.mailport"]))
        #expect(!tls.chainVerified)
        #expect(tls.verifyError == error)
        #expect(!tls.missingIntermediate)
        #expect(tls.nameMatches == ["mail.test.mailport": true], "the name still matches; only the dates are wrong")
    }
}

/// Connects, upgrades at once (implicit TLS) and returns the handshake's facts.
func probeOnce(upgrader: OpenSSLUpgrader, address: String, names: [String]) async throws -> TLSObservation? {
    let prober = MailPortProbe.EndpointProber(
        options: MailPortProbe.ProbeOptions(retryPauseNanoseconds: 0), tls: upgrader,
        group: NIOPosix.MultiThreadedEventLoopGroup.singleton, logger: Logging.Logger(label: "test"))
    let observation = await prober.probe(MailPortProbe.ProbeTarget(
        address: IPAddress(address)!, port: PortSpec(port: 22993, service: .imaps), names: names))
    return observation.tls
}
