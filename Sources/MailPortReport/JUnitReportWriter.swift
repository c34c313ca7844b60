import MailPortCore

/// JUnit XML for CI test tabs (GitLab, Jenkins, GitHub actions that read JUnit), written as `*.junit.xml` (the
/// reporters' default globs look for `.xml`): one test suite per host, one test case per open endpoint, at most one
/// `<failure>` per case listing every counted finding at or above `--fail-on` (several failures in one case are
/// mishandled by common reporters). Closed and filtered ports were not audited: skipped, never passing. Findings
/// below the threshold and waived ones are listed in the case's `<system-out>`, so nothing is hidden. The class name
/// keeps the address whole (`mailport.192_0_2_1`): Jenkins takes the text after the last dot as the class.
/// Validated against Jenkins' junit-10.xsd in the tests.
public enum JUnitReportWriter {
    public static func encode(_ report: ScanReport) -> [UInt8] {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let domains = report.domains ?? []
        // Counted host by host (a large run's hosts are read from disk one at a time).
        var endpointCount = 0
        var failingCases = domains.filter { $0.findings.contains(where: report.fails) }.count
        for host in report.hosts {
            endpointCount += host.endpoints.count
            failingCases += host.endpoints.filter { $0.findings.contains(where: report.fails) }.count
        }
        // Ant's timestamp form: no time zone (the report's times are UTC).
        let timestamp = String(report.scan.startedAt.prefix(19))
        xml +=
            "<testsuites name=\"mailport\" tests=\"\(endpointCount + domains.count)\" failures=\"\(failingCases)\" errors=\"0\" time=\"\(seconds(report.durationSeconds))\">\n"
        for (index, host) in report.hosts.enumerated() {
            let failures = host.endpoints.filter { $0.findings.contains(where: report.fails) }.count
            xml += suiteOpening(
                name: host.address, tests: host.endpoints.count, failures: failures,
                skipped: host.endpoints.filter { $0.state != .open }.count, timestamp: timestamp, id: index,
                properties: [
                    ("grade", host.grade?.rawValue ?? ""), ("names", host.names.joined(separator: " ")),
                    ("profile", report.scan.profile), ("fail-on", report.summary.failOn.description),
                ])
            for endpoint in host.endpoints {
                // An endpoint whose audit is missing facts says so in its name and output: a passing case that rests on
                // part of the facts must not look like a full pass in a CI test tab.
                let incomplete = endpoint.dialog.flatMap { $0.complete ? nil : $0.incompleteReason ?? "incomplete" }
                let name =
                    "\(ScanReport.location(host.address, endpoint.port)) \(endpoint.service.rawValue) (\(endpoint.state.rawValue)"
                    + (incomplete == nil ? ")" : ", incomplete)")
                xml +=
                    "    <testcase classname=\"\(className(host.address))\" name=\"\(escape(name))\" time=\"\(seconds((endpoint.rttMs ?? 0) / 1000))\">\n"
                if endpoint.state != .open {
                    xml += "      <skipped message=\"\(endpoint.state.rawValue): not audited\"/>\n"
                }
                xml += findingElements(endpoint.findings, report: report, incomplete: incomplete)
                xml += "    </testcase>\n"
            }
            xml += "    <system-out></system-out>\n    <system-err></system-err>\n"
            xml += "  </testsuite>\n"
        }
        // Domain mode: a suite per domain, with one case for what its DNS records say.
        for (index, domain) in domains.enumerated() {
            let failures = domain.findings.contains(where: report.fails) ? 1 : 0
            xml += suiteOpening(
                name: domain.name, tests: 1, failures: failures, timestamp: timestamp, id: report.hosts.count + index,
                properties: [("grade", domain.grade?.rawValue ?? ""), ("hosts", domain.hosts.joined(separator: " "))])
            xml +=
                "    <testcase classname=\"\(className(domain.name))\" name=\"\(escape(domain.name)) DNS (MX, SRV)\" time=\"0\">\n"
            xml += findingElements(domain.findings, report: report)
            xml += "    </testcase>\n"
            xml += "    <system-out></system-out>\n    <system-err></system-err>\n"
            xml += "  </testsuite>\n"
        }
        xml += "</testsuites>\n"
        return Array(xml.utf8)
    }

    /// `<testsuite …>` and its `<properties>`, for a host or a domain.
    static func suiteOpening(
        name: String, tests: Int, failures: Int, skipped: Int = 0, timestamp: String, id: Int,
        properties: [(String, String)]
    ) -> String {
        var xml =
            "  <testsuite name=\"\(escape(name))\" tests=\"\(tests)\" failures=\"\(failures)\" errors=\"0\" skipped=\"\(skipped)\""
        xml +=
            " time=\"0\" timestamp=\"\(escape(timestamp))\" hostname=\"\(escape(name))\" id=\"\(id)\" package=\"mailport\">\n"
        xml += "    <properties>\n"
        for (key, value) in properties { xml += "      <property name=\"\(key)\" value=\"\(escape(value))\"/>\n" }
        return xml + "    </properties>\n"
    }

    /// `mailport.` and the address or name with its dots made underscores, so a reporter that splits the class name at
    /// its last dot keeps the host in one piece.
    static func className(_ place: String) -> String {
        "mailport." + escape(place.replacingOccurrences(of: ".", with: "_"))
    }

    /// One `<failure>` listing every finding that fails the run; the others (below --fail-on, waived) in `<system-out>`.
    static func findingElements(
        _ findings: [ScanReport.Finding], report: ScanReport, incomplete: String? = nil
    ) -> String {
        var xml = ""
        var notes: [String] =
            incomplete.map { ["INCOMPLETE (facts not gathered, no verdict drawn from them): \($0)"] } ?? []
        var failing: [ScanReport.Finding] = []
        for finding in findings {
            if report.fails(finding) {
                failing.append(finding)
            } else {
                let state =
                    finding.waived
                    ? "waived until \(finding.waiverExpires ?? "?"): \(finding.waiverReason ?? "")" : "below --fail-on"
                notes.append("\(finding.rule) \(finding.severity.rawValue) (\(state)): \(finding.evidence)")
            }
        }
        if let worst = failing.max(by: { $0.severity < $1.severity }) {
            // The worst finding names the failure; the body lists them all, each with its fix.
            let message =
                failing.count == 1
                ? "\(worst.severity.rawValue): \(worst.title)"
                : "\(failing.count) findings at or above --fail-on, worst \(worst.severity.rawValue): \(worst.title)"
            let body = failing.map { finding in
                var entry = "\(finding.rule) \(finding.severity.rawValue): \(finding.evidence)"
                if let remediation = report.rules[finding.rule]?.remediation["general"] {
                    entry += "\nFix: \(remediation)"
                }
                return entry
            }.joined(separator: "\n\n")
            xml +=
                "      <failure type=\"\(escape(failing.map(\.rule).joined(separator: " ")))\" message=\"\(escape(message))\">\(escape(body))</failure>\n"
        }
        if !notes.isEmpty { xml += "      <system-out>\(escape(notes.joined(separator: "\n")))</system-out>\n" }
        return xml
    }

    /// XML 1.0 text and attribute escaping, after control characters (which XML 1.0 forbids) were made visible.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in ReportText.inert(text) {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            default: out.append(character)
            }
        }
        return out
    }

    static func seconds(_ value: Double) -> String {
        String(format: "%.3f", value)
    }
}
