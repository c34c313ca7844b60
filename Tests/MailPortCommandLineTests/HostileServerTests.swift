import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// The scanner against servers that misbehave on purpose (scripts/hostile.py): the scan finishes within its bounds,
/// memory stays bounded, each endpoint is reported with what was cut, and no output carries the hostile text live.
@Suite("Hostile servers", .rootTier, .serialized)
struct HostileServerTests {
    static let listeners: [(mode: String, address: String, port: Int)] = [
        ("bigline", "127.93.0.1", 26025), ("endless", "127.93.0.2", 26025), ("random", "127.93.0.3", 26025),
        ("slowloris", "127.93.0.4", 26025), ("notag", "127.93.0.5", 26143), ("markup", "127.93.0.6", 26025),
        ("tlsgarbage", "127.93.0.7", 26993), ("tlsreset", "127.93.0.8", 26993), ("chain50", "127.93.0.9", 26993),
        ("hostilecert", "127.93.0.10", 26993), ("starttlsmute", "127.93.0.11", 26025),
    ]

    @Test("every hostile server: bounded time and memory, cuts recorded, every output inert")
    func hostileServers() async throws {
        let server = try await ScriptedServer(
            "/usr/bin/env",
            ["python3", ProjectPaths.root + "/scripts/hostile.py"]
                + Self.listeners.map { "\($0.mode)@\($0.address):\($0.port)" })
        defer { server.stop() }
        #expect(server.isReady)

        let directory = makeTemporaryDirectory()
        // GNU time reports the scanner's peak resident memory (kB) and wall time on the last line of stderr.
        let started = Date()
        let outcome = try await runProgram(
            "/usr/bin/time",
            [
                "-f", "%M %e", ProjectPaths.mailport, "scan", "127.93.0.1-127.93.0.11",
                "--ports", "26025=smtp,26143=imap,26993=imaps", "--read-timeout", "2", "--retry-pause", "0.2",
                "--format", "json,html,sarif,junit,md,prom", "--output-dir", directory, "--fail-on", "never",
            ], timeLimit: 180)
        let seconds = Date().timeIntervalSince(started)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let measured = outcome.standardError.split(separator: "\n").last?.split(separator: " ") ?? []
        let peakKB = Int(measured.first ?? "") ?? Int.max
        print("hostile servers: \(String(format: "%.1f", seconds)) s, peak RSS \(peakKB / 1024) MiB")
        #expect(seconds < 90, "bounded by read timeouts and dialog deadlines, not by the servers")
        #expect(peakKB < 200 * 1024, "peak RSS \(peakKB) kB: a 16 MiB flood and a 1 MiB line must not be held")
        #expect(!outcome.standardOutput.contains("\u{1b}") && !outcome.standardError.contains("\u{1b}"))
        #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)

        var endpoints: [String: ScanReport.Endpoint] = [:]
        for host in try latestReport(in: directory).hosts {
            for endpoint in host.endpoints where endpoint.state == .open {
                endpoints[host.address] = endpoint
            }
        }
        func violations(_ address: String) -> [String] {
            (endpoints[address]?.dialog?.violations ?? []).map(\.kind.rawValue)
        }
        func findings(_ address: String) -> [String] {
            (endpoints[address]?.findings ?? []).map(\.rule)
        }
        #expect(endpoints.count == Self.listeners.count, "every hostile endpoint is reported")
        #expect(violations("127.93.0.1").contains("line-too-long"), "1 MiB line: \(violations("127.93.0.1"))")
        #expect(
            !Set(violations("127.93.0.2")).isDisjoint(with: ["too-many-lines", "too-much-data", "dialog-too-slow"]),
            "endless reply: \(violations("127.93.0.2"))")
        #expect(
            !Set(violations("127.93.0.3")).isDisjoint(with: ["binary-data", "too-much-data", "line-too-long"]),
            "random bytes: \(violations("127.93.0.3"))")
        #expect(endpoints["127.93.0.4"]?.dialog?.complete == false, "slowloris is cut by the dialog deadline")
        #expect(endpoints["127.93.0.5"]?.dialog?.complete == false, "a tagged reply that never comes")
        #expect(endpoints["127.93.0.5"]?.dialog?.incompleteReason?.isEmpty == false)
        for address in ["127.93.0.1", "127.93.0.2", "127.93.0.3"] {
            #expect(
                findings(address).contains("MP-PROTOCOL-VIOLATION")
                    || findings(address).contains("MP-SERVICE-UNEXPECTED"),
                "\(address): \(findings(address))")
        }
        #expect(endpoints["127.93.0.6"]?.dialog?.banner?.contains("<script>alert(1)</script>") == true, "kept as data")
        for address in ["127.93.0.7", "127.93.0.8"] {
            #expect(
                endpoints[address]?.dialog?.tlsError != nil, "\(address): a broken handshake is recorded, not fatal")
        }
        let chain = endpoints["127.93.0.9"]?.dialog?.tls
        #expect(chain?.chain.count == 20 && chain?.chainCertificatesSent == 50, "50 sent, 20 kept, the cut said")
        // A handshake that times out is retried, then left incomplete: no verdict about STARTTLS from a timeout.
        let mute = try #require(endpoints["127.93.0.11"]?.dialog)
        #expect(!mute.complete && mute.attempts == 2, "\(mute.incompleteReason ?? "")")
        #expect(mute.incompleteReason?.contains("timed out") == true)
        #expect(!findings("127.93.0.11").contains("MP-STARTTLS-FAILED"), "\(findings("127.93.0.11"))")
        let hostileCertificate = endpoints["127.93.0.10"]?.dialog?.tls?.certificate
        #expect(hostileCertificate?.subject.contains("alert(1)") == true)

        for file in try FileManager.default.contentsOfDirectory(atPath: directory)
        where file.hasPrefix("latest.") || file == "index.html" {
            let text = String(
                decoding: try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)), as: UTF8.self)
            for forbidden in ["\u{1b}", "\u{07}", "\u{202e}"] {
                #expect(
                    !text.contains(forbidden),
                    "\(file) carries a raw U+\(String(forbidden.unicodeScalars.first!.value, radix: 16))")
            }
            if file == "latest.html" {
                #expect(!text.contains("<script>alert"), "markup from servers is escaped in HTML")
            }
        }
        #expect(
            try await xmlSchemaViolation(
                ofFile: directory + "/latest.junit.xml", xsd: ProjectPaths.fixtures + "/schemas/junit-10.xsd") == nil)
    }
}
