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
struct RuleRollup {
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

extension ScanReport {
    /// Counted findings by rule and severity (a profile may give one rule two severities), worst first, then the
    /// widest spread, then by rule id.
    var ruleRollup: [RuleRollup] {
        struct Key: Hashable {
            var rule: String
            var severity: Severity
        }
        var hosts: [Key: Set<String>] = [:]
        var endpoints: [Key: Set<String>] = [:]
        var domains: [Key: Set<String>] = [:]
        var titles: [Key: String] = [:]
        func key(_ finding: Finding) -> Key {
            let key = Key(rule: finding.rule, severity: finding.severity)
            titles[key] = titles[key] ?? rules[key.rule]?.title ?? finding.title
            return key
        }
        // Host by host, then the domains (a large run's hosts are on disk, read one at a time).
        for host in self.hosts {
            for endpoint in host.endpoints {
                for finding in endpoint.findings where !finding.waived {
                    let key = key(finding)
                    hosts[key, default: []].insert(host.address)
                    endpoints[key, default: []].insert(ScanReport.location(host.address, endpoint.port))
                }
            }
        }
        for domain in self.domains ?? [] {
            for finding in domain.findings where !finding.waived {
                domains[key(finding), default: []].insert(domain.name)
            }
        }
        return titles.keys.map { key in
            RuleRollup(
                rule: key.rule, title: titles[key]!, severity: key.severity, hosts: hosts[key]?.count ?? 0,
                endpoints: endpoints[key]?.count ?? 0, domains: domains[key]?.count ?? 0)
        }.sorted { left, right in
            if left.severity != right.severity { return left.severity > right.severity }
            if left.hosts + left.domains != right.hosts + right.domains {
                return left.hosts + left.domains > right.hosts + right.domains
            }
            return left.rule < right.rule
        }
    }

    /// Open endpoints whose audit is missing facts, with what could not be gathered, in report order.
    /// Where each is and why, not the hosts themselves: a large run's hosts are on disk, read one at a time.
    var incompleteEndpoints: [(address: String, port: UInt16, reason: String)] {
        var found: [(address: String, port: UInt16, reason: String)] = []
        for host in hosts {
            for endpoint in host.endpoints {
                guard let dialog = endpoint.dialog, !dialog.complete else { continue }
                found.append((host.address, endpoint.port, dialog.incompleteReason ?? "incomplete"))
            }
        }
        return found
    }

    /// "1 endpoint incomplete", "3 endpoints incomplete"; nil when every endpoint's facts are whole.
    var incompleteSummary: String? {
        let count = incompleteEndpoints.count
        guard count > 0 else { return nil }
        return "\(count) endpoint\(count == 1 ? "" : "s") incomplete"
    }
}
