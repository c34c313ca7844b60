import ArgumentParser
import Foundation
import MailPortCompare
import MailPortConfig
import MailPortCore
import MailPortScan
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

