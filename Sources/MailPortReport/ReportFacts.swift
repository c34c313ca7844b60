import MailPortCore

/// Views of a judged report that several writers share.
struct LocatedFinding {
    var host: ScanReport.Host
    var endpoint: ScanReport.Endpoint
    var finding: ScanReport.Finding

    /// `192.0.2.1:25`, `[2001:db8::1]:25`.
    var location: String { ScanReport.location(host.address, endpoint.port) }
}

extension ScanReport {
    /// Every finding with its host and endpoint, most severe first, then by host and port (stable).
    var locatedFindings: [LocatedFinding] {
        let all = hosts.flatMap { host in
            host.endpoints.flatMap { endpoint in
                endpoint.findings.map { LocatedFinding(host: host, endpoint: endpoint, finding: $0) }
            }
        }
        return all.enumerated().sorted { left, right in
            if left.element.finding.severity != right.element.finding.severity {
                return left.element.finding.severity > right.element.finding.severity
            }
            return left.offset < right.offset
        }.map(\.element)
    }

    /// The `--fail-on` threshold the report was judged with.
    var failThreshold: FailThreshold { FailThreshold(summary.failOn) ?? .severity(.high) }

    /// Whether this finding is one that fails the run (counted and at or above `--fail-on`).
    func fails(_ finding: Finding) -> Bool { !finding.waived && failThreshold.isMet(by: finding.severity) }

    /// Open endpoints by service, in the contract's service order.
    var openEndpointsByService: [(service: MailService, count: Int)] {
        let open = hosts.flatMap(\.endpoints).filter { $0.state == .open }
        return MailService.allCases.map { service in (service, open.filter { $0.service == service }.count) }
    }

    /// Scan duration in seconds (0 when the time stamps cannot be read).
    var durationSeconds: Double {
        guard let start = ReportTime.parse(scan.startedAt), let end = ReportTime.parse(scan.finishedAt) else { return 0 }
        return max(0, end.timeIntervalSince(start))
    }
}
