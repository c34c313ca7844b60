import Foundation
import MailPortCore

/// The Prometheus text exposition format (0.0.4), for node_exporter's textfile collector (point it at the output
/// folder's `latest.prom`, or copy that file into the collector's folder). Whole-scan series (verdict, duration, last
/// success, findings by severity, hosts by grade, open endpoints by port) plus one series per host, endpoint and
/// finding, so alerts can name what to fix: `mailport_finding{host,port,service,rule,severity}`,
/// `mailport_certificate_not_after_timestamp_seconds{host,port,service}`, `mailport_host_grade{host,grade}`.
/// Every value is a gauge of this run's state (the file is rewritten each run), in base units. No text from the
/// network appears: `host` is the address, and ports, services, rule ids, severities and grades are MailPort's own
/// words; label values are escaped all the same.
public enum PrometheusReportWriter {
    /// One metric family: HELP and TYPE once, then its samples (a label set at most once).
    struct Family {
        var name: String
        var help: String
        var samples: [(labels: [(String, String)], value: String)] = []
        private var seen: [String: Int] = [:]

        init(_ name: String, _ help: String) {
            self.name = name
            self.help = help
        }

        /// Adds a sample; a label set seen before adds its value to the earlier one instead of repeating the series.
        mutating func add(_ labels: [(String, String)], _ value: Double) {
            let key = labels.map { "\($0.0)=\($0.1)" }.joined(separator: "\u{0}")
            if let index = seen[key] {
                samples[index].value = number((Double(samples[index].value) ?? 0) + value)
            } else {
                seen[key] = samples.count
                samples.append((labels, number(value)))
            }
        }

        mutating func add(_ labels: [(String, String)], text value: String) {
            samples.append((labels, value))
        }

        var lines: [String] {
            ["# HELP \(name) \(help)", "# TYPE \(name) gauge"]
                + samples.map { sample in
                    let labels =
                        sample.labels.isEmpty
                        ? ""
                        : "{" + sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                    return "\(name)\(labels) \(sample.value)"
                }
        }
    }

    /// `previousLastSuccess`: the last-success time stamp of an earlier complete scan, carried over when this one
    /// is incomplete, so an interrupted run does not make the metric vanish or jump.
    public static func encode(_ report: ScanReport, previousLastSuccess: Double? = nil) -> [UInt8] {
        var families: [Family] = []

        var complete = Family("mailport_scan_complete", "1 when the scan finished, 0 when it was interrupted.")
        complete.add([], report.scan.complete ? 1 : 0)
        var failed = Family(
            "mailport_scan_failed", "1 when a counted finding is at or above --fail-on (exit status 1), else 0.")
        failed.add([], report.summary.failed ? 1 : 0)
        var duration = Family("mailport_scan_duration_seconds", "Wall time of the scan.")
        duration.add([], text: String(format: "%.3f", report.durationSeconds))
        families += [complete, failed, duration]
        let lastSuccess =
            report.scan.complete ? ReportTime.parse(report.scan.finishedAt)?.timeIntervalSince1970 : previousLastSuccess
        if let lastSuccess {
            var family = Family(
                "mailport_last_success_timestamp_seconds", "Unix time at which the last complete scan finished.")
            family.add([], text: String(format: "%.0f", lastSuccess))
            families.append(family)
        }

        // Grades: the scan's (the worst host's) as a 1/0 per grade, hosts counted by grade, and each host's own.
        let seenGrades = Set(report.hosts.compactMap(\.grade) + [report.summary.grade].compactMap { $0 })
        let grades =
            Grade.builtinOrder + seenGrades.subtracting(Grade.builtinOrder).sorted { $0.rawValue < $1.rawValue }
        var overall = Family(
            "mailport_grade", "1 for the overall grade of the scan (the worst host's), 0 for the others.")
        var hostsByGrade = Family("mailport_hosts", "Hosts with open ports, by grade.")
        for grade in grades {
            overall.add([("grade", grade.rawValue)], report.summary.grade == grade ? 1 : 0)
            hostsByGrade.add(
                [("grade", grade.rawValue)], Double(report.hosts.filter { $0.grade == grade }.count))
        }
        var hostGrade = Family(
            "mailport_host_grade", "1 per host with open ports, labelled with its grade (host is the address).")
        for host in report.hosts {
            if let grade = host.grade { hostGrade.add([("host", host.address), ("grade", grade.rawValue)], 1) }
        }
        families += [overall, hostsByGrade, hostGrade]

        // Findings: totals by severity (every severity present, 0 included), waived, and one series per endpoint,
        // rule and severity (count by (rule) gives the spread of a rule).
        var bySeverity = Family("mailport_findings", "Findings that count (not waived), by severity.")
        for severity in Severity.allCases {
            bySeverity.add(
                [("severity", severity.rawValue)], Double(report.summary.findingsBySeverity[severity.rawValue] ?? 0))
        }
        var waived = Family("mailport_findings_waived", "Findings covered by an active waiver (not counted).")
        waived.add([], Double(report.summary.waivedFindings))
        var perFinding = Family(
            "mailport_finding",
            "Counted (not waived) findings at an endpoint, by rule and severity: 1, or the number of times the rule fired there."
        )
        var perDomainFinding = Family(
            "mailport_domain_finding",
            "Counted (not waived) findings of a mail domain (--domain), by rule and severity.")
        for host in report.hosts {
            for endpoint in host.endpoints {
                for finding in endpoint.findings where !finding.waived {
                    perFinding.add(
                        endpointLabels(host, endpoint) + [
                            ("rule", finding.rule), ("severity", finding.severity.rawValue),
                        ], 1)
                }
            }
        }
        for domain in report.domains ?? [] {
            for finding in domain.findings where !finding.waived {
                perDomainFinding.add(
                    [("domain", domain.name), ("rule", finding.rule), ("severity", finding.severity.rawValue)], 1)
            }
        }
        families += [bySeverity, waived, perFinding]
        if !(report.domains ?? []).isEmpty { families.append(perDomainFinding) }

        // Endpoints: open ones counted by port, then each endpoint of a listed host.
        var byPort: [PortSpec: Int] = [:]
        for host in report.hosts {
            for endpoint in host.endpoints where endpoint.state == .open {
                byPort[PortSpec(port: endpoint.port, service: endpoint.service), default: 0] += 1
            }
        }
        var openByPort = Family("mailport_open_endpoints", "Open endpoints by port and service.")
        for spec in report.scan.ports {
            openByPort.add([("port", "\(spec.port)"), ("service", spec.service.rawValue)], Double(byPort[spec] ?? 0))
        }
        var open = Family(
            "mailport_endpoint_open",
            "1 when the port is open, 0 when closed or filtered; every scanned port of each host with an open port.")
        var factsComplete = Family(
            "mailport_endpoint_complete",
            "1 when every fact of the open endpoint's audit was gathered, 0 when some are missing (its grade rests on the rest)."
        )
        var notAfter = Family(
            "mailport_certificate_not_after_timestamp_seconds",
            "Unix time at which the certificate the endpoint served stops being valid (notAfter of the leaf).")
        for host in report.hosts {
            for endpoint in host.endpoints {
                let labels = endpointLabels(host, endpoint)
                open.add(labels, endpoint.state == .open ? 1 : 0)
                if let dialog = endpoint.dialog { factsComplete.add(labels, dialog.complete ? 1 : 0) }
                if let certificate = endpoint.dialog?.tls?.certificate,
                    let date = ReportTime.parse(certificate.notAfter)
                {
                    notAfter.add(labels, text: String(format: "%.0f", date.timeIntervalSince1970))
                }
            }
        }
        families += [openByPort, open, factsComplete, notAfter]
        return Array((families.flatMap(\.lines).joined(separator: "\n") + "\n").utf8)
    }

    /// host (the address), port and service: labels of every per-endpoint series.
    static func endpointLabels(_ host: ScanReport.Host, _ endpoint: ScanReport.Endpoint) -> [(String, String)] {
        [("host", host.address), ("port", "\(endpoint.port)"), ("service", endpoint.service.rawValue)]
    }

    /// Whole numbers without a fraction, as the other series write them.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// Reads `mailport_last_success_timestamp_seconds` from an earlier file, if there is one.
    public static func lastSuccess(inPreviousFile text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("mailport_last_success_timestamp_seconds ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// Label values: backslash, double quote and line feed escaped (the exposition format's rules).
    static func escapeLabel(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
