import Foundation
import MailPortCore

/// The Prometheus text exposition format, for node_exporter's textfile collector (point it at the output folder's
/// `latest.prom`, or copy that file into the collector's folder): findings by severity and rule, open endpoints by
/// port, grades, scan duration, verdict, and the time of the last complete scan. No text from the network appears;
/// labels hold only rule ids, severities, ports, services and grades.
public enum PrometheusReportWriter {
    /// `previousLastSuccess`: the last-success time stamp of an earlier complete scan, carried over when this one
    /// is incomplete, so an interrupted run does not make the metric vanish or jump.
    public static func encode(_ report: ScanReport, previousLastSuccess: Double? = nil) -> [UInt8] {
        var lines: [String] = []
        func metric(
            _ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]
        ) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for sample in samples {
                let labels =
                    sample.labels.isEmpty
                    ? "" : "{" + sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                lines.append("\(name)\(labels) \(sample.value)")
            }
        }
        let counted = report.locatedFindings.filter { !$0.finding.waived }
        metric(
            "mailport_findings", "gauge", "Findings that count (not waived), by severity.",
            Severity.allCases.map {
                ([("severity", $0.rawValue)], "\(report.summary.findingsBySeverity[$0.rawValue] ?? 0)")
            })
        var byRule: [String: (Severity, Int)] = [:]
        for located in counted {
            let key = located.finding.rule + "|" + located.finding.severity.rawValue
            byRule[key] = (located.finding.severity, (byRule[key]?.1 ?? 0) + 1)
        }
        metric(
            "mailport_findings_by_rule", "gauge", "Findings that count, by rule and severity.",
            byRule.keys.sorted().map { key in
                let rule = String(key.split(separator: "|")[0])
                return ([("rule", rule), ("severity", byRule[key]!.0.rawValue)], "\(byRule[key]!.1)")
            })
        metric(
            "mailport_findings_waived", "gauge", "Findings covered by an active waiver.",
            [([], "\(report.summary.waivedFindings)")])
        var byPort: [PortSpec: Int] = [:]
        for endpoint in report.hosts.flatMap(\.endpoints) where endpoint.state == .open {
            byPort[PortSpec(port: endpoint.port, service: endpoint.service), default: 0] += 1
        }
        metric(
            "mailport_open_endpoints", "gauge", "Open endpoints by port and service.",
            report.scan.ports.map { spec in
                ([("port", "\(spec.port)"), ("service", spec.service.rawValue)], "\(byPort[spec] ?? 0)")
            })
        metric(
            "mailport_grade", "gauge", "1 for the overall grade of the scan (the worst host's), 0 for the others.",
            Grade.builtinOrder.map { ([("grade", $0.rawValue)], report.summary.grade == $0 ? "1" : "0") })
        metric(
            "mailport_hosts_by_grade", "gauge", "Hosts with open ports, by grade.",
            Grade.builtinOrder.map { grade in
                ([("grade", grade.rawValue)], "\(report.hosts.filter { $0.grade == grade }.count)")
            })
        metric(
            "mailport_scan_duration_seconds", "gauge", "Wall time of the scan.",
            [([], String(format: "%.3f", report.durationSeconds))])
        metric(
            "mailport_scan_complete", "gauge", "1 when the scan finished, 0 when it was interrupted.",
            [([], report.scan.complete ? "1" : "0")])
        metric(
            "mailport_scan_failed", "gauge", "1 when a counted finding is at or above --fail-on (exit status 1).",
            [([], report.summary.failed ? "1" : "0")])
        let lastSuccess =
            report.scan.complete ? ReportTime.parse(report.scan.finishedAt)?.timeIntervalSince1970 : previousLastSuccess
        if let lastSuccess {
            metric(
                "mailport_last_success_timestamp_seconds", "gauge",
                "Unix time at which the last complete scan finished.",
                [([], String(format: "%.0f", lastSuccess))])
        }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
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
