import Foundation
import MailPortCore
import MailPortDNS
import MailPortTestSupport
import Testing

/// The DNS client against the scripted resolver (scripts/dnslab.py) on loopback.
@Suite("DNS client", .serialized)
struct DNSClientTests {
    @Test("a resolver that refuses (nothing listening) hands over to the next; a silent one times out within its bound")
    func fallbackAndTimeout() async throws {
        let directory = makeTemporaryDirectory()
        let zone = directory + "/zone.json"
        try
            #"{"records": [["good.test", "MX", [10, "mx.good.test"]], ["mx.good.test", "A", "198.18.50.13"]], "drop": ["slow.test"]}"#
            .write(toFile: zone, atomically: true, encoding: .utf8)
        let server = try await ScriptedServer(
            "/usr/bin/env",
            [
                "python3", ProjectPaths.root + "/scripts/dnslab.py", zone,
                "--address", "127.94.0.53", "--port", "25353",
            ])
        defer { server.stop() }
        #expect(server.isReady)
        // 127.94.0.54:25353 has no listener: the ICMP port-unreachable ends that resolver's turn at once.
        let client = DNSClient(
            servers: [
                ResolverAddress(address: IPAddress("127.94.0.54")!, port: 25353),
                ResolverAddress(address: IPAddress("127.94.0.53")!, port: 25353),
            ],
            timeoutNanoseconds: 500_000_000, attempts: 2)
        let started = Date()
        let answers = client.lookup([DNSQuestion("good.test", .mx), DNSQuestion("slow.test", .mx)])
        let elapsed = Date().timeIntervalSince(started)
        let good = try #require(answers[DNSQuestion("good.test", .mx)])
        #expect(good.outcome == .ok && good.server?.address == IPAddress("127.94.0.53"))
        #expect(good.records.map(\.data) == [.mx(preference: 10, exchange: "mx.good.test")])
        #expect(answers[DNSQuestion("slow.test", .mx)]?.outcome == .timeout)
        // Two attempts of 0.5 s at the live resolver; the refusing one costs nothing.
        #expect(elapsed >= 0.9 && elapsed < 3, "\(elapsed) s")
    }
}
