import Foundation
import MailPortCore
import MailPortTestSupport
import MailPortYAML
import Testing

@testable import MailPortRules

/// One bad rules file and the message it must produce (file, line, what was expected).
struct BadRulesFile: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var message: String

    var testDescription: String { name }
}

let badRulesFiles: [BadRulesFile] = [
    BadRulesFile(
        name: "unknown key in a rule",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                severty: high
                match: {port: 25}
            """,
        message:
            "user.yaml:4: unknown key 'severty' in rule CORP-X; expected one of: id, title, description, severity, enabled, parameters, remediation, references, match"
    ),
    BadRulesFile(
        name: "bad severity",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                severity: severe
                match: {port: 25}
            """, message: "user.yaml:4: invalid severity of CORP-X 'severe'; expected info|low|medium|high|critical"),
    BadRulesFile(
        name: "matcher on a fact that does not exist",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                severity: low
                match:
                  all:
                    - port: 25
                    - bannner: {regex: Exim}
            """, message: "user.yaml:8: unknown fact 'bannner' in match; expected one of: all, any, not, address,"),
    BadRulesFile(
        name: "operator that does not fit the fact",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                severity: low
                match: {banner: {below: 3}}
            """,
        message:
            "user.yaml:5: operator 'below' does not apply to text fact 'banner'; expected one of: equals, in, regex"),
    BadRulesFile(
        name: "bad regular expression",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                severity: low
                match: {banner: {regex: "Exim (4"}}
            """,
        message:
            "user.yaml:5: invalid regular expression 'Exim (4': an unclosed group '('; expected ')' (at character 6); expected the syntax in Rules/README.md (Regular expressions)"
    ),
    BadRulesFile(
        name: "regular expression with a backreference",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                severity: low
                match:
                  any:
                    - port: 25
                    - banner: {regex: '(Exim) \\1'}
            """,
        message:
            #"user.yaml:8: invalid regular expression '(Exim) \1': backreferences (\1, \k<name>, \g{…}) are not supported: patterns run in linear time (at character 8)"#
    ),
    BadRulesFile(
        name: "regular expression with lookahead, in a list fact",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                severity: low
                match: {capabilities: {regex: 'AUTH(?= PLAIN)'}}
            """,
        message:
            "user.yaml:5: invalid regular expression 'AUTH(?= PLAIN)': lookahead ((?=…), (?!…)) is not supported: patterns run in linear time"
    ),
    BadRulesFile(
        name: "regular expression in a profile's parameter, possessive",
        yaml: """
            profiles:
              - id: corp
                extends: baseline
                parameters:
                  MP-BANNER-DISCLOSURE:
                    patterns:
                      - 'Exim'
                      - '\\d++'
            """,
        message:
            "user.yaml:7: invalid regular expression '\\d++' in parameter 'patterns' of MP-BANNER-DISCLOSURE in profile corp: possessive quantifiers (a*+, a++, a?+) are not supported"
    ),
    BadRulesFile(
        name: "duplicate id of a built-in rule",
        yaml: """
            rules:
              - id: MP-PORT-25
                title: mine
                severity: low
            """,
        message: "user.yaml:2: duplicate rule id 'MP-PORT-25' (first defined at builtin:Rules/rules/ports.yaml:"),
    BadRulesFile(
        name: "duplicate id within the file",
        yaml: """
            rules:
              - {id: CORP-X, title: x, severity: low, match: {port: 25}}
              - {id: CORP-X, title: y, severity: low, match: {port: 26}}
            """, message: "user.yaml:3: duplicate rule id 'CORP-X' (first defined at user.yaml:2)"),
    BadRulesFile(
        name: "custom rule without match",
        yaml: """
            rules:
              - {id: CORP-X, title: x, severity: low}
            """, message: "user.yaml:2: rule 'CORP-X' has no 'match' and there is no built-in check of that id"),
    BadRulesFile(
        name: "custom rule in the reserved prefix",
        yaml: """
            rules:
              - {id: MP-MINE, title: x, severity: low, match: {port: 25}}
            """, message: "user.yaml:2: custom rule id 'MP-MINE' uses the reserved MP- prefix"),
    BadRulesFile(
        name: "duplicate key",
        yaml: """
            rules:
              - id: CORP-X
                title: x
                title: y
            """, message: "user.yaml:3: duplicate key 'title'; expected each key once"),
    BadRulesFile(
        name: "profile extends an unknown profile",
        yaml: """
            profiles:
              - {id: corp, extends: baseIine}
            """, message: "user.yaml:2: profile 'corp' extends unknown profile 'baseIine'"),
    BadRulesFile(
        name: "profile names an unknown rule",
        yaml: """
            profiles:
              - id: corp
                extends: baseline
                severities: {MP-PORT-26: low}
            """, message: "user.yaml:2: profile 'corp' names unknown rule 'MP-PORT-26' in 'severities'"),
    BadRulesFile(
        name: "profile sets a parameter a check does not take",
        yaml: """
            profiles:
              - id: corp
                parameters:
                  MP-CERT-EXPIRING: {weeks: 4}
            """, message: "user.yaml:4: unknown parameter 'weeks' for rule MP-CERT-EXPIRING; expected days"),
    BadRulesFile(
        name: "profiles extending each other",
        yaml: """
            profiles:
              - {id: a, extends: b}
              - {id: b, extends: a}
            """, message: "user.yaml:2: profile 'a' extends itself through"),
    BadRulesFile(
        name: "adjustment with severity and shift",
        yaml: """
            profiles:
              - id: corp
                adjustments:
                  - {rules: [MP-PORT-25], severity: low, shift: 1, reason: both}
            """, message: "user.yaml:4: an adjustment of profile corp needs exactly one of 'severity' and 'shift'"),
    BadRulesFile(
        name: "grade label that is not one",
        yaml: """
            grades:
              order: [A+, A, "A <b>", F]
              by-severity: {critical: F, high: F, medium: A, low: A, info: A}
              clean: A
              best: A+
            """,
        message:
            "user.yaml:2: invalid grade 'A <b>' in 'order' in grades; expected a grade label of 1 to 8 ASCII letters, digits, + or - (such as A+, A, B, F)"
    ),
    BadRulesFile(name: "not YAML", yaml: "rules: [\n  - id: x\n", message: "user.yaml:2: not valid YAML"),
    BadRulesFile(
        name: "unknown top-level key", yaml: "rulez: []\n",
        message: "user.yaml:1: unknown key 'rulez' in a rules file; expected one of: base, rules, profiles, grades"),
]

@Suite("Rule loading")
struct LoaderTests {
    @Test(arguments: badRulesFiles)
    func rejects(_ bad: BadRulesFile) {
        do {
            _ = try RuleLoader.load(layers: [BuiltinRuleFiles.files, [("user.yaml", bad.yaml)]])
            Issue.record("loaded a bad file")
        } catch let error as MailPortError {
            #expect(error.message.hasPrefix(bad.message), "got: \(error.message)")
            #expect(error.exitStatus == ExitStatus.usage)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test(
        "a built-in rule's parameters are checked against its check",
        arguments: [
            (
                "parameters: {days: many}",
                "invalid parameter 'days' of MP-CERT-EXPIRING 'many'; expected a whole number from 1 to 3650"
            ),
            ("parameters: {}", "rule MP-CERT-EXPIRING lacks parameter 'days'; expected a whole number from 1 to 3650"),
        ])
    func builtinParameters(_ line: String, _ message: String) {
        let files = BuiltinRuleFiles.files.map { file in
            (file.name, file.text.replacingOccurrences(of: "    parameters:\n      days: 30", with: "    \(line)"))
        }
        #expect(files.map(\.1) != BuiltinRuleFiles.files.map(\.text), "the substitution applied")
        #expect { try RuleLoader.load(layers: [files]) } throws: { error in
            (error as? MailPortError)?.message.contains(message) == true
        }
    }

    @Test("the compiled-in rules are exactly Rules/ (run `make rules` after editing Rules/)")
    func embeddedCopyIsCurrent() throws {
        #expect(!BuiltinRuleFiles.files.isEmpty)
        for file in BuiltinRuleFiles.files {
            let path = ProjectPaths.root + "/" + file.name.replacingOccurrences(of: "builtin:", with: "")
            let onDisk = try String(contentsOfFile: path, encoding: .utf8)
            #expect(onDisk == file.text, "\(path) differs from the compiled-in copy")
        }
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: ProjectPaths.root + "/Rules")
            .filter { $0.hasSuffix(".yaml") }
        #expect(onDisk.count == BuiltinRuleFiles.files.count, "every rule file is compiled in: \(onDisk)")
    }

    @Test("Rules/ on disk loads on its own (base: none) and matches the built-in set")
    func folderLoads() throws {
        let fromDisk = try RuleLoader.load(paths: [
            ProjectPaths.root + "/Rules/ruleset.yaml", ProjectPaths.root + "/Rules/rules",
            ProjectPaths.root + "/Rules/profiles",
        ])
        #expect(!fromDisk.rules.isEmpty)
        #expect(try fromDisk.rules.map(\.id) == Fixture.builtin.rules.map(\.id))
    }

    @Test("the example custom rules load and fire where documented")
    func examples() throws {
        let ruleSet = try RuleLoader.load(paths: [ProjectPaths.root + "/Examples/custom-rules.yaml"])
        let exim = F.host(
            F.endpoint(25, dialog: F.smtp(banner: "mx.example.org ESMTP Exim 4.87 Tue, 1 Jun 2026")),
            F.endpoint(2525, .submission, dialog: F.smtp()))
        let findings = Fixture.findings(try Fixture.judge([exim], ruleSet: ruleSet))
        #expect(findings.contains { $0.rule == "CORP-EXIM-OLD" && $0.evidence.contains("Exim 4.87") })
        #expect(findings.contains { $0.rule == "CORP-PORT-2525" })
        let modern = F.host(F.endpoint(25, dialog: F.smtp(banner: "mx.example.org ESMTP Exim 4.97")))
        #expect(
            !Fixture.findings(try Fixture.judge([modern], ruleSet: ruleSet)).contains { $0.rule == "CORP-EXIM-OLD" })
        _ = try WaiverLoader.load(path: ProjectPaths.root + "/Examples/waivers.yaml", ruleSet: ruleSet)
    }
}

@Suite("Matcher language")
struct MatcherTests {
    static func fires(_ match: String, on host: ScanReport.Host) throws -> [ScanReport.Finding] {
        let ruleSet = try RuleLoader.load(layers: [
            BuiltinRuleFiles.files,
            [
                (
                    "m.yaml",
                    """
                    rules:
                      - id: TEST-MATCH
                        title: test
                        severity: low
                        match: \(match)
                    """
                )
            ],
        ])
        return Fixture.findings(try Fixture.judge([host], ruleSet: ruleSet)).filter { $0.rule == "TEST-MATCH" }
    }

    static let plainIMAP = F.host(
        F.endpoint(143, dialog: F.imap()),
        F.endpoint(993, dialog: F.imap(tls: F.tls(chain: [F.certificate(notAfter: 20, keyBits: 4096)]))),
        address: "192.0.2.9")

    @Test(
        "conditions over facts",
        arguments: [
            ("{port: 143}", [143]),
            ("{port: [143, 993]}", [143, 993]),
            ("{service: IMAPS}", [993]),
            ("{capabilities: LOGINDISABLED}", [143, 993]),
            ("{capabilities: {lacks: STARTTLS}}", []),
            ("{cert.days-left: {below: 30}}", [993]),
            ("{cert.key-bits: {at-least: 4096}}", [993]),
            ("{tls.version: TLSv1.3}", [993]),
            ("{address: {in: 192.0.2.0/28}}", [143, 993]),
            ("{address: {in: 192.0.2.16/28}}", []),
            ("{host.open-ports: {contains: '993'}}", [143, 993]),
            ("{banner: {regex: '(?i)dovecot'}}", [143, 993]),
            ("{any: [{port: 1}, {transport: implicit-tls}]}", [993]),
            ("{port: 143, transport: plain}", [143]),
        ])
    func conditions(_ match: String, _ ports: [Int]) throws {
        let fired = try Self.fires(match, on: Self.plainIMAP)
        #expect(
            fired.map { Int($0.evidence.split(separator: "/").first!)! }.sorted() == ports, "\(fired.map(\.evidence))")
    }

    @Test("an unknown fact is unknown, not false: `not` does not turn a missing certificate into a verdict")
    func unknownStaysUnknown() throws {
        // 143 has no TLS: cert.days-left is unknown there, so neither the test nor its negation fires on 143.
        #expect(try Self.fires("{not: {cert.days-left: {below: 30}}}", on: Self.plainIMAP).isEmpty)
        // 993's certificate has 20 days left: not below 10, so the negation fires there, and only there.
        let notBelowTen = try Self.fires("{not: {cert.days-left: {below: 10}}}", on: Self.plainIMAP)
        #expect(notBelowTen.map { $0.evidence.prefix(4) } == ["993/"])
        #expect(
            try Self.fires("{any: [{cert.days-left: {below: 30}}, {port: 143}]}", on: Self.plainIMAP).count == 2,
            "true or unknown is true")
        #expect(
            try Self.fires("{all: [{cert.days-left: {below: 30}}, {port: 143}]}", on: Self.plainIMAP).isEmpty,
            "unknown and true is not true")
    }

    @Test("a partly unknown list decides only what more members could not change")
    func partialLists() throws {
        var tls = F.tls(versions: ["TLSv1.3", "TLSv1.1"])
        tls.versionsUnknown = ["TLSv1", "SSLv3"]
        let host = F.host(F.endpoint(993, dialog: F.imap(tls: tls)))
        #expect(try Self.fires("{tls.versions-accepted: {contains: TLSv1.1}}", on: host).count == 1, "known accepted")
        #expect(
            try Self.fires("{tls.versions-accepted: {contains: TLSv1}}", on: host).isEmpty, "unknown is not accepted")
        #expect(
            try Self.fires("{tls.versions-accepted: {lacks: TLSv1}}", on: host).isEmpty, "unknown is not refused either"
        )
        #expect(try Self.fires("{not: {tls.versions-accepted: {contains: TLSv1}}}", on: host).isEmpty)
        #expect(
            try Self.fires("{not: {tls.versions-accepted: {lacks: TLSv1.1}}}", on: host).count == 1,
            "lacks of a known member is false")
        #expect(try Self.fires("{tls.versions-accepted: {empty: true}}", on: host).isEmpty)
        tls.versionsUnknown = nil
        let known = F.host(F.endpoint(993, dialog: F.imap(tls: tls)))
        #expect(
            try Self.fires("{tls.versions-accepted: {lacks: TLSv1}}", on: known).count == 1,
            "with every answer known, lacks decides")
    }

    @Test("evidence names the facts that matched")
    func evidence() throws {
        let fired = try Self.fires("{all: [{port: 993}, {cert.days-left: {below: 30}}]}", on: Self.plainIMAP)
        #expect(fired.first?.evidence == "993/imaps: port = 993; cert.days-left = 20")
    }
}
