import ArgumentParser
import Foundation
import MailPortCore
import MailPortRules
import MailPortTargets

/// How findings are judged: the rule set, profile, waivers, declared MX hosts and the exit-status threshold.
struct RuleOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A rules file or folder layered on the built-in rules (repeatable); see Rules/README.md.", valueName: "path"))
    var rules: [String] = []

    @Option(help: ArgumentHelp("Rule profile: baseline, rfc8314, mx, or one a rules file defines.", valueName: "name"))
    var profile: String = "baseline"

    @Option(help: ArgumentHelp("YAML file of accepted findings (host or CIDR, port, rule, reason, expiry date).", valueName: "file"))
    var waivers: String?

    @Option(name: .customLong("fail-on"), help: ArgumentHelp("Exit with status 1 when a finding at or above this counts: info|low|medium|high|critical|never (default: high; demo: never).", valueName: "severity"))
    var failOn: String?

    @Option(help: ArgumentHelp("A target that is a mail exchanger (repeatable; scanned too): port 25 is expected there.", valueName: "target"))
    var mx: [String] = []

    func validate() throws {
        if let failOn, FailThreshold(failOn) == nil {
            throw ValidationError("invalid --fail-on '\(printable(failOn))'; expected info, low, medium, high, critical or never")
        }
        for token in mx {
            do { _ = try TargetSpec.parse(token) } catch { throw ValidationError(error.message) }
        }
    }

    /// Loads and checks everything before a scan starts, so a typo in a rules or waivers file costs no scan time.
    func makeJudgement(defaultFailOn: FailThreshold = .severity(.high)) throws -> Judgement {
        let ruleSet = try RuleLoader.load(paths: rules)
        let engine = try RuleEngine(ruleSet: ruleSet, profile: profile)
        let waiverList = try waivers.map { try WaiverLoader.load(path: $0, ruleSet: ruleSet) } ?? []
        return Judgement(engine: engine, waivers: waiverList, failOn: failOn.flatMap(FailThreshold.init) ?? defaultFailOn)
    }
}

/// Stages 4 and 5, ready to run over a report.
struct Judgement: Sendable {
    var engine: RuleEngine
    var waivers: [Waiver]
    var failOn: FailThreshold

    func judge(_ report: ScanReport, now: Date = Date()) -> ScanReport {
        engine.evaluate(report, waivers: waivers, failOn: failOn, now: now)
    }
}
