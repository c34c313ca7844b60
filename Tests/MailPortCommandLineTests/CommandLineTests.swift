import Foundation
import MailPortCore
import MailPortLab
import MailPortReport
import MailPortTestSupport
import Testing

/// Reads the latest JSON report of an output folder as the product reads a stored report (`JSONReportWriter.decode`, as
/// `mailport report` and `merge` do: bounded, schema version checked, every field typed). A report that does not
/// decode fails the test with the field it stopped at, instead of a forced cast crashing the test process.
func latestReport(in directory: String) throws -> ScanReport {
    let path = directory + "/latest.json"
    return try JSONReportWriter.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), fileName: path)
}

func openEndpoints(of report: ScanReport) -> Set<String> {
    Set(
        report.hosts.flatMap { host in host.endpoints.filter { $0.state == .open }.map { "\(host.address):\($0.port)" }
        })
}

extension ScanReport {
    /// Every endpoint of the report, keyed "address:port".
    var endpointsByLocation: [String: Endpoint] {
        Dictionary(
            uniqueKeysWithValues: hosts.flatMap { host in host.endpoints.map { ("\(host.address):\($0.port)", $0) } })
    }

    /// Every endpoint of every host, in report order.
    var allEndpoints: [Endpoint] { hosts.flatMap(\.endpoints) }

    /// Every finding of every endpoint, in report order.
    var allFindings: [Finding] { allEndpoints.flatMap(\.findings) }

    /// The host with this address, if the report lists it.
    func host(_ address: String) -> Host? { hosts.first { $0.address == address } }
}

/// The suites that run `mailport demo` or start the demo lab themselves: they all bind its fixed addresses
/// (127.77.0.1–6, DemoLab), so they run one at a time, while the root tier's other suites run beside them.
@Suite("Suites on the demo lab's addresses", .rootTier, .serialized)
enum DemoLabSuites {}

extension DemoLabSuites {
    @Suite("Command line: demo and output", .rootTier, .serialized)
    struct DemoCommandTests {
        @Test("mailport demo audits its loopback lab: exit 0, timestamped report and latest.json, valid schema")
        func demo() async throws {
            let directory = makeTemporaryDirectory()
            let outcome = try await runProgram(ProjectPaths.mailport, ["demo", "--output-dir", directory])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(
                outcome.standardError.isEmpty, "nothing on stderr when it is not a terminal: \(outcome.standardError)")
            #expect(outcome.standardOutput.contains("report: \(directory)/mailport-"))
            let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(files.contains("latest.json"))
            #expect(files.filter { $0.hasPrefix("mailport-") && $0.hasSuffix(".json") }.count == 1)
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            let expected = Set(try DemoLab.endpoints().map { "\($0.address):\($0.port)" })
            #expect(openEndpoints(of: report) == expected)
            #expect(report.summary.hosts == 6)
            #expect(report.summary.openEndpoints == UInt64(expected.count))
            #expect(report.summary.closedEndpoints == UInt64(6 * 7 - expected.count))
            #expect(report.scan.complete)
            #expect(!report.scan.discoveryOnly)

            // The mail dialogs ran against the lab's scripted servers.
            let endpoints = report.endpointsByLocation
            let legacySMTP = try #require(endpoints["127.77.0.3:10025"]?.dialog)
            #expect(legacySMTP.identifiedAs == .smtp)
            #expect(legacySMTP.authMechanisms == ["PLAIN", "LOGIN"])
            #expect(legacySMTP.starttls?.offered == false)
            #expect(legacySMTP.banner?.contains("Sendmail 8.12.11") == true)
            let modernSubmission = try #require(endpoints["127.77.0.2:10587"])
            #expect(modernSubmission.dialog?.starttls?.accepted == true)
            #expect(modernSubmission.dialog?.authMechanisms == [])
            let legacyIMAP = try #require(endpoints["127.77.0.3:10143"]?.dialog)
            #expect(legacyIMAP.capabilities == ["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"])
            let imaps = try #require(endpoints["127.77.0.2:10993"])
            #expect(imaps.dialog?.identifiedAs == .imap && imaps.transport == .implicitTLS)
            #expect(imaps.dialog?.tls?.chainVerified == true, "the demo trusts its demo CA")
            #expect(modernSubmission.dialog?.starttls?.upgraded == true)
            #expect(modernSubmission.transport == .starttls)
            let selfSigned = try #require(endpoints["127.77.0.5:10993"]?.dialog)
            #expect(selfSigned.tls?.verifyError == "self-signed certificate")
            let closed = try #require(endpoints["127.77.0.2:10025"])
            #expect(closed.state == .closed && closed.dialog == nil, "closed ports get no dialog")
        }

        @Test("--discovery-only stops after layer 4: states only, no dialogs")
        func discoveryOnly() async throws {
            let directory = makeTemporaryDirectory()
            let outcome = try await runProgram(
                ProjectPaths.mailport, ["demo", "--discovery-only", "--output-dir", directory])
            #expect(outcome.status == 0)
            let report = try latestReport(in: directory)
            #expect(report.scan.discoveryOnly)
            let endpoints = report.allEndpoints
            #expect(!endpoints.isEmpty, "the lab's open ports are listed")
            #expect(endpoints.contains { $0.state == .open }, "the lab's open ports are listed")
            #expect(endpoints.allSatisfy { $0.dialog == nil })
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
        }

        @Test("--quiet prints nothing; --verbose logs structured lines on stderr; --progress always draws the line")
        func outputModes() async throws {
            let quiet = try await runProgram(
                ProjectPaths.mailport, ["demo", "--quiet", "--output-dir", makeTemporaryDirectory()])
            #expect(quiet.status == 0)
            #expect(quiet.standardOutput.isEmpty && quiet.standardError.isEmpty)
            let verbose = try await runProgram(
                ProjectPaths.mailport, ["demo", "--verbose", "--output-dir", makeTemporaryDirectory()])
            #expect(verbose.status == 0)
            #expect(verbose.standardError.contains("scan.probes=42"))
            let progress = try await runProgram(
                ProjectPaths.mailport, ["demo", "--progress", "always", "--output-dir", makeTemporaryDirectory()])
            #expect(progress.standardError.contains("probes 42/42"))
        }

        @Test("on a terminal the progress line appears by default")
        func progressOnTerminal() async throws {
            // Python's pty gives the program a real terminal on stdout and stderr.
            let script = """
                import os, pty, sys
                output = bytearray()
                def read(fd):
                    data = os.read(fd, 65536); output.extend(data); return data
                status = pty.spawn(sys.argv[1:], read)
                sys.stdout.write(output.decode(errors="replace")); sys.exit(os.waitstatus_to_exitcode(status))
                """
            let outcome = try await runProgram(
                "/usr/bin/env",
                [
                    "python3", "-c", script, ProjectPaths.mailport, "demo",
                    "--output-dir", makeTemporaryDirectory(),
                ])
            #expect(outcome.status == 0)
            #expect(outcome.standardOutput.contains("\r\u{1b}[Kprobes "), "\(outcome.standardOutput)")
        }

        @Test("hostile server text never reaches the terminal raw, even in --verbose logs; the report keeps it as data")
        func hostileTextIsInert() async throws {
            let hostile = "421 4.7.0 \u{1b}[2J\u{1b}]0;owned\u{07} busy"
            let lab = try await LoopbackLab.start([
                LabEndpoint(
                    address: "127.98.0.1", port: 23025,
                    behaviour: .smtp(SMTPScript(busyConnections: 9, busyReply: hostile))
                )
            ])
            let directory = makeTemporaryDirectory()
            let outcome = try await runProgram(
                ProjectPaths.mailport,
                [
                    "scan", "127.98.0.1", "--ports", "23025=smtp", "--verbose", "--retry-pause", "0.1", "--output-dir",
                    directory,
                ])
            await lab.shutdown()
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(outcome.standardError.contains("probe.reason"), "the retry was logged")
            #expect(!outcome.standardError.contains("\u{1b}") && !outcome.standardError.contains("\u{07}"))
            #expect(!outcome.standardOutput.contains("\u{1b}"))
            let report = try latestReport(in: directory)
            let endpoint = try #require(report.hosts.first?.endpoints.first)
            #expect(endpoint.dialog?.incompleteReason?.contains("\u{1b}[2J") == true, "kept verbatim as JSON data")
        }

        @Test("--help and --version exit 0")
        func helpAndVersion() async throws {
            let help = try await runProgram(ProjectPaths.mailport, ["scan", "--help"])
            #expect(help.status == 0 && help.standardOutput.contains("--targets-file"))
            let version = try await runProgram(ProjectPaths.mailport, ["--version"])
            #expect(
                version.status == 0 && version.standardOutput.contains("OpenSSL 3")
                    && version.standardOutput.contains("libpcap"))
        }
    }
}

/// Bad input runs inside a namespace with no routes at all: if a parser bug turned a bad token into a real range,
/// the scan would still send nothing beyond loopback.
@Suite(
    "Command line: bad input", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct BadInputTests {
    static let cases = BadInput.scanCases

    @Test("exit 2, one line naming the bad value, nothing written", arguments: cases)
    func badInput(arguments: [String], mentions: String) async throws {
        try await SandboxNamespace.with(name: "mpbad") { sandbox in
            let directory = makeTemporaryDirectory()
            let argv = ["scan"] + BadInput.writingInto(directory + "/out", arguments)
            let outcome = try await sandbox.run(ProjectPaths.mailport, argv)
            #expect(outcome.status == 2, "\(argv): \(outcome.standardError)")
            let lines = outcome.standardError.split(separator: "\n")
            #expect(lines.count == 1, "one line: \(outcome.standardError)")
            #expect(outcome.standardError.hasPrefix("mailport: error: "))
            #expect(outcome.standardError.contains(mentions), "\(outcome.standardError)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/out/latest.json"))
        }
    }

    @Test(
        "a bad rules or waivers file stops the scan before it starts, naming file and line",
        arguments: [
            (
                "rules", "rules:\n  - id: CORP-X\n    title: x\n    severity: low\n    match: {bannner: Exim}\n",
                ":5: unknown fact 'bannner' in match"
            ),
            (
                "waivers", "waivers:\n  - {host: 192.0.2.1, rule: MP-PORT-26, reason: r, expires: 2027-01-01}\n",
                ":2: waiver names unknown rule 'MP-PORT-26'"
            ),
            (
                "waivers", "waivers:\n  - {host: 192.0.2.1, rule: MP-PORT-25, reason: r, expires: 2027-02-30}\n",
                ":2: invalid expiry date '2027-02-30'; expected YYYY-MM-DD"
            ),
        ])
    func badJudgementFile(option: String, contents: String, mentions: String) async throws {
        try await SandboxNamespace.with(name: "mpbadr") { sandbox in
            let directory = makeTemporaryDirectory()
            let file = directory + "/\(option).yaml"
            try contents.write(toFile: file, atomically: true, encoding: .utf8)
            let outcome = try await sandbox.run(
                ProjectPaths.mailport, ["scan", "192.0.2.1", "--\(option)", file, "--output-dir", directory + "/out"])
            #expect(outcome.status == 2)
            #expect(
                outcome.standardError
                    == "mailport: error: \(file)\(outcome.standardError.components(separatedBy: file).last ?? "")")
            #expect(outcome.standardError.contains(file + mentions), "\(outcome.standardError)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/out"), "nothing written")
        }
    }

    @Test("a bad line in a targets file is reported with file and line")
    func badTargetsFile() async throws {
        try await SandboxNamespace.with(name: "mpbadf") { sandbox in
            let directory = makeTemporaryDirectory()
            let file = directory + "/targets.txt"
            try "# lab\n192.0.2.1\n192.0.2.9-3\n".write(toFile: file, atomically: true, encoding: .utf8)
            let outcome = try await sandbox.run(
                ProjectPaths.mailport, ["scan", "--targets-file", file, "--output-dir", directory])
            #expect(outcome.status == 2)
            #expect(outcome.standardError.contains("\(file):3: invalid target '192.0.2.9-3'"))
        }
    }
}

@Suite(
    "Command line: scans in a namespace lab", .rootTier,
    .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct NamespaceScanTests {
    @Test("a /24 with open, refusing, unreachable and silent hosts: report matches the lab exactly")
    func scanMatchesTruth() async throws {
        try await NamespaceLab.with(
            name: "mpcli",
            arguments: [
                "--cidr", "198.18.8.0/24", "--live", "0.1", "--refuse", "0.1", "--unreach", "0.05", "--seed", "4",
            ]
        ) { lab in
            let directory = makeTemporaryDirectory()
            let targetsFile = directory + "/targets.txt"
            try "# the lab\n198.18.8.0/25\n198.18.8.128-198.18.8.255 # second half\n".write(
                toFile: targetsFile, atomically: true, encoding: .utf8)
            let excluded = lab.truth.live.first!
            let outcome = try await lab.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "--targets-file", targetsFile, "--exclude", excluded, "--timeout", "0.5", "--output-dir",
                    directory,
                    // This test is about discovery; the lab's silent listeners on 110/143 would fail the default verdict.
                    "--fail-on", "never",
                ])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            let expectedOpen = lab.truth.openEndpoints.filter { !$0.hasPrefix(excluded + ":") }
            #expect(!expectedOpen.isEmpty, "the lab has open ports besides the excluded host's")
            #expect(openEndpoints(of: report) == expectedOpen)
            let summary = report.summary
            let live = lab.truth.live.count - 1
            #expect(summary.hosts == 255)
            #expect(summary.hostsUp == UInt64(live + lab.truth.refuse.count))
            #expect(summary.closedEndpoints == UInt64((live + lab.truth.refuse.count) * 7 - expectedOpen.count))
            #expect(summary.filteredEndpoints == UInt64((255 - live - lab.truth.refuse.count) * 7))
            // Every port of a listed host is accounted for: open ones, and the rest refused.
            #expect(!report.hosts.isEmpty)
            for host in report.hosts {
                #expect(host.endpoints.count == 7)
                #expect(host.endpoints.allSatisfy { [.open, .closed].contains($0.state) })
            }
        }
    }

    @Test("with a low open-file limit the scan slows down instead of failing, and says so once")
    func lowFileLimit() async throws {
        try await NamespaceLab.with(
            name: "mpfd", arguments: ["--cidr", "198.18.10.0/24", "--live", "0.2", "--seed", "8"]
        ) { lab in
            let directory = makeTemporaryDirectory()
            let outcome = try await lab.runInScanner(
                "/bin/bash",
                [
                    "-c",
                    "ulimit -n 160 && exec \"$0\" scan 198.18.10.0/24 --concurrency 5000 --timeout 0.3 --fail-on never --output-dir \"$1\"",
                    ProjectPaths.mailport, directory,
                ])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(
                outcome.standardError.components(separatedBy: "lowering concurrency").count == 2,
                "\(outcome.standardError)"
            )
            #expect(openEndpoints(of: try latestReport(in: directory)) == lab.truth.openEndpoints)
        }
    }

    @Test("SIGINT mid-scan writes a partial report marked incomplete and exits 130")
    func interrupted() async throws {
        // Every address drops: probes wait their full timeout, so the scan is still running when the signal comes.
        try await NamespaceLab.with(
            name: "mpint", arguments: ["--cidr", "198.18.32.0/20", "--live", "0.01", "--refuse", "0", "--seed", "2"]
        ) { lab in
            let directory = makeTemporaryDirectory()
            let outcome = try await lab.runInScanner(
                "/bin/bash",
                [
                    "-c",
                    "\"$0\" scan 198.18.32.0/20 --concurrency 64 --timeout 2 --output-dir \"$1\" & pid=$!; for i in $(seq 300); do [ -e \"$1/.mailport.lock\" ] && break; sleep 0.1; done; sleep 1.5; kill -INT $pid; wait $pid",
                    ProjectPaths.mailport, directory,
                ])
            #expect(outcome.status == 130, "\(outcome.standardError)")
            #expect(outcome.standardOutput.contains("interrupted"))
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let scan = try latestReport(in: directory).scan
            #expect(!scan.complete)
            #expect(scan.incompleteReason?.contains("interrupted") == true)
            #expect(scan.probesDone < scan.probesPlanned)
        }
    }
}
