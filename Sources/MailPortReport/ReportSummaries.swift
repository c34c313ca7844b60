import Foundation
import MailPortCore

/// What `--fail-on` made of a report, in the words every output uses (HTML, Markdown, the terminal's verdict line).
/// "Passes" is said only when nothing of medium or worse counts: a gate that was off, or set above the worst finding,
/// is named as such, so an F or C grade never sits next to a green pass.
public enum GateVerdict: Equatable, Sendable {
    /// A counted finding met `--fail-on` (exit status 1).
    case fails(Severity)
    /// `--fail-on never`.
    case gateOff
    /// Counted findings of medium or worse, all below `--fail-on`: the gate did not trip, but the run is no pass.
    case belowGate(threshold: Severity, worst: Severity)
    /// Nothing of medium or worse counts, and the gate did not trip.
    case passes(Severity)

    public init(_ report: ScanReport) {
        self.init(
            failOn: report.summary.failOn, failed: report.summary.failed,
            findingsBySeverity: report.summary.findingsBySeverity)
    }

    /// From a summary's fields (`findingsBySeverity`: counted findings).
    public init(failOn: FailThreshold, failed: Bool, findingsBySeverity: [String: Int]) {
        let worst = Severity.allCases.last { (findingsBySeverity[$0.rawValue] ?? 0) > 0 }
        switch failOn {
        case .never: self = .gateOff
        case .severity(let threshold):
            if failed {
                self = .fails(threshold)
            } else if let worst, worst >= .medium {
                self = .belowGate(threshold: threshold, worst: worst)
            } else {
                self = .passes(threshold)
            }
        }
    }

    /// "fails --fail-on high", "gate off (--fail-on never)", "not gated at critical (worst finding: high)",
    /// "passes --fail-on high".
    public var text: String { phrase { $0 } }

    /// The same words with the option written by `option` (Markdown puts it in backticks).
    func phrase(_ option: (String) -> String) -> String {
        switch self {
        case .fails(let threshold): return "fails \(option("--fail-on \(threshold.rawValue)"))"
        case .gateOff: return "gate off (\(option("--fail-on never")))"
        case .belowGate(let threshold, let worst):
            return "not gated at \(threshold.rawValue) (worst finding: \(worst.rawValue))"
        case .passes(let threshold): return "passes \(option("--fail-on \(threshold.rawValue)"))"
        }
    }

    /// The HTML class: only a pass is green, only a failure red.
    var cssClass: String {
        switch self {
        case .fails: return "fail"
        case .gateOff, .belowGate: return "ungated"
        case .passes: return "pass"
        }
    }
}

/// Durations as reports print them: hundredths of a second, so a fast scan reads 0.42 s rather than 0 s.
public enum ReportDuration {
    public static func text(_ seconds: Double) -> String { String(format: "%.2f s", seconds) }
}

/// One rule's counted findings across the report: what a team fixes from ("MP-PORT-25 on 10 hosts").
struct RuleRollup: Equatable {
    var rule: String
    var title: String
    var severity: Severity
    var hosts: Int
    var endpoints: Int
    var domains: Int

    /// "on 2 hosts (3 endpoints)", "on 1 domain".
    var reach: String {
        var parts: [String] = []
        if hosts > 0 {
            parts.append(
                "on \(hosts) host\(hosts == 1 ? "" : "s") (\(endpoints) endpoint\(endpoints == 1 ? "" : "s"))")
        }
        if domains > 0 { parts.append("on \(domains) domain\(domains == 1 ? "" : "s")") }
        return parts.joined(separator: ", ")
    }
}

/// What the summaries of a report need from its hosts, gathered in one pass (a large run's hosts are on disk, and
/// every pass decodes each of them again): the roll-up by rule, open endpoints by service, the incomplete
/// endpoints (the first `incompleteLimit` of them, and how many in all), and per host only what orders and links
/// it (its grade, worst counted finding, address), never the host itself.
struct ReportDigest {
    /// Incomplete endpoints kept by place; the rest are counted.
    static let incompleteLimit = 200

    struct HostMark {
        var address: String
        var grade: Grade?
        var worst: Severity?
    }

    var rollup: [RuleRollup] = []
    var services: [(service: MailService, count: Int)] = []
    var incomplete: [(address: String, port: UInt16, reason: String, host: Int)] = []
    var incompleteCount = 0
    /// One per host, in report order.
    var marks: [HostMark] = []
    /// Where each address's (first) host is in the report.
    var hostIndex: [String: Int] = [:]

    /// A finding's place in the roll-up: a profile may give one rule two severities.
    struct RollupKey: Hashable {
        var rule: String
        var severity: Severity
    }

    /// How far one rule and severity reached.
    struct Reach {
        var hosts = 0
        var endpoints = 0
        var domains = 0
    }

    /// What one run of consecutive hosts adds to the digest; runs are gathered apart, on all cores, and merged in
    /// report order.
    struct Part {
        var reach: [RollupKey: Reach] = [:]
        /// Titles by first sight (the report's rule title, or the finding's own for a rule it does not list).
        var titles: [RollupKey: String] = [:]
        var serviceCounts: [MailService: Int] = [:]
        var incomplete: [(address: String, port: UInt16, reason: String, host: Int)] = []
        var incompleteCount = 0
        var marks: [HostMark] = []

        mutating func key(_ finding: ScanReport.Finding, rules: [String: ScanReport.RuleDescription]) -> RollupKey {
            let key = RollupKey(rule: finding.rule, severity: finding.severity)
            if titles[key] == nil { titles[key] = rules[key.rule]?.title ?? finding.title }
            return key
        }

        /// A report lists each address once, so counting per host and per endpoint is counting distinct ones.
        mutating func add(_ host: ScanReport.Host, at index: Int, rules: [String: ScanReport.RuleDescription]) {
            var hostKeys: Set<RollupKey> = []
            var worst: Severity?
            for endpoint in host.endpoints {
                if endpoint.state == .open { serviceCounts[endpoint.service, default: 0] += 1 }
                var endpointKeys: Set<RollupKey> = []
                for finding in endpoint.findings where !finding.waived {
                    endpointKeys.insert(key(finding, rules: rules))
                    worst = max(worst ?? finding.severity, finding.severity)
                }
                for key in endpointKeys { reach[key, default: Reach()].endpoints += 1 }
                hostKeys.formUnion(endpointKeys)
                if let dialog = endpoint.dialog, !dialog.complete {
                    incompleteCount += 1
                    if incomplete.count < ReportDigest.incompleteLimit {
                        incomplete.append(
                            (host.address, endpoint.port, dialog.incompleteReason ?? "incomplete", index))
                    }
                }
            }
            for key in hostKeys { reach[key, default: Reach()].hosts += 1 }
            marks.append(HostMark(address: host.address, grade: host.grade, worst: worst))
        }

        /// `later` covers the hosts right after these.
        mutating func merge(_ later: Part) {
            reach.merge(later.reach) { mine, theirs in
                Reach(hosts: mine.hosts + theirs.hosts, endpoints: mine.endpoints + theirs.endpoints, domains: 0)
            }
            titles.merge(later.titles) { mine, _ in mine }
            serviceCounts.merge(later.serviceCounts, uniquingKeysWith: +)
            incomplete += later.incomplete.prefix(ReportDigest.incompleteLimit - incomplete.count)
            incompleteCount += later.incompleteCount
            marks += later.marks
        }
    }

    /// `eachHost` sees every host on the way, with its index (a writer that needs more of each host than the
    /// digest keeps takes it there instead of reading the hosts again). The hosts are read in runs of consecutive
    /// hosts on all cores at once (reading a spooled host decodes it, and a writer's work per host is most of a
    /// report's time): `eachHost` is called from several threads, in index order within a run, never twice for
    /// one index. `parts` sets the number of runs (tests compare splits); by default one per core.
    init(
        _ report: ScanReport, parts: Int? = nil,
        eachHost: @escaping @Sendable (Int, ScanReport.Host) -> Void = { _, _ in }
    ) {
        let hosts = report.hosts
        let rules = report.rules
        let runs = consecutiveRuns(of: hosts.count, parts: parts)
        var gathered = onThreads(runs.count) { run in
            var part = Part()
            part.marks.reserveCapacity(runs[run].count)
            for index in runs[run] {
                let host = hosts[index]
                part.add(host, at: index, rules: rules)
                eachHost(index, host)
            }
            return part
        }
        var whole = gathered.removeFirst()
        for part in gathered { whole.merge(part) }
        marks = whole.marks
        incomplete = whole.incomplete
        incompleteCount = whole.incompleteCount
        for (index, mark) in marks.enumerated() where hostIndex[mark.address] == nil {
            hostIndex[mark.address] = index
        }
        for domain in report.domains ?? [] {
            var domainKeys: Set<RollupKey> = []
            for finding in domain.findings where !finding.waived { domainKeys.insert(whole.key(finding, rules: rules)) }
            for key in domainKeys { whole.reach[key, default: Reach()].domains += 1 }
        }
        services = MailService.allCases.map { service in (service, whole.serviceCounts[service] ?? 0) }
        rollup = whole.titles.map { key, title in
            let counted = whole.reach[key] ?? Reach()
            return RuleRollup(
                rule: key.rule, title: title, severity: key.severity, hosts: counted.hosts,
                endpoints: counted.endpoints, domains: counted.domains)
        }.sorted { left, right in
            if left.severity != right.severity { return left.severity > right.severity }
            if left.hosts + left.domains != right.hosts + right.domains {
                return left.hosts + left.domains > right.hosts + right.domains
            }
            return left.rule < right.rule
        }
    }

    /// "1 endpoint incomplete", "3 endpoints incomplete"; nil when every endpoint's facts are whole.
    var incompleteSummary: String? {
        guard incompleteCount > 0 else { return nil }
        return "\(incompleteCount) endpoint\(incompleteCount == 1 ? "" : "s") incomplete"
    }

    /// The hosts' positions in the report, worst first: by grade (F first; a grade outside the built-in scale after
    /// it, no grade last), then by the worst counted finding, then by address (numerically).
    var worstFirst: [Int] {
        func gradeOrder(_ grade: Grade?) -> Int {
            guard let grade else { return Int.max }
            guard let rank = Grade.builtinOrder.firstIndex(of: grade) else { return Grade.builtinOrder.count }
            return Grade.builtinOrder.count - 1 - rank
        }
        let keys = marks.map { mark in
            (
                gradeOrder(mark.grade), mark.worst.map { -(Severity.allCases.firstIndex(of: $0)! + 1) } ?? 0,
                HTMLReportWriter.sortKey(mark.address)
            )
        }
        return marks.indices.sorted { left, right in
            let (a, b) = (keys[left], keys[right])
            if a.0 != b.0 { return a.0 < b.0 }
            if a.1 != b.1 { return a.1 < b.1 }
            if a.2 != b.2 { return a.2 < b.2 }
            return left < right
        }
    }
}

extension ScanReport {
    /// Counted findings by rule and severity (a profile may give one rule two severities), worst first, then the
    /// widest spread, then by rule id.
    var ruleRollup: [RuleRollup] { ReportDigest(self).rollup }
}
