import ArgumentParser
import Foundation
import MailPortCompare
import MailPortConfig
import MailPortCore
import MailPortReport
import MailPortRules
import MailPortTargets

/// How findings are judged: the rule set, profile, waivers, declared MX hosts and the exit-status threshold.
struct RuleOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A rules file or folder layered on the built-in rules (repeatable); see Rules/README.md.", valueName: "path"))
    var rules: [String] = []

    @Option(help: ArgumentHelp("Rule profile: baseline, rfc8314, mx, or one a rules file defines (default: \(ScanDefaults.profile)).", valueName: "name"))
    var profile: String?

    @Option(help: ArgumentHelp("YAML file of accepted findings (host or CIDR, port, rule, reason, expiry date).", valueName: "file"))
    var waivers: String?

    @Option(name: .customLong("fail-on"), help: ArgumentHelp("Exit with status 1 when a finding at or above this counts: info|low|medium|high|critical|never (default: high; demo: never).", valueName: "severity"))
    var failOn: String?

    @Option(help: ArgumentHelp("A target that is a mail exchanger (repeatable; scanned too): port 25 is expected there.", valueName: "target"))
    var mx: [String] = []

    @Option(help: ArgumentHelp("An earlier JSON report: mark each finding new or unchanged and list resolved ones.", valueName: "file"))
    var baseline: String?

    func validate() throws {
        if let failOn, let expected = OptionChecks.failOn(failOn) {
            throw ValidationError("invalid --fail-on '\(printable(failOn))'; expected \(expected)")
        }
        for token in mx {
            if let problem = OptionChecks.target(token) { throw ValidationError(problem) }
        }
    }

    func values(into values: inout OptionValues) {
        values.rules = rules.isEmpty ? nil : rules
        values.profile = profile
        values.waivers = waivers
        values.failOn = failOn
        values.mx = mx.isEmpty ? nil : mx
        values.baseline = baseline
    }
}

extension Judgement {
    /// Loads and checks rules, profile, waivers and baseline before a scan starts, so a typo in one of those
    /// files costs no scan time.
    static func load(rules: [String], profile: String, waivers: String?, failOn: FailThreshold, baseline: String?) throws -> Judgement {
        let ruleSet = try RuleLoader.load(paths: rules)
        let engine = try RuleEngine(ruleSet: ruleSet, profile: profile)
        let waiverList = try waivers.map { try WaiverLoader.load(path: $0, ruleSet: ruleSet) } ?? []
        let earlier = try baseline.map { (try JSONReportWriter.read($0, what: "baseline"), $0) }
        return Judgement(engine: engine, waivers: waiverList, failOn: failOn, baseline: earlier)
    }
}

/// Stages 4 and 5, ready to run over a report.
struct Judgement: Sendable {
    var engine: RuleEngine
    var waivers: [Waiver]
    var failOn: FailThreshold
    /// `--baseline`: the earlier report and its file name.
    var baseline: (report: ScanReport, file: String)?

    func judge(_ report: ScanReport, now: Date = Date()) -> ScanReport {
        let judged = engine.evaluate(report, waivers: waivers, failOn: failOn, now: now)
        guard let baseline else { return judged }
        return Baseline.mark(judged, against: baseline.report, oldFile: baseline.file)
    }
}
