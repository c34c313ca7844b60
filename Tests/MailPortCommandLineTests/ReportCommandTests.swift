import Foundation
import MailPortCore
import MailPortLab
import MailPortReport
import MailPortTestSupport
import Testing

extension DemoLabSuites {
    @Suite("Command line: report formats", .rootTier, .serialized)
    struct ReportCommandTests {
        @Test("the demo writes json and html by default; --format writes every format, each also as latest.*")
        func formatsFromScan() async throws {
            let directory = makeTemporaryDirectory()
            let defaults = try await runProgram(ProjectPaths.mailport, ["demo", "--output-dir", directory, "--quiet"])
            #expect(defaults.status == 0)
            #expect(
                Set(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("latest.") })
                    == [
                        "latest.json", "latest.html",
                    ])
            let all = makeTemporaryDirectory()
            let outcome = try await runProgram(
                ProjectPaths.mailport, ["demo", "--output-dir", all, "--format", "json,html,sarif,junit,md,prom"])
            #expect(outcome.status == 0)
            let files = try FileManager.default.contentsOfDirectory(atPath: all)
            for ext in ["json", "html", "sarif", "junit.xml", "md", "prom"] {
                #expect(
                    files.contains("latest.\(ext)")
                        && files.contains { $0.hasPrefix("mailport-") && $0.hasSuffix(".\(ext)") }, "\(ext): \(files)")
                #expect(outcome.standardOutput.contains(".\(ext)\n"), "the path is printed")
            }
            #expect(
                try await schemaViolation(
                    ofJSONFile: all + "/latest.sarif",
                    schema: ProjectPaths.fixtures + "/schemas/sarif-schema-2.1.0.json")
                    == nil)
            #expect(
                try await xmlSchemaViolation(
                    ofFile: all + "/latest.junit.xml", xsd: ProjectPaths.fixtures + "/schemas/junit-10.xsd")
                    == nil)
        }

        @Test("mailport report re-renders formats from a JSON report, identical to what the scan wrote")
        func rerender() async throws {
            let directory = makeTemporaryDirectory()
            _ = try await runProgram(
                ProjectPaths.mailport, ["demo", "--output-dir", directory, "--format", "json,html,md", "--quiet"])
            let out = makeTemporaryDirectory()
            let outcome = try await runProgram(
                ProjectPaths.mailport, ["report", directory + "/latest.json", "--format", "html,md", "-o", out])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let written = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
            #expect(written.count == 2 && written.allSatisfy { $0.hasPrefix("mailport-") })
            for ext in ["html", "md"] {
                let rendered = try Data(
                    contentsOf: URL(fileURLWithPath: out + "/" + written.first { $0.hasSuffix(ext) }!))
                let original = try Data(contentsOf: URL(fileURLWithPath: directory + "/latest.\(ext)"))
                #expect(rendered == original, "\(ext) re-rendered identically")
            }
        }

        @Test(
            "mailport report into a folder that holds a report of the same start time picks a free name, replacing nothing"
        )
        func rerenderNeverReplaces() async throws {
            let directory = makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            _ = try await runProgram(
                ProjectPaths.mailport, ["demo", "--output-dir", directory, "--format", "json,html", "--quiet"])
            let original = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
                $0.hasPrefix("mailport-")
            }.sorted()
            #expect(original.count == 2, "\(original)")
            let before = try original.map { try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)) }
            // Re-render the same report into the same folder, twice: each time beside what is there.
            for round in 2...3 {
                let outcome = try await runProgram(
                    ProjectPaths.mailport,
                    ["report", directory + "/latest.json", "--format", "json,html", "-o", directory])
                #expect(outcome.status == 0, "\(outcome.standardError)")
                let stem = original[0].split(separator: ".")[0]  // mailport-<time>
                #expect(
                    outcome.standardOutput.contains("\(stem)-\(round).json\n")
                        && outcome.standardOutput.contains("\(stem)-\(round).html\n"),
                    "\(outcome.standardOutput)")
            }
            let after = try original.map { try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)) }
            #expect(after == before, "the scan's own files are untouched")
        }

        /// A stored report gates a later CI job as the scan would have: the fixture has critical findings and one waived.
        @Test(
            "mailport report --fail-on re-judges a stored report and exits as a scan would; without it, it only renders"
        )
        func regate() async throws {
            let fixture = ProjectPaths.fixtures + "/reports/demo.json"
            let failing = try await runProgram(
                ProjectPaths.mailport,
                ["report", fixture, "--format", "md", "--fail-on", "high", "-o", makeTemporaryDirectory()])
            #expect(failing.status == 1, "\(failing.standardError)")
            #expect(failing.standardOutput.contains("fails --fail-on high"), "\(failing.standardOutput)")
            let never = try await runProgram(
                ProjectPaths.mailport,
                ["report", fixture, "--format", "md", "--fail-on", "never", "-o", makeTemporaryDirectory()])
            #expect(never.status == 0 && never.standardOutput.contains("--fail-on never"), "\(never.standardOutput)")
            // Waivers given now count: waiving every critical and high finding's rule on every host passes --fail-on high.
            let directory = makeTemporaryDirectory()
            let rules = [
                "MP-AUTH-CLEARTEXT", "MP-TLS-ABSENT", "MP-STARTTLS-MISSING", "MP-CERT-UNTRUSTED", "MP-PORT-110",
                "MP-PORT-143", "MP-TLS-LEGACY-PROTOCOL", "MP-STARTTLS-FAILED", "MP-TLS-NO-MODERN",
            ]
            let hosts = ["127.77.0.2", "127.77.0.3", "127.77.0.4", "127.77.0.5"]
            let waivers =
                "waivers:\n"
                + hosts.flatMap { host in
                    rules.map {
                        "  - {host: \(host), rule: \($0), reason: accepted for the test, expires: 2999-12-31}\n"
                    }
                }.joined()
            try waivers.write(toFile: directory + "/waivers.yaml", atomically: true, encoding: .utf8)
            let waived = try await runProgram(
                ProjectPaths.mailport,
                [
                    "report", fixture, "--format", "md", "--fail-on", "high", "--waivers", directory + "/waivers.yaml",
                    "-o", directory,
                ])
            #expect(waived.status == 0, "\(waived.standardOutput)\(waived.standardError)")
            // Only rendering, as before: the report's findings as they are, exit 0 whatever they say.
            let plain = try await runProgram(
                ProjectPaths.mailport, ["report", fixture, "--format", "md", "-o", makeTemporaryDirectory()])
            #expect(plain.status == 0 && !plain.standardOutput.contains("--fail-on"))
        }

        @Test(
            "mailport report: bad input exits 2 with one line",
            arguments: [
                (["report", "/nonexistent/r.json"], "cannot read report '/nonexistent/r.json'"),
                (["report", "/etc/hostname"], "'/etc/hostname' is not a MailPort JSON report"),
                (["report", "/etc/hostname", "--format", "pdf"], "unknown report format 'pdf'"),
                (["report", "/etc/hostname", "--fail-on", "severe"], "invalid --fail-on 'severe'"),
                (["report", "/etc/hostname", "--mx", "192.0.2.1"], "--mx is decided at scan time"),
            ])
        func badInput(_ arguments: [String], _ message: String) async throws {
            let outcome = try await runProgram(ProjectPaths.mailport, arguments + ["-o", makeTemporaryDirectory()])
            #expect(outcome.status == 2)
            #expect(
                outcome.standardError.split(separator: "\n").count == 1 && outcome.standardError.contains(message),
                "\(outcome.standardError)")
        }
    }
}

extension DemoLabSuites {
    @Suite("Command line: baselines and diffs", .rootTier, .serialized)
    struct DiffCommandTests {
        @Test("scan --baseline marks findings and lists resolved ones; diff exits 1 when worse, 0 otherwise")
        func baselineAndDiff() async throws {
            let directory = makeTemporaryDirectory()
            // The earlier run: the demo with an extra custom rule that fires on the modern host (resolved later).
            let rules = directory + "/extra.yaml"
            try
                "rules:\n  - {id: CORP-IMAPS, title: IMAPS seen, severity: low, match: {port: 10993, address: 127.77.0.2}}\n"
                .write(toFile: rules, atomically: true, encoding: .utf8)
            _ = try await runProgram(
                ProjectPaths.mailport, ["demo", "--output-dir", directory, "--rules", rules, "--quiet"])
            let old = try FileManager.default.contentsOfDirectory(atPath: directory).first {
                $0.hasPrefix("mailport-") && $0.hasSuffix(".json")
            }!
            sleep(1)
            let outcome = try await runProgram(
                ProjectPaths.mailport,
                [
                    "demo", "--output-dir", directory, "--baseline", directory + "/" + old,
                    "--format", "json,html,md",
                ])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let report = try latestReport(in: directory)
            let baseline = try #require(report.baseline)
            #expect(baseline.resolved.map(\.rule) == ["CORP-IMAPS"])
            #expect(baseline.newFindings == 0)
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            #expect(
                try String(contentsOfFile: directory + "/index.html", encoding: .utf8).contains(
                    "2 runs with a JSON report")
            )

            let improved = try await runProgram(
                ProjectPaths.mailport, ["diff", directory + "/" + old, directory + "/latest.json"])
            #expect(improved.status == 0, "one finding resolved, nothing worse: \(improved.standardOutput)")
            #expect(
                improved.standardOutput.contains("resolved findings (1):")
                    && improved.standardOutput.contains("verdict: not worse"))
            #expect(improved.standardError.isEmpty, "same scope, no warning: \(improved.standardError)")
            // A report of a narrower scan: one warning line on stderr, the exit status as before.
            var narrowed = try #require(
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: URL(fileURLWithPath: directory + "/latest.json"))) as? [String: Any])
            var scan = try #require(narrowed["scan"] as? [String: Any])
            scan["targets"] = ["127.77.0.2"]
            narrowed["scan"] = scan
            try JSONSerialization.data(withJSONObject: narrowed).write(
                to: URL(fileURLWithPath: directory + "/narrow.json"))
            let rescoped = try await runProgram(
                ProjectPaths.mailport, ["diff", directory + "/" + old, directory + "/narrow.json"])
            #expect(rescoped.status == improved.status && rescoped.standardOutput == improved.standardOutput)
            #expect(
                rescoped.standardError
                    == "mailport: warning: the reports cover different scopes (targets 127.77.0.1-127.77.0.6 127.77.0.4 then 127.77.0.2): ports and findings outside either may show as opened, closed, new or resolved\n"
            )
            let worse = try await runProgram(
                ProjectPaths.mailport, ["diff", directory + "/latest.json", directory + "/" + old])
            #expect(worse.status == 1)
            #expect(worse.standardOutput.contains("new findings (1):\n  low CORP-IMAPS 127.77.0.2:10993"))
            let bad = try await runProgram(
                ProjectPaths.mailport, ["diff", "/nonexistent.json", directory + "/latest.json"])
            #expect(bad.status == 2 && bad.standardError.contains("cannot read report '/nonexistent.json'"))
            let badBaseline = try await runProgram(
                ProjectPaths.mailport, ["demo", "--output-dir", directory, "--baseline", "/etc/hostname"])
            #expect(
                badBaseline.status == 2
                    && badBaseline.standardError.contains("'/etc/hostname' is not a MailPort JSON report"))
        }
    }
}

extension DemoLabSuites {
    @Suite("Command line: shards and merge", .rootTier, .serialized)
    struct ShardMergeTests {
        func shardReports(seed: String, count: Int, folder: String) async throws -> [String] {
            var reports: [String] = []
            for index in 0..<count {
                let output = folder + "/shard-\(index)"
                let outcome = try await runProgram(
                    ProjectPaths.mailport,
                    [
                        "scan", DemoLab.addressRange, "--ports",
                        DemoLab.ports.map(\.description).joined(separator: ","),
                        "--seed", seed, "--shard", "\(index)/\(count)", "--ca-file", try DemoLab.caFile(), "--mx",
                        DemoLab.mxHosts[0],
                        "--output-dir", output, "--fail-on", "never", "--quiet", "--retry-pause", "0.2",
                    ])
                #expect(outcome.status == 0, "\(outcome.standardError)")
                reports.append(output + "/latest.json")
            }
            return reports
        }

        static func summary(_ report: ScanReport) -> [String: [String: [String]]] {
            var out: [String: [String: [String]]] = [:]
            for host in report.hosts {
                var endpoints: [String: [String]] = ["grade": [host.grade?.rawValue ?? "-"]]
                for endpoint in host.endpoints {
                    endpoints["\(endpoint.port)"] =
                        [endpoint.state.rawValue]
                        + endpoint.findings.map { "\($0.rule) \($0.severity.rawValue)" }.sorted()
                }
                out[host.address] = endpoints
            }
            return out
        }

        @Test("three shards merged equal one whole scan: endpoints, findings and grades")
        func mergeEqualsWhole() async throws {
            let lab = try await LoopbackLab.start(try DemoLab.endpoints())
            defer { lab.stop() }
            let folder = makeTemporaryDirectory()
            let shards = try await shardReports(seed: "7", count: 3, folder: folder)
            let whole = try await runProgram(
                ProjectPaths.mailport,
                [
                    "scan", DemoLab.addressRange, "--ports", DemoLab.ports.map(\.description).joined(separator: ","),
                    "--seed", "7",
                    "--ca-file", try DemoLab.caFile(), "--mx", DemoLab.mxHosts[0], "--output-dir", folder + "/whole",
                    "--fail-on", "never", "--quiet",
                ])
            #expect(whole.status == 0)
            let merged = try await runProgram(
                ProjectPaths.mailport,
                ["merge"] + shards + ["-o", folder + "/merged.json", "--format", "html,md", "--fail-on", "never"])
            #expect(merged.status == 0, "\(merged.standardError)")
            #expect(
                FileManager.default.fileExists(atPath: folder + "/merged.html")
                    && FileManager.default.fileExists(atPath: folder + "/merged.md"))
            #expect(try await schemaViolation(ofJSONFile: folder + "/merged.json") == nil)
            let mergedPath = folder + "/merged.json"
            let mergedReport = try JSONReportWriter.decode(
                [UInt8](try Data(contentsOf: URL(fileURLWithPath: mergedPath))), fileName: mergedPath)
            let wholeReport = try latestReport(in: folder + "/whole")
            #expect(Self.summary(mergedReport) == Self.summary(wholeReport))
            #expect(mergedReport.scan.probesPlanned == wholeReport.scan.probesPlanned)
            #expect(mergedReport.scan.mergedShards == 3 && mergedReport.scan.shard == nil)
            let mergedSummary = mergedReport.summary
            let wholeSummary = wholeReport.summary
            #expect(mergedSummary.openEndpoints == wholeSummary.openEndpoints)
            #expect(mergedSummary.closedEndpoints == wholeSummary.closedEndpoints)
            #expect(mergedSummary.filteredEndpoints == wholeSummary.filteredEndpoints)
            #expect(mergedSummary.grade == wholeSummary.grade)
            #expect(mergedSummary.findingsBySeverity == wholeSummary.findingsBySeverity)
            // Every listed host has all its ports accounted for, as in a whole scan.
            #expect(mergedReport.hosts.count == Set(try DemoLab.endpoints().map(\.address)).count)
            for host in mergedReport.hosts {
                #expect(host.endpoints.count == DemoLab.ports.count)
            }
        }

        @Test("merge refuses shards that do not belong together, and writes nothing")
        func mismatches() async throws {
            let lab = try await LoopbackLab.start(try DemoLab.endpoints())
            defer { lab.stop() }
            let folder = makeTemporaryDirectory()
            let seven = try await shardReports(seed: "7", count: 2, folder: folder + "/seven")
            let eight = try await shardReports(seed: "8", count: 2, folder: folder + "/eight")
            let cases: [([String], String)] = [
                ([seven[0], eight[1]], "has another seed"),
                ([seven[0]], "shards 1/2 are missing"),
                ([seven[0], seven[0], seven[1]], "shard 0/2 is given twice"),
                ([seven[0], ProjectPaths.fixtures + "/reports/demo.json"], "is not a shard report"),
            ]
            for (inputs, message) in cases {
                let outcome = try await runProgram(
                    ProjectPaths.mailport, ["merge"] + inputs + ["-o", folder + "/out.json"])
                #expect(
                    outcome.status == 2 && outcome.standardError.contains(message),
                    "\(message): \(outcome.standardError)")
                #expect(!FileManager.default.fileExists(atPath: folder + "/out.json"))
            }
            let noSeed = try await runProgram(
                ProjectPaths.mailport, ["scan", "127.77.0.1", "--shard", "0/2", "--output-dir", folder])
            #expect(noSeed.status == 2 && noSeed.standardError.contains("--shard 0/2 needs --seed"))
        }
    }
}
