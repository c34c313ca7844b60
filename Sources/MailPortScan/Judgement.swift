import Foundation
import MailPortCompare
import MailPortConfig
import MailPortCore
import MailPortReport
import MailPortRules

extension Judgement {
    /// Loads and checks rules, profile, waivers and baseline before a scan starts, so a typo in one of those
    /// files costs no scan time.
    public static func load(
        rules: [String], profile: String, waivers: String?, failOn: FailThreshold, baseline: String?
    ) throws -> Judgement {
        let ruleSet = try RuleLoader.load(paths: rules)
        let engine = try RuleEngine(ruleSet: ruleSet, profile: profile)
        let waiverList = try waivers.map { try WaiverLoader.load(path: $0, ruleSet: ruleSet) } ?? []
        var earlier: Baseline.Earlier?
        if let baseline {
            // Host by host: only the earlier findings' keys are kept, not the report.
            var read = Baseline.Earlier(file: baseline)
            let frame = try ReportReader.stream(baseline, what: "baseline") { host throws(MailPortError) in
                read.add(host)
            }
            read.finish(frame)
            earlier = read
        }
        return Judgement(engine: engine, waivers: waiverList, failOn: failOn, baseline: earlier)
    }
}

/// Stages 4 and 5, ready to run over a report.
public struct Judgement: Sendable {
    public var engine: RuleEngine
    public var waivers: [Waiver]
    public var failOn: FailThreshold
    /// `--baseline`: what the comparison needs of the earlier report.
    public var baseline: Baseline.Earlier?

    public init(
        engine: RuleEngine, waivers: [Waiver], failOn: FailThreshold, baseline: Baseline.Earlier?
    ) {
        self.engine = engine
        self.waivers = waivers
        self.failOn = failOn
        self.baseline = baseline
    }

    /// `warning` hears what the rules could not decide (see `RuleEngine.evaluate`).
    public func judge(_ report: ScanReport, now: Date = Date(), warning: (String) -> Void = { _ in }) -> ScanReport {
        comparedWithBaseline(engine.evaluate(report, waivers: waivers, failOn: failOn, now: now, warning: warning))
    }

    /// Judging host by host, for a run that makes its hosts one at a time: each goes through the judging's
    /// `judge(_:)` as it is made, then `finish` judges the domains and the whole and compares with the baseline.
    public func startJudging(now: Date, domains: [DomainObservation]) -> RuleEngine.HostJudging {
        engine.startJudging(waivers: waivers, now: now, domains: domains)
    }

    public func finish(
        _ judging: inout RuleEngine.HostJudging, _ report: ScanReport, warning: (String) -> Void = { _ in }
    ) -> ScanReport {
        comparedWithBaseline(judging.finish(report, failOn: failOn, warning: warning))
    }

    /// `--baseline`: each finding marked new or unchanged against the earlier report.
    private func comparedWithBaseline(_ judged: ScanReport) -> ScanReport {
        guard let baseline else { return judged }
        return Baseline.mark(judged, against: baseline)
    }
}
