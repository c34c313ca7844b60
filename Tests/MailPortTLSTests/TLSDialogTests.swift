import Logging
import MailPortCore
import MailPortLab
import MailPortProbe
import NIOCore
import NIOPosix
import Testing

@testable import MailPortTLS

/// Probes one lab endpoint with the real TLS layer.
func probeWithTLS(_ endpoint: LabEndpoint, service: MailService, names: [String] = [], trustDemoCA: Bool = true)
    async throws -> DialogObservation
{
    let lab = try await LoopbackLab.start([endpoint])
    let upgrader = try OpenSSLUpgrader(caFile: trustDemoCA ? try DemoLab.caFile() : nil, handshakeTimeout: .seconds(3))
    let prober = EndpointProber(
        options: ProbeOptions(limits: DialogLimits(readTimeoutNanoseconds: 2_000_000_000), retryPauseNanoseconds: 100_000_000),
        tls: upgrader, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
    let facts = await prober.probe(ProbeTarget(address: IPAddress(endpoint.address)!,
                                               port: PortSpec(port: endpoint.port, service: service), names: names))
    await lab.shutdown()
    return facts
}

func demoLeaf(implicit: Bool) throws -> LabTLS {
    LabTLS(certificateChainFile: try DemoCertificates.write(DemoCertificates.leafCertificate, named: "leaf.pem"),
           privateKeyFile: try DemoCertificates.write(DemoCertificates.leafKey, named: "leaf.key"), implicit: implicit)
}

@Suite("TLS dialogs against scripted servers")
struct TLSDialogTests {
    @Test("implicit TLS (IMAPS): handshake, then the IMAP dialog inside TLS")
    func implicitIMAPS() async throws {
        let facts = try await probeWithTLS(
            LabEndpoint(address: "127.96.0.1", port: 21993, behaviour: .imap(IMAPScript(capabilities: ["IMAP4rev1", "AUTH=PLAIN"])),
                        tls: try demoLeaf(implicit: true)),
            service: .imaps, names: ["mail.demo.mailport.test"])
        #expect(facts.complete, "\(facts.incompleteReason ?? "")")
        #expect(facts.identifiedAs == .imap)
        #expect(facts.tls?.negotiatedVersion == "TLSv1.3")
        #expect(facts.tls?.chainVerified == true)
        #expect(facts.tls?.nameMatches == ["mail.demo.mailport.test": true])
        #expect(facts.capabilities == ["IMAP4rev1", "AUTH=PLAIN"])
    }
}

