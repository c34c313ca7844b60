import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// `scan --syn` through the real command line: the privilege check, and the whole audit after SYN discovery.
@Suite("Command line: --syn", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct SynCommandTests {
    @Test("without CAP_NET_RAW, --syn exits 3 saying what it needs, and writes nothing (no silent fallback)")
    func needsRawSockets() async throws {
        try await SandboxNamespace.with(name: "mpsynp") { sandbox in
            let directory = makeTemporaryDirectory()
            // Root without CAP_NET_RAW: dropped from the bounding set, so the exec'd scanner cannot have it.
            let outcome = try await sandbox.run(
                "/usr/bin/setpriv",
                [
                    "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", ProjectPaths.mailport,
                    "scan", "192.0.2.1", "--syn", "--output-dir", directory + "/out",
                ])
            #expect(outcome.status == 3, "\(outcome.standardError)")
            #expect(
                outcome.standardError.contains("--syn needs root or the CAP_NET_RAW capability"),
                "\(outcome.standardError)"
            )
            #expect(outcome.standardError.split(separator: "\n").count == 1)
            #expect(!FileManager.default.fileExists(atPath: directory + "/out/latest.json"))
        }
    }

    @Test("SYN discovery, then dialogs over ordinary connections: mode syn, every open port found and talked to")
    func fullAudit() async throws {
        try await NamespaceLab.with(
            name: "mpsync",
            arguments: [
                "--cidr", "198.18.46.0/26", "--live", "0.3", "--refuse", "0.2", "--unreach", "0.1", "--greet", "--seed",
                "4",
            ]
        ) { lab in
            let directory = makeTemporaryDirectory()
            let outcome = try await lab.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.46.0/26", "--syn", "--rate", "5000", "--timeout", "0.5", "--read-timeout", "2",
                    "--retry-pause", "0.2", "--output-dir", directory, "--fail-on", "never",
                ], timeLimit: 120)
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            #expect(report.scan.mode == .syn)
            // Stage timings: one dialog per open endpoint, and every stage took some (non-negative) time.
            let timings = try #require(report.scan.timings)
            #expect(timings.dialogs == lab.truth.openEndpoints.count)
            #expect(timings.discoverySeconds >= 0 && timings.dialogsSeconds >= 0 && timings.rulesSeconds >= 0)
            #expect(openEndpoints(of: report) == lab.truth.openEndpoints)
            let open = report.allEndpoints.filter { $0.state == .open }
            // Every open port was talked to; the lab greets in plaintext, so the plaintext-start ports have its banner.
            #expect(
                !open.isEmpty && open.allSatisfy { $0.dialog != nil }, "\(open.filter { $0.dialog == nil }.map(\.port))"
            )
            let plaintext = open.filter { [25, 587, 143, 110].contains($0.port) }
            #expect(
                !plaintext.isEmpty && plaintext.allSatisfy { $0.dialog?.banner?.contains("nslab ESMTP") == true },
                "\(plaintext.map { $0.dialog?.banner ?? "none" })")
        }
    }

    @Test("without --rate the SYN rate adapts (it grows from 20,000 on a clean lab); --rate N keeps N")
    func rateFromCommandLine() async throws {
        try await NamespaceLab.with(
            name: "mpsynr", arguments: ["--cidr", "198.18.64.0/20", "--live", "0.2", "--refuse", "0.1", "--seed", "5"]
        ) { lab in
            /// The rates the run's "syn discovery done" log line reports.
            func rates(_ extra: [String]) async throws -> (highest: Int, cut: String) {
                let directory = makeTemporaryDirectory()
                let outcome = try await lab.runInScanner(
                    ProjectPaths.mailport,
                    [
                        "scan", "198.18.64.0/20", "--syn", "--discovery-only", "--allow-large", "--verbose",
                        "--log-file", directory + "/log", "--output-dir", directory, "--fail-on", "never",
                    ] + extra, timeLimit: 120)
                #expect(outcome.status == 0, "\(outcome.standardError)")
                let log = try String(contentsOfFile: directory + "/log", encoding: .utf8)
                let done = try #require(log.split(separator: "\n").first { $0.contains("syn discovery done") })
                func field(_ name: String) -> String? {
                    done.split(separator: " ").first { $0.hasPrefix(name + "=") }.map {
                        String($0.dropFirst(name.count + 1))
                    }
                }
                let report = try latestReport(in: directory)
                #expect(openEndpoints(of: report) == lab.truth.openEndpoints)
                return (try #require(field("syn.highestRate").flatMap { Int($0) }), field("syn.rateCut") ?? "")
            }
            let adaptive = try await rates([])
            #expect(adaptive.highest >= 40_000, "the default rate did not grow on a clean lab")
            #expect(adaptive.cut == "never")
            let fixed = try await rates(["--rate", "30000"])
            #expect(fixed.highest == 30_000)
            #expect(fixed.cut == "never")
        }
    }
}
