import MailPortCore
import MailPortTargets

/// `--baseline OLD.json`: compares a judged report with an earlier one. Each finding is `new` or `unchanged`
/// (same rule on the same address and port); findings of the old report that are gone are listed as resolved, but
/// only for addresses the new scan covered, so narrowing the targets does not pass for fixing things.
public enum Baseline {
    /// A finding's identity across runs.
    struct Key: Hashable {
        var address: String
        var port: UInt16
        var rule: String
    }

    public static func mark(_ report: ScanReport, against old: ScanReport, oldFile: String) -> ScanReport {
        var report = report
        var oldKeys: [Key: (ScanReport.Host, ScanReport.Endpoint, ScanReport.Finding)] = [:]
        for host in old.hosts {
            for endpoint in host.endpoints {
                for finding in endpoint.findings {
                    oldKeys[Key(address: host.address, port: endpoint.port, rule: finding.rule)] = (host, endpoint, finding)
                }
            }
        }
        var seen: Set<Key> = []
        for h in report.hosts.indices {
            for e in report.hosts[h].endpoints.indices {
                for f in report.hosts[h].endpoints[e].findings.indices {
                    let key = Key(address: report.hosts[h].address, port: report.hosts[h].endpoints[e].port,
                                  rule: report.hosts[h].endpoints[e].findings[f].rule)
                    seen.insert(key)
                    report.hosts[h].endpoints[e].findings[f].status = oldKeys[key] == nil ? "new" : "unchanged"
                }
            }
        }
        let covered = Coverage(report.scan.targets, excludes: report.scan.excludes)
        let resolved = oldKeys.filter { key, value in
            !seen.contains(key) && covered.contains(address: key.address, names: value.0.names)
        }.map { key, value in
            ScanReport.ResolvedFinding(address: key.address, port: key.port, rule: key.rule,
                                       severity: value.2.severity, title: value.2.title)
        }.sorted { left, right in
            if left.severity != right.severity { return left.severity > right.severity }
            return (left.address, left.port, left.rule) < (right.address, right.port, right.rule)
        }
        report.baseline = ScanReport.BaselineComparison(
            file: oldFile, startedAt: old.scan.startedAt,
            newFindings: report.hosts.flatMap(\.endpoints).flatMap(\.findings).filter { $0.status == "new" }.count,
            unchangedFindings: report.hosts.flatMap(\.endpoints).flatMap(\.findings).filter { $0.status == "unchanged" }.count,
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
