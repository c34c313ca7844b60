import MailPortCore

/// A short Markdown summary for CI job summaries (`$GITHUB_STEP_SUMMARY`) and merge-request comments: the verdict,
/// counts by severity, the worst hosts, and the worst findings that fail the run (at most `findingLimit` of each,
/// with a count of the rest; medium and worse with `--fail-on never`). One pass over the hosts gathers the summary,
/// one more the findings; only the listed hosts are read again, so a large run is never whole in memory. Server text appears
/// only inside escaped table cells: no markup, links, HTML or spreadsheet formulas survive.
public enum MarkdownReportWriter {
    static let findingLimit = 50

    public static func encode(_ report: ScanReport) -> [UInt8] {
        let digest = ReportDigest(report)
        var md = ""
        let verdict = GateVerdict(report).phrase { "`\($0)`" }
        md += "## MailPort: grade \(report.summary.grade?.rawValue ?? "–"), \(verdict)\n\n"
        let targets =
            report.scan.targets.prefix(5).map { cell($0) }.joined(separator: ", ")
            + (report.scan.targets.count > 5 ? ", …" : "")
        md +=
            "Scan of \(targets) with profile `\(cell(report.scan.profile))`, \(report.scan.startedAt) to \(report.scan.finishedAt) (\(ReportDuration.text(report.durationSeconds)))"
        md +=
            report.scan.complete
            ? ".\n" : " — **incomplete**: \(cell(report.scan.incompleteReason ?? "interrupted")).\n"
        md +=
            "\(report.summary.hosts) addresses, \(report.summary.hostsWithOpenPorts) with open ports, \(report.summary.openEndpoints) open endpoints.\n"
        if let errors = report.scan.targetErrors, !errors.isEmpty {
            let listed = errors.prefix(20).map { "\(cell($0.target)) (\(cell($0.error)))" }.joined(separator: ", ")
            md += "**Not scanned**: \(listed)\(errors.count > 20 ? " and \(errors.count - 20) more" : "").\n"
        }
        if let incomplete = digest.incompleteSummary {
            md += "**\(incomplete)** (facts missing; grades rest on what could be asked): see _Incomplete endpoints_.\n"
        }
        if let baseline = report.baseline {
            md +=
                "Compared with \(cell(baseline.file)) (\(cell(baseline.startedAt))): **\(baseline.newFindings) new**, \(baseline.unchangedFindings) unchanged, \(baseline.resolved.count) resolved.\n"
        }
        md += "\n"

        md += "| severity | findings |\n|---|---:|\n"
        for severity in Severity.allCases.reversed() {
            md += "| \(severity.rawValue) | \(report.summary.findingsBySeverity[severity.rawValue] ?? 0) |\n"
        }
        if report.summary.waivedFindings > 0 { md += "| waived | \(report.summary.waivedFindings) |\n" }
        md += "\n"

        // What a team fixes from: each rule once, with how far it reaches, worst first.
        let rollup = digest.rollup
        if !rollup.isEmpty {
            md += "### Findings by rule\n\n"
            for entry in rollup.prefix(findingLimit) {
                md +=
                    "- **\(entry.severity.rawValue)** \(cell(entry.rule)) — \(cell(entry.title)) — \(entry.reach)\n"
            }
            if rollup.count > findingLimit {
                md += "\n_\(rollup.count - findingLimit) more rules in the JSON and HTML reports._\n"
            }
            md += "\n"
        }

        if let domains = report.domains, !domains.isEmpty {
            md += "### Domains\n\n| domain | grade | MX | hosts | worst finding |\n|---|---|---|---|---|\n"
            for domain in domains {
                let mx =
                    domain.nullMX
                    ? "null MX"
                    : (domain.mx.isEmpty
                        ? "none" : domain.mx.map { "\($0.preference) \($0.exchange)" }.joined(separator: ", "))
                let worst = domain.findings.filter { !$0.waived }.map(\.severity).max()?.rawValue ?? "none"
                let status = domain.status == .ok ? "" : " (\(domain.status.rawValue))"
                md +=
                    "| \(cell(domain.name))\(status) | \(cell(domain.grade?.rawValue ?? "–")) | \(cell(mx)) | \(domain.hosts.count) | \(worst) |\n"
            }
            md += "\n"
            // Transport policies, one line each, for the domains that were checked for them.
            let policies = domains.compactMap { domain -> String? in
                guard let sts = PolicyText.mtaSTS(domain), let rpt = PolicyText.tlsRPT(domain) else { return nil }
                let dane = PolicyText.dane(domain) ?? "–"
                return "| \(cell(domain.name)) | \(cell(sts)) | \(cell(rpt)) | \(cell(dane)) |\n"
            }
            if !policies.isEmpty {
                md += "| domain | MTA-STS | TLS-RPT | DANE |\n|---|---|---|---|\n" + policies.joined() + "\n"
            }
        }

        if !report.hosts.isEmpty {
            let order = digest.worstFirst
            md += "### Hosts, worst first\n\n| host | grade | open ports | worst finding |\n|---|---|---|---|\n"
            for index in order.prefix(findingLimit) {
                let host = report.hosts[index]
                let open = host.endpoints.filter { $0.state == .open }.map { "\($0.port)" }.joined(separator: ", ")
                let worst =
                    host.endpoints.flatMap(\.findings).filter { !$0.waived }.map(\.severity).max()?.rawValue ?? "none"
                let names = host.names.isEmpty ? "" : " (\(host.names.map(cell).joined(separator: ", ")))"
                let incomplete = host.endpoints.filter { $0.dialog?.complete == false }.map { "\($0.port)" }
                let marker = incomplete.isEmpty ? "" : " (incomplete: \(incomplete.joined(separator: ", ")))"
                md +=
                    "| \(cell(host.address))\(names) | \(cell(host.grade?.rawValue ?? "–"))\(marker) | \(open) | \(worst) |\n"
            }
            if order.count > findingLimit {
                md += "\n_\(order.count - findingLimit) more hosts in the JSON and HTML reports._\n"
            }
            md += "\n"
            // What could not be gathered, in the server's words: a grade resting on part of the facts says so.
            let incomplete = digest.incomplete.map { (ScanReport.location($0.address, $0.port), $0.reason) }
            if !incomplete.isEmpty {
                md += "### Incomplete endpoints\n\n| endpoint | what could not be gathered |\n|---|---|\n"
                for (location, reason) in incomplete.prefix(findingLimit) {
                    md += "| \(cell(location)) | \(cell(reason)) |\n"
                }
                if digest.incompleteCount > findingLimit {
                    md += "\n_\(digest.incompleteCount - findingLimit) more in the JSON and HTML reports._\n"
                }
                md += "\n"
            }
        }

        // The findings that fail the run; with --fail-on never, the medium and worse ones, so a summary still shows
        // what matters.
        let listed: Severity
        switch report.summary.failOn {
        case .severity(let severity): listed = severity
        case .never: listed = .medium
        }
        let (failing, failingCount) = worstFindings(report, atLeast: listed)
        if !failing.isEmpty {
            md +=
                "### Findings at or above \(listed.rawValue)\n\n| where | severity | rule | finding | evidence |\n|---|---|---|---|---|\n"
            for (location, finding) in failing {
                let tag = finding.status == .new ? " (new)" : ""
                md +=
                    "| \(cell(location)) | \(finding.severity.rawValue)\(tag) | \(cell(finding.rule)) | \(cell(finding.title)) | \(cell(finding.evidence)) |\n"
            }
            if failingCount > findingLimit {
                md += "\n_\(failingCount - findingLimit) more in the JSON and HTML reports._\n"
            }
        }
        if let resolved = report.baseline?.resolved, !resolved.isEmpty {
            md += "\n### Resolved since the baseline\n\n| endpoint | severity | rule | finding |\n|---|---|---|---|\n"
            for finding in resolved.prefix(findingLimit) {
                md +=
                    "| \(cell(ScanReport.location(finding.address, finding.port))) | \(finding.severity.rawValue) | \(cell(finding.rule)) | \(cell(finding.title)) |\n"
            }
        }
        return Array(md.utf8)
    }

    /// The `findingLimit` worst counted findings at or above `threshold`, most severe first, then in report order
    /// (hosts, then domains), with how many there are in all: a bounded list is kept as the hosts go by.
    static func worstFindings(
        _ report: ScanReport, atLeast threshold: Severity
    ) -> (listed: [(location: String, finding: ScanReport.Finding)], count: Int) {
        var kept: [(order: Int, location: String, finding: ScanReport.Finding)] = []
        var count = 0
        func bounded() {
            kept.sort { left, right in
                left.finding.severity != right.finding.severity
                    ? left.finding.severity > right.finding.severity : left.order < right.order
            }
            kept.removeLast(max(0, kept.count - findingLimit))
        }
        func consider(_ location: @autoclosure () -> String, _ finding: ScanReport.Finding) {
            guard !finding.waived && finding.severity >= threshold else { return }
            kept.append((count, location(), finding))
            count += 1
            if kept.count >= 4 * findingLimit { bounded() }
        }
        for host in report.hosts {
            for endpoint in host.endpoints {
                for finding in endpoint.findings { consider(ScanReport.location(host.address, endpoint.port), finding) }
            }
        }
        for domain in report.domains ?? [] {
            for finding in domain.findings { consider(domain.name, finding) }
        }
        bounded()
        return (kept.map { ($0.location, $0.finding) }, count)
    }

    /// One table cell: one line, Markdown and HTML syntax escaped, and a leading `=`, `+`, `-` or `@` (a formula
    /// when pasted into a spreadsheet) prefixed with `'`.
    static func cell(_ text: String) -> String {
        var line = ReportText.line(text, limit: 300)
        if let first = line.first, "=+-@".contains(first) { line = "'" + line }
        var out = ""
        for character in line {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "|", "\\", "`", "*", "_", "[", "]", "~":
                out += "\\" + String(character)
            default: out.append(character)
            }
        }
        return out
    }
}
