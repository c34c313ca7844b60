import MailPortCore
import MailPortTargets

/// `--baseline OLD.json`: compares a judged report with an earlier one. Each finding is `new` or `unchanged`
/// (same rule on the same address and port); findings of the old report that are gone are listed as resolved, but
/// only for addresses the new scan covered, so narrowing the targets does not pass for fixing things.
public enum Baseline {
    /// A finding's identity across runs.
    struct Key: Hashable, Sendable {
        var address: String
        var port: UInt16
        var rule: String
    }

    /// What a comparison needs of the earlier report: each finding's key, with the host's names (for coverage) and
    /// the severity and title a resolved line shows; nothing else of its hosts. Built host by host as the report is
    /// read (`add`, then `finish` with the rest of the report), so a baseline of 100,000 endpoints is never whole
    /// in memory.
    public struct Earlier: Sendable {
        struct Entry: Sendable {
            var names: [String]
            var severity: Severity
            var title: String
        }

        /// The baseline's file name, as the report records it.
        public let file: String
        var startedAt = ""
        var findings: [Key: Entry] = [:]
        /// Rule ids and titles repeat across hosts: one copy of each is kept.
        private var texts: Set<String> = []

        public init(file: String) {
            self.file = file
        }

        /// A whole report held in memory.
        public init(_ report: ScanReport, file: String) {
            self.init(file: file)
            for host in report.hosts { add(host) }
            finish(report)
        }

        private mutating func shared(_ text: String) -> String { texts.insert(text).memberAfterInsert }

        public mutating func add(_ host: ScanReport.Host) {
            for endpoint in host.endpoints {
                for finding in endpoint.findings {
                    findings[Key(address: host.address, port: endpoint.port, rule: shared(finding.rule))] = Entry(
                        names: host.names, severity: finding.severity, title: shared(finding.title))
                }
            }
        }

        /// The report without its hosts (they were added one by one).
        public mutating func finish(_ frame: ScanReport) {
            startedAt = frame.scan.startedAt
            // Domain findings (`--domain`) are keyed by the domain's name with port 0.
            for domain in frame.domains ?? [] {
                for finding in domain.findings {
                    findings[Key(address: domain.name, port: 0, rule: finding.rule)] = Entry(
                        names: [], severity: finding.severity, title: finding.title)
                }
            }
        }
    }

    public static func mark(_ report: ScanReport, against old: ScanReport, oldFile: String) -> ScanReport {
        mark(report, against: Earlier(old, file: oldFile))
    }

    public static func mark(_ report: ScanReport, against earlier: Earlier) -> ScanReport {
        var report = report
        let oldKeys = earlier.findings
        var seen: Set<Key> = []
        var newFindings = 0
        var unchangedFindings = 0
        // Only keys of the earlier report are remembered: the new report's findings pass through.
        func mark(_ finding: inout ScanReport.Finding, _ key: Key) {
            finding.status = oldKeys[key] == nil ? .new : .unchanged
            if finding.status == .unchanged { seen.insert(key) }
            if finding.status == .new { newFindings += 1 } else { unchangedFindings += 1 }
        }
        let domainNames = Set((report.domains ?? []).map(\.name))
        for d in (report.domains ?? []).indices {
            for f in report.domains![d].findings.indices {
                let key = Key(address: report.domains![d].name, port: 0, rule: report.domains![d].findings[f].rule)
                mark(&report.domains![d].findings[f], key)
            }
        }
        // Host by host, each read and written back once (a large run's hosts are on disk).
        for h in report.hosts.indices {
            var host = report.hosts[h]
            guard host.endpoints.contains(where: { !$0.findings.isEmpty }) else { continue }
            for e in host.endpoints.indices {
                for f in host.endpoints[e].findings.indices {
                    let key = Key(
                        address: host.address, port: host.endpoints[e].port, rule: host.endpoints[e].findings[f].rule)
                    mark(&host.endpoints[e].findings[f], key)
                }
            }
            report.hosts[h] = host
        }
        let covered = Coverage(report.scan.targets, excludes: report.scan.excludes)
        let resolved = oldKeys.filter { key, value in
            guard !seen.contains(key) else { return false }
            if key.port == 0 { return domainNames.contains(key.address) }
            return covered.contains(address: key.address, names: value.names)
        }.map { key, value in
            ScanReport.ResolvedFinding(
                address: key.address, port: key.port, rule: key.rule, severity: value.severity, title: value.title)
        }.sorted { left, right in
            if left.severity != right.severity { return left.severity > right.severity }
            return (left.address, left.port, left.rule) < (right.address, right.port, right.rule)
        }
        report.baseline = ScanReport.BaselineComparison(
            file: earlier.file, startedAt: earlier.startedAt,
            newFindings: newFindings, unchangedFindings: unchangedFindings,
            resolved: resolved
        )
        return report
    }
}

/// The addresses (and names) a scan's target tokens cover.
struct Coverage {
    var addresses: AddressRangeSet
    var names: Set<String> = []

    init(_ targets: [String], excludes: [String]) {
        func ranges(_ tokens: [String], names: inout Set<String>) -> [AddressRange] {
            tokens.compactMap { token in
                guard let spec = try? TargetSpec.parse(token) else { return nil }
                if case .hostname(let name) = spec {
                    names.insert(name.lowercased())
                    return nil
                }
                return AddressRange(spec)
            }
        }
        var excludedNames: Set<String> = []  // only address exclusions narrow the coverage; excluded names are ignored
        addresses = AddressRangeSet(ranges(targets, names: &names))
            .subtracting(AddressRangeSet(ranges(excludes, names: &excludedNames)))
    }

    func contains(address text: String, names hostNames: [String]) -> Bool {
        if hostNames.contains(where: { names.contains($0.lowercased()) }) { return true }
        return IPAddress(text).map(addresses.contains) ?? false
    }
}
