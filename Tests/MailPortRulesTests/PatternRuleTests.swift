import Foundation
import MailPortCore
import MailPortPattern
import MailPortTestSupport
import Testing

@testable import MailPortRules

/// A user-written pattern must not hang a run (issue 18): custom rules and profile patterns run on the linear-time
/// engine. With the old backtracking engine, each test here that evaluates `(a+)+$` over a long run of `a` never
/// finishes.
@Suite("Patterns in rules")
struct PatternRuleTests {
    static let hostileRules = """
        rules:
          - id: CORP-NESTED
            title: Nested quantifier
            severity: high
            match: {banner: {regex: '(a+)+$'}}
          - id: CORP-CAPS
            title: Choice repeated
            severity: low
            match: {capabilities: {regex: '(X|XX)+!'}}
        profiles:
          - id: corp
            extends: baseline
            parameters:
              MP-BANNER-DISCLOSURE:
                patterns: ['(.*)*x']
        """

    /// 2,000 bytes of `a` and a `!`: the text on which backtracking tries every way to split the run.
    static let hostileBanner = "220 " + String(repeating: "a", count: 2_000) + "!"

    static func hostileHost(banner: String = hostileBanner) -> ScanReport.Host {
        Fixture.host(
            Fixture.endpoint(
                25,
                dialog: Fixture.smtp(banner: banner, extensions: [String(repeating: "X", count: 2_000), "STARTTLS"])))
    }

    @Test(
        "a rules file with nested quantifiers loads; each such pattern is a warning with FILE:LINE, the built-in ones none"
    )
    func warnings() async throws {
        let ruleSet = try RuleLoader.load(layers: [BuiltinRuleFiles.files, [("user.yaml", Self.hostileRules)]])
        let warnings = ruleSet.patternWarnings
        #expect(warnings.count == 3, "\(warnings)")
        #expect(
            warnings.contains(
                "user.yaml:5: the pattern '(a+)+$' has a repetition inside a repetition over the same characters (as in (a+)+ or (a*)*): it runs in linear time here but usually means the inner or the outer quantifier is a mistake"
            ))
        #expect(
            warnings.contains {
                $0.hasPrefix(
                    "user.yaml:9: the pattern '(X|XX)+!' has a repeated choice whose branches can begin with the same character"
                )
            })
        #expect(
            warnings.contains {
                $0.hasPrefix("user.yaml:15: the pattern '(.*)*x' has a repetition inside a repetition")
            })
        #expect(try Fixture.builtin.patternWarnings.isEmpty)
    }

    @Test(
        "a custom rule with (a+)+$ judges a hostile 2,000-byte banner through the rule engine, and fires when it matches"
    )
    func hostileBanner() async throws {
        let ruleSet = try RuleLoader.load(layers: [BuiltinRuleFiles.files, [("user.yaml", Self.hostileRules)]])
        var warnings: [String] = []
        let quiet = try RuleEngine(ruleSet: ruleSet, profile: "corp")
            .evaluate(Fixture.report([Self.hostileHost()]), failOn: .never, now: Fixture.now) { warnings.append($0) }
        let rules = Set(Fixture.findings(quiet).map(\.rule))
        #expect(
            !rules.contains("CORP-NESTED") && !rules.contains("CORP-CAPS") && !rules.contains("MP-BANNER-DISCLOSURE"))
        #expect(warnings.isEmpty)

        let matching = Self.hostileHost(banner: "220 " + String(repeating: "a", count: 2_000))
        let fired = try RuleEngine(ruleSet: ruleSet, profile: "corp")
            .evaluate(Fixture.report([matching]), failOn: .never, now: Fixture.now)
        #expect(Fixture.findings(fired).contains { $0.rule == "CORP-NESTED" })
    }

    @Test("the built-in banner patterns give the evidence they gave under Swift Regex (the demo's golden reports)")
    func builtinEvidence() async throws {
        let host = Fixture.host(
            Fixture.endpoint(
                10025, .smtp,
                dialog: Fixture.smtp(banner: "127.77.0.3 ESMTP Sendmail 8.12.11/8.12.11 MailPort demo lab")))
        let evidence = Fixture.findings(try Fixture.judge([host])).first { $0.rule == "MP-BANNER-DISCLOSURE" }?.evidence
        #expect(evidence == "10025/smtp greeting names 'Sendmail 8.12.11'")
    }

    @Test("a search that uses up its step budget leaves the fact unknown (no finding) and is told as a warning")
    func undecided() async throws {
        // A small budget stands in for a very long text: the path is the same.
        let pattern = try TextPattern("(a+)+$", origin: "user.yaml:5", stepLimit: 1_000)
        let rule = RuleDefinition(
            id: "CORP-NESTED", title: "Nested", description: "", severity: .high, enabled: true,
            parameters: RuleParameters(),
            remediation: [:], references: [],
            logic: .matcher(.test(fact: Fact.all["banner"]!, condition: .regex(pattern))), origin: "user.yaml:2"
        )
        var ruleSet = try Fixture.builtin
        ruleSet.rules.append(rule)
        var notMatcher = ruleSet
        notMatcher.rules[notMatcher.rules.count - 1].logic = .matcher(
            .not(.test(fact: Fact.all["banner"]!, condition: .regex(pattern))))
        for set in [ruleSet, notMatcher] {
            var warnings: [String] = []
            let judged = try RuleEngine(ruleSet: set, profile: "baseline")
                .evaluate(Fixture.report([Self.hostileHost()]), failOn: .never, now: Fixture.now) {
                    warnings.append($0)
                }
            #expect(
                !Fixture.findings(judged).contains { $0.rule == "CORP-NESTED" },
                "unknown, and `not` of unknown, do not fire")
            #expect(
                warnings == [
                    "192.0.2.10 25/smtp: the pattern '(a+)+$' (user.yaml:5) was left undecided: the search gave up after 1000 steps on a text of 2005 characters; expected a shorter text or a smaller pattern"
                ])
        }
    }

    @Test(
        "mailport rules validate warns about (a+)+$ on standard error and exits 0; a backreference exits 2 with FILE:LINE",
        .rootTier)
    func validateCommand() async throws {
        let folder = makeTemporaryDirectory()
        let path = folder + "/corp.yaml"
        try Self.hostileRules.write(toFile: path, atomically: true, encoding: .utf8)
        let outcome = try await runProgram(ProjectPaths.mailport, ["rules", "validate", path], timeLimit: 60)
        #expect(
            outcome.status == 0 && outcome.standardOutput.contains("valid; 56 rules (2 custom)"),
            "\(outcome.standardOutput)\(outcome.standardError)")
        let lines = outcome.standardError.split(separator: "\n")
        #expect(lines.count == 3, "\(outcome.standardError)")
        #expect(
            lines.first
                == "mailport: warning: \(path):5: the pattern '(a+)+$' has a repetition inside a repetition over the same characters (as in (a+)+ or (a*)*): it runs in linear time here but usually means the inner or the outer quantifier is a mistake"
        )

        let refused = folder + "/backref.yaml"
        try "rules:\n  - {id: CORP-X, title: x, severity: low, match: {banner: {regex: '(a)\\1'}}}\n"
            .write(toFile: refused, atomically: true, encoding: .utf8)
        let failed = try await runProgram(ProjectPaths.mailport, ["rules", "validate", refused], timeLimit: 60)
        #expect(failed.status == 2)
        #expect(
            failed.standardError.hasPrefix(
                "mailport: error: \(refused):2: invalid regular expression '(a)\\1': backreferences"),
            "\(failed.standardError)")
    }
}
