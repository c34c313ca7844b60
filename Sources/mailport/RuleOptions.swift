import ArgumentParser

/// How findings are judged: the rule set, profile, waivers, declared MX hosts and the exit-status threshold.
struct RuleOptions: ParsableArguments {
    @Option(spec: "rules") var rules: [String] = []
    @Option(spec: "profile") var profile: String?
    @Option(spec: "waivers") var waivers: String?
    @Option(spec: "fail-on") var failOn: String?
    @Option(spec: "mx") var mx: [String] = []
    @Option(spec: "baseline") var baseline: String?

    func validate() throws { _ = try validateGivenOptions(self) }
}
