import Foundation
import MailPortTestSupport
import Testing

/// `mailport rules …` and the verdict of `demo`/`scan`: the parts of the rules stage a user meets on the command line.
extension DemoLabSuites {
    @Suite("Command line: rules and verdicts", .rootTier, .serialized)
    struct RulesCommandTests {
        @Test("rules list shows every contract id with its severity; profiles change it")
        func list() async throws {
            let baseline = try await runProgram(ProjectPaths.mailport, ["rules", "list"])
            #expect(baseline.status == 0)
            for id in [
                "MP-PORT-25", "MP-AUTH-CLEARTEXT", "MP-STARTTLS-INJECTION", "MP-CERT-WEAK-SIGNATURE",
                "MP-BANNER-DISCLOSURE",
            ] {
                #expect(baseline.standardOutput.contains(id), "\(id)")
            }
            #expect(
                baseline.standardOutput.contains(where: { _ in true })
                    && baseline.standardOutput.range(of: #"MP-PREFER-465\s+off"#, options: .regularExpression) != nil)
            let rfc = try await runProgram(ProjectPaths.mailport, ["rules", "list", "--profile", "rfc8314"])
            #expect(rfc.standardOutput.range(of: #"MP-PREFER-587\s+off"#, options: .regularExpression) != nil)
            #expect(rfc.standardOutput.range(of: #"MP-PREFER-465\s+low"#, options: .regularExpression) != nil)
        }

        @Test("rules show prints remediation per server and the profile's adjustments; an unknown id exits 2")
        func show() async throws {
            let shown = try await runProgram(
                ProjectPaths.mailport, ["rules", "show", "MP-CERT-UNTRUSTED", "--profile", "mx"])
            #expect(shown.status == 0)
            for part in [
                "severity: high", "postfix: ", "dovecot: ", "exim: ", "references: RFC 5280 §6",
                "adjustments under mx:",
                "severity info",
            ] {
                #expect(shown.standardOutput.contains(part), "\(part): \(shown.standardOutput)")
            }
            let unknown = try await runProgram(ProjectPaths.mailport, ["rules", "show", "MP-NOPE"])
            #expect(
                unknown.status == 2
                    && unknown.standardError
                        == "mailport: error: unknown rule 'MP-NOPE'; expected a rule id (mailport rules list)\n"
            )
        }

        @Test("rules validate: the built-in folder and the examples pass; a broken file fails with file and line")
        func validate() async throws {
            let folder = try await runProgram(
                ProjectPaths.mailport, ["rules", "validate", ProjectPaths.root + "/Rules"])
            #expect(
                folder.status == 0 && folder.standardOutput.contains("valid; 54 rules (0 custom)"),
                "\(folder.standardOutput)\(folder.standardError)")
            let examples = try await runProgram(
                ProjectPaths.mailport,
                [
                    "rules", "validate", ProjectPaths.root + "/Examples/custom-rules.yaml",
                    "--waivers", ProjectPaths.root + "/Examples/waivers.yaml",
                ])
            #expect(
                examples.status == 0 && examples.standardOutput.contains("56 rules (2 custom)")
                    && examples.standardOutput.contains("2 waivers"),
                "\(examples.standardOutput)\(examples.standardError)")
            let directory = makeTemporaryDirectory()
            let bad = directory + "/bad.yaml"
            try "rules:\n  - id: CORP-X\n    title: x\n    severity: urgent\n    match: {port: 25}\n".write(
                toFile: bad, atomically: true, encoding: .utf8)
            let broken = try await runProgram(ProjectPaths.mailport, ["rules", "validate", bad])
            #expect(broken.status == 2)
            #expect(
                broken.standardError
                    == "mailport: error: \(bad):4: invalid severity of CORP-X 'urgent'; expected info|low|medium|high|critical\n"
            )
        }

        @Test("demo: grades per host, a verdict line, exit 0 by default and 1 with --fail-on high")
        func demoVerdict() async throws {
            let directory = makeTemporaryDirectory()
            let outcome = try await runProgram(ProjectPaths.mailport, ["demo", "--output-dir", directory])
            #expect(outcome.status == 0)
            #expect(outcome.standardOutput.contains("grade F; findings: "), "\(outcome.standardOutput)")
            #expect(outcome.standardOutput.contains("gate off (--fail-on never)"), "\(outcome.standardOutput)")
            let report = try latestReport(in: directory)
            let grades = Dictionary(uniqueKeysWithValues: report.hosts.map { ($0.address, $0.grade?.rawValue) })
            // modern: TLS-required submission and IMAPS; legacy: passwords in plaintext; mixed: AUTH before STARTTLS;
            // self-signed: untrusted certificates.
            #expect(grades == ["127.77.0.2": "A+", "127.77.0.3": "F", "127.77.0.4": "F", "127.77.0.5": "C"])
            let failing = try await runProgram(
                ProjectPaths.mailport, ["demo", "--output-dir", directory, "--fail-on", "high", "--quiet"])
            #expect(failing.status == 1)
            #expect(
                failing.standardOutput.isEmpty,
                "--quiet prints nothing on stdout, even when the verdict fails (its one FAIL line goes to stderr)")
            #expect(try latestReport(in: directory).summary.failed)
        }

        @Test("demo with waivers: waived findings stay in the report, marked, and no longer fail the run")
        func demoWaivers() async throws {
            let directory = makeTemporaryDirectory()
            let waivers = directory + "/waivers.yaml"
            try """
            waivers:
              - host: 127.77.0.0/29
                rule: MP-AUTH-CLEARTEXT
                reason: demo lab, accepted for the test
                expires: 2999-12-31
              - host: 127.77.0.3
                port: 10110
                rule: MP-PORT-110
                reason: expired acceptance
                expires: 2020-01-01
            """.write(toFile: waivers, atomically: true, encoding: .utf8)
            let unwaived = try await runProgram(
                ProjectPaths.mailport, ["demo", "--output-dir", directory, "--fail-on", "critical"])
            #expect(unwaived.status == 1, "the demo has critical findings")
            let waived = try await runProgram(
                ProjectPaths.mailport,
                ["demo", "--output-dir", directory, "--fail-on", "critical", "--waivers", waivers])
            #expect(waived.status == 0, "\(waived.standardOutput)\(waived.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            let findings = report.allFindings
            let cleartext = findings.filter { $0.rule == "MP-AUTH-CLEARTEXT" }
            #expect(
                cleartext.count == 5
                    && cleartext.allSatisfy { $0.waived && $0.waiverReason == "demo lab, accepted for the test" })
            #expect(findings.contains { $0.rule == "MP-WAIVER-EXPIRED" && $0.evidence.contains("2020-01-01") })
            #expect(report.summary.waivedFindings == 5)
            #expect(report.summary.findingsBySeverity["critical"] == 0)
            #expect(report.waivers.map(\.status) == [.active, .expired])
            #expect(report.waivers.map(\.matched) == [5, 1])
        }
    }
}

@Suite("Command line: help and completions", .rootTier)
struct HelpTests {
    @Test(
        "every subcommand's --help has examples",
        arguments: [
            ["scan"], ["demo"], ["rules"], ["rules", "list"], ["rules", "show"], ["rules", "validate"], ["report"],
            ["diff"],
        ])
    func helpHasExamples(_ command: [String]) async throws {
        let outcome = try await runProgram(ProjectPaths.mailport, command + ["--help"])
        #expect(outcome.status == 0)
        #expect(outcome.standardOutput.contains("Example"), "\(command): \(outcome.standardOutput)")
        #expect(outcome.standardOutput.contains("mailport \(command.joined(separator: " "))"))
    }

    @Test(
        "shell completions are generated for bash, zsh and fish and know the subcommands",
        arguments: ["bash", "zsh", "fish"])
    func completions(_ shell: String) async throws {
        let outcome = try await runProgram(ProjectPaths.mailport, ["--generate-completion-script", shell])
        #expect(outcome.status == 0)
        for word in ["scan", "demo", "rules", "report", "diff", "fail-on"] {
            #expect(outcome.standardOutput.contains(word), "\(shell) completion lacks \(word)")
        }
    }
}
