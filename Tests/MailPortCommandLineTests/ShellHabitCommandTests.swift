import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

/// Standard output decoded as one JSON value, or nil when it holds anything else (a summary line, two documents).
func jsonDocument(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

extension DemoLabSuites {
    @Suite("Command line: shell habits", .rootTier, .serialized)
    struct ShellHabitCommandTests {
        @Test(
            "-o - --format json: standard output is the JSON report and nothing else; no folder, lock or file written")
        func reportToStandardOutput() async throws {
            let folder = makeTemporaryDirectory()
            let outcome = try await runProgram(
                ProjectPaths.mailport, ["demo", "--format", "json", "-o", "-"], currentDirectory: folder)
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let report = try #require(
                jsonDocument(outcome.standardOutput), "stdout: \(outcome.standardOutput.prefix(200))")
            #expect(outcome.standardOutput.hasPrefix("{") && outcome.standardOutput.hasSuffix("}\n"))
            #expect((report["summary"] as? [String: Any])?["openEndpoints"] as? Int == 11)
            #expect(report["schemaVersion"] as? String == "1.0")
            // The summary went to stderr instead.
            #expect(outcome.standardError.contains("mailport: 42 probes of 42"), "\(outcome.standardError)")
            #expect(outcome.standardError.contains("grade F;"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "no Reports/, no lock file")
            // What jq would read is the same report the schema describes.
            try outcome.standardOutput.write(toFile: folder + "/stdout.json", atomically: true, encoding: .utf8)
            #expect(try await schemaViolation(ofJSONFile: folder + "/stdout.json") == nil)
        }

        @Test("-o - with several formats or none: exit 2, one line, nothing on stdout")
        func oneFormatOnly() async throws {
            let folder = makeTemporaryDirectory()
            for argv in [["demo", "-o", "-"], ["demo", "-o", "-", "--format", "json,html"]] {
                let outcome = try await runProgram(ProjectPaths.mailport, argv, currentDirectory: folder)
                #expect(outcome.status == 2, "\(argv)")
                #expect(outcome.standardOutput.isEmpty)
                #expect(outcome.standardError.split(separator: "\n").count == 1, "\(outcome.standardError)")
                #expect(outcome.standardError.contains("expected exactly one --format"))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        }

        @Test("report and merge take -o - too: the one rendering or the merged JSON on stdout, the rest on stderr")
        func reportAndMergeToStandardOutput() async throws {
            let folder = makeTemporaryDirectory()
            let scan = try await runProgram(
                ProjectPaths.mailport, ["demo", "--format", "json", "--output", folder + "/scan.json", "--quiet"])
            #expect(scan.status == 0 && scan.standardOutput.isEmpty && scan.standardError.isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["scan.json"])

            let markdown = try await runProgram(
                ProjectPaths.mailport,
                ["report", folder + "/scan.json", "--format", "md", "-o", "-", "--fail-on", "high"])
            #expect(markdown.status == 1, "the demo has high findings: \(markdown.standardError)")
            #expect(markdown.standardOutput.hasPrefix("## MailPort: grade F"), "\(markdown.standardOutput.prefix(100))")
            #expect(!markdown.standardOutput.contains("report: "))
            #expect(markdown.standardError.contains("fails --fail-on high"))

            // A shard of one (merge reads shard reports; a whole scan's report is one more field away).
            var shard = try #require(jsonDocument(try String(contentsOfFile: folder + "/scan.json", encoding: .utf8)))
            var shardScan = try #require(shard["scan"] as? [String: Any])
            shardScan["shard"] = "0/1"
            shard["scan"] = shardScan
            let shardFile = makeTemporaryDirectory() + "/shard-0.json"
            try JSONSerialization.data(withJSONObject: shard).write(to: URL(fileURLWithPath: shardFile))
            let merged = try await runProgram(ProjectPaths.mailport, ["merge", shardFile, "-o", "-"])
            #expect(merged.status == 0, "\(merged.standardError)")
            let report = try #require(jsonDocument(merged.standardOutput), "\(merged.standardOutput.prefix(200))")
            #expect((report["summary"] as? [String: Any])?["openEndpoints"] as? Int == 11)
            #expect(merged.standardError.contains("merged 1 shards"))
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: folder) == ["scan.json"], "nothing else written")
        }

        @Test(
            "--quiet prints one line on stderr when the verdict fails, naming the count, the threshold and the report")
        func quietFailureLine() async throws {
            let folder = makeTemporaryDirectory()
            let outcome = try await runProgram(
                ProjectPaths.mailport, ["demo", "--quiet", "--fail-on", "high", "--output-dir", folder])
            #expect(outcome.status == 1)
            #expect(outcome.standardOutput.isEmpty)
            let lines = outcome.standardError.split(separator: "\n")
            #expect(lines.count == 1, "\(outcome.standardError)")
            let report = try latestReport(in: folder)
            let hosts = report.hosts.filter { host in
                host.endpoints.contains { endpoint in
                    endpoint.findings.contains { !$0.waived && $0.severity >= .high }
                }
            }
            let counts = report.summary.findingsBySeverity
            let atOrAbove = (counts["high"] ?? 0) + (counts["critical"] ?? 0)
            #expect(atOrAbove > 0 && hosts.count > 0)
            #expect(
                lines.first.map(String.init)
                    == "mailport: FAIL — \(atOrAbove) findings at or above high on \(hosts.count) hosts; report \(folder)/latest.html"
            )
            // A passing verdict stays silent.
            let passing = try await runProgram(
                ProjectPaths.mailport, ["demo", "-q", "--output-dir", makeTemporaryDirectory()])
            #expect(passing.status == 0 && passing.standardOutput.isEmpty && passing.standardError.isEmpty)
        }

        @Test(
            "a name that does not resolve is one warning and scan.targetErrors; the rest is scanned; only names: exit 2"
        )
        func unresolvedName() async throws {
            // An empty namespace: the resolver's nameservers are unreachable, so the lookup fails without traffic.
            try await SandboxNamespace.with(name: "mpname") { sandbox in
                let outcome = try await sandbox.run(
                    ProjectPaths.mailport,
                    ["scan", "no-such-host.invalid", "127.0.0.1", "-p", "10999=smtp", "--format", "json", "-o", "-"])
                #expect(outcome.status == 0, "\(outcome.standardError)")
                let warnings = outcome.standardError.split(separator: "\n").filter {
                    $0.hasPrefix("mailport: warning: ")
                }
                #expect(warnings.count == 1, "\(outcome.standardError)")
                #expect(warnings.first?.contains("cannot resolve host name 'no-such-host.invalid'") == true)
                let report = try #require(jsonDocument(outcome.standardOutput))
                let scan = try #require(report["scan"] as? [String: Any])
                let errors = try #require(scan["targetErrors"] as? [[String: Any]])
                #expect(errors.count == 1)
                #expect(errors.first?["target"] as? String == "no-such-host.invalid")
                #expect((report["summary"] as? [String: Any])?["hosts"] as? Int == 1, "127.0.0.1 was scanned")

                let nothing = try await sandbox.run(
                    ProjectPaths.mailport, ["scan", "no-such-host.invalid", "--format", "json", "-o", "-"])
                #expect(nothing.status == 2)
                #expect(nothing.standardOutput.isEmpty)
                #expect(nothing.standardError.split(separator: "\n").count == 1, "\(nothing.standardError)")
                #expect(nothing.standardError.hasPrefix("mailport: error: nothing to scan: cannot resolve host name"))
            }
        }

        @Test("--verbose with --progress always: no log line shares a terminal line with the progress line")
        func progressAndLogs() async throws {
            let outcome = try await runProgram(
                ProjectPaths.mailport,
                ["demo", "-v", "--progress", "always", "--output-dir", makeTemporaryDirectory()])
            #expect(outcome.status == 0)
            #expect(outcome.standardError.contains("\r\u{1b}[Kprobes "), "the progress line was drawn")
            let visible = outcome.standardError.split(separator: "\n").map { line in
                String(line.split(separator: "\r", omittingEmptySubsequences: false).last ?? "")
                    .replacingOccurrences(of: "\u{1b}[K", with: "")
            }
            #expect(visible.count > 5, "log lines")
            #expect(
                visible.allSatisfy { !$0.contains("probes ") && !$0.contains("dialogs ") },
                "\(visible.filter { $0.contains("probes ") || $0.contains("dialogs ") })")
        }
    }
}
