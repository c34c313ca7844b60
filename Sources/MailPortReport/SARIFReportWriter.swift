import Foundation
import MailPortCore

/// SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps): one result per finding, rule metadata
/// from the report's `rules` (so from `Rules/`), each location an artifact named `host:port` (or the domain, for domain rules). Waived findings are
/// results with an accepted external suppression, as SARIF §3.35 intends.
public enum SARIFReportWriter {
    public static func encode(_ report: ScanReport) throws(MailPortError) -> [UInt8] {
        let sink = ReportSink()
        try write(report, into: sink)
        return sink.bytes
    }

    /// The log, host by host: everything but the results is encoded once, and each host's results, encoded alone
    /// and indented to their place, go where the results array is, so a large run's findings are never all in
    /// memory. Results come in report order (hosts, then domains); code-scanning tools order them themselves.
    public static func write(_ report: ScanReport, into sink: ReportSink) throws(MailPortError) {
        let ruleIDs = report.rules.keys.sorted()
        let ruleIndex = Dictionary(uniqueKeysWithValues: ruleIDs.enumerated().map { ($1, $0) })
        let rules: [[String: Any]] = ruleIDs.map { id in
            let rule = report.rules[id]!
            let help = ReportText.inert(helpText(rule))
            return [
                "id": id,
                "name": id.replacingOccurrences(of: "-", with: ""),
                "shortDescription": ["text": ReportText.inert(rule.title)],
                "fullDescription": ["text": ReportText.inert(rule.description.isEmpty ? rule.title : rule.description)],
                "help": ["text": help, "markdown": help],
                "defaultConfiguration": ["level": level(rule.severity)],
                "properties": [
                    "tags": ["security", "mail"],
                    // GitHub code scanning sorts and labels by this CVSS-like score.
                    "security-severity": securitySeverity(rule.severity),
                    "references": rule.references.map { ReportText.inert($0) },
                ] as [String: Any],
            ]
        }
        func document(results: Any) -> [String: Any] {
            [
                "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "version": "2.1.0",
                "runs": [
                    [
                        "tool": [
                            "driver": [
                                "name": "MailPort", "version": report.tool.version,
                                "informationUri": "https://mailport.invalid/", "rules": rules,
                            ] as [String: Any]
                        ],
                        "invocations": [
                            [
                                "executionSuccessful": report.scan.complete,
                                "startTimeUtc": report.scan.startedAt, "endTimeUtc": report.scan.finishedAt,
                            ] as [String: Any]
                        ],
                        "results": results,
                        "properties": [
                            "profile": report.scan.profile, "grade": report.summary.grade?.rawValue ?? "",
                            "failOn": report.summary.failOn.description, "failed": report.summary.failed,
                        ] as [String: Any],
                    ] as [String: Any]
                ],
            ]
        }
        // The results' place in the frame: a marker no string can hold (a quote inside a value is escaped), with
        // the key before it.
        let marker = "mailport-results-go-here"
        let frame = try serialized(document(results: marker))
        guard let place = frame.firstRange(of: Array("\"results\" : \"\(marker)\"".utf8)) else {
            throw .scanFailed("cannot encode the SARIF report: no place for its results")
        }
        let indent = Array("        ".utf8)
        var count = 0
        func emit(_ located: LocatedFinding) throws(MailPortError) {
            var lines: [UInt8] = Array((count == 0 ? "\"results\" : [\n" : ",\n").utf8)
            if count == 0 { try sink.write(Array(frame[..<place.lowerBound])) }
            for (number, line) in try serialized(result(located, ruleIndex: ruleIndex)).split(
                separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false
            ).enumerated() {
                if number > 0 { lines.append(UInt8(ascii: "\n")) }
                if !line.isEmpty { lines += indent + line }
            }
            try sink.write(lines)
            count += 1
        }
        for host in report.hosts {
            for endpoint in host.endpoints {
                for finding in endpoint.findings {
                    try emit(LocatedFinding(place: .endpoint(host, endpoint), finding: finding))
                }
            }
        }
        for domain in report.domains ?? [] {
            for finding in domain.findings { try emit(LocatedFinding(place: .domain(domain), finding: finding)) }
        }
        if count == 0 {
            try sink.write(try serialized(document(results: [Any]())) + [UInt8(ascii: "\n")])
        } else {
            try sink.write(Array("\n      ]".utf8) + Array(frame[place.upperBound...]) + [UInt8(ascii: "\n")])
        }
    }

    static func result(_ located: LocatedFinding, ruleIndex: [String: Int]) -> [String: Any] {
        var result: [String: Any] = [
            "ruleId": located.finding.rule,
            "level": level(located.finding.severity),
            // Evidence quotes servers: `jq -r` on this file must not hand their ESC/OSC/BEL or bidi controls to a
            // terminal, so the strings themselves are made inert, not only their JSON encoding.
            "message": ["text": ReportText.inert("\(located.finding.title): \(located.finding.evidence)")],
            "locations": [
                [
                    // A relative URI and a region, as GitHub code scanning requires; the region is the whole
                    // (virtual) artifact, since an endpoint has no lines.
                    "physicalLocation": [
                        "artifactLocation": ["uri": located.uri], "region": ["startLine": 1],
                    ] as [String: Any],
                    "logicalLocations": [
                        [
                            "name": located.location, "kind": "module",
                            "fullyQualifiedName": "\(located.location)/\(located.kind)",
                        ]
                    ],
                ]
            ],
            "partialFingerprints": ["mailportFinding/v1": "\(located.finding.rule)|\(located.location)"],
            "properties": ["severity": located.finding.severity.rawValue, "grade": located.grade?.rawValue ?? ""],
        ]
        if let index = ruleIndex[located.finding.rule] { result["ruleIndex"] = index }
        // With --baseline: new or unchanged since the earlier scan, so code scanning can tell fresh alerts.
        if let status = located.finding.status { result["baselineState"] = status.rawValue }
        if located.finding.waived {
            result["suppressions"] = [
                [
                    "kind": "external", "status": "accepted",
                    "justification": ReportText.inert(
                        "\(located.finding.waiverReason ?? "") (waiver expires \(located.finding.waiverExpires ?? "?"))"
                    ),
                ]
            ]
        }
        return result
    }

    static func serialized(_ object: Any) throws(MailPortError) -> [UInt8] {
        do {
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return ReportJSON.terminalSafe(Array(data))
        } catch {
            throw .scanFailed("cannot encode the SARIF report: \(error)")
        }
    }

    /// critical/high → error, medium → warning, low/info → note (SARIF §3.27.10).
    static func level(_ severity: Severity) -> String {
        switch severity {
        case .critical, .high: return "error"
        case .medium: return "warning"
        case .low, .info: return "note"
        }
    }

    static func securitySeverity(_ severity: Severity) -> String {
        switch severity {
        case .critical: return "9.5"
        case .high: return "8.0"
        case .medium: return "5.5"
        case .low: return "3.0"
        case .info: return "0.0"
        }
    }

    static func helpText(_ rule: ScanReport.RuleDescription) -> String {
        var lines: [String] = []
        for key in ["general", "postfix", "dovecot", "exim", "other"] {
            if let text = rule.remediation[key] {
                lines.append(key == "general" ? text : "\(key.capitalized): \(text)")
            }
        }
        if !rule.references.isEmpty { lines.append("References: " + rule.references.joined(separator: "; ")) }
        return lines.joined(separator: "\n\n")
    }
}
