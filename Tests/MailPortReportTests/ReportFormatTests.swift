import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

/// The fixed report behind the golden files: the demo lab judged with a waiver and an expired waiver
/// (Tests/Fixtures/reports/demo.json).
func fixedReport() throws -> ScanReport {
    try JSONReportWriter.read(ProjectPaths.fixtures + "/reports/demo.json")
}

let renderedFormats: [ReportFormat] = [.html, .sarif, .junit, .md, .prom]

@Suite("Report formats")
struct ReportFormatTests {
    /// Compares a rendering with its golden file; MAILPORT_UPDATE_GOLDEN=1 rewrites the golden files instead
    /// (then review the diff before committing).
    @Test("every format matches its golden file", arguments: renderedFormats)
    func golden(_ format: ReportFormat) async throws {
        let rendered = try format.render(try fixedReport())
        let path = ProjectPaths.fixtures + "/golden/demo.\(format.fileExtension)"
        if ProcessInfo.processInfo.environment["MAILPORT_UPDATE_GOLDEN"] == "1" {
            try Data(rendered).write(to: URL(fileURLWithPath: path))
        }
        let golden = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(
            Data(rendered) == golden,
            "\(format.rawValue) differs from \(path); rerun with MAILPORT_UPDATE_GOLDEN=1 and review the diff")
    }

    @Test("the JSON fixture still round-trips exactly through the writer")
    func jsonRoundTrip() async throws {
        let path = ProjectPaths.fixtures + "/reports/demo.json"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Data(try JSONReportWriter.encode(try fixedReport())) == original)
        #expect(try await schemaViolation(ofJSONFile: path) == nil)
    }

    @Test("SARIF validates against the OASIS SARIF 2.1.0 schema; one result per finding, waived ones suppressed")
    func sarif() async throws {
        let report = try fixedReport()
        let directory = makeTemporaryDirectory()
        let path = directory + "/report.sarif"
        try AtomicFile.write(try SARIFReportWriter.encode(report), to: path)
        let schema = ProjectPaths.fixtures + "/schemas/sarif-schema-2.1.0.json"
        #expect(try await schemaViolation(ofJSONFile: path, schema: schema) == nil)
        // The SARIF log's shape is what is tested here, so it is read as plain JSON.
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let run = try #require((document["runs"] as? [[String: Any]])?.first)
        let results = try #require(run["results"] as? [[String: Any]])
        let findings = report.hosts.flatMap(\.endpoints).flatMap(\.findings)
        #expect(results.count == findings.count)
        let rules = try #require(
            ((run["tool"] as? [String: Any])?["driver"] as? [String: Any])?["rules"] as? [[String: Any]])
        let ruleIDs = rules.compactMap { $0["id"] as? String }
        #expect(ruleIDs.count == rules.count, "every rule has a string id")
        #expect(Set(ruleIDs) == Set(findings.map(\.rule)))
        #expect(results.filter { $0["suppressions"] != nil }.count == findings.filter(\.waived).count)
        let physicalLocations = results.map {
            ($0["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any]
        }
        let uris = physicalLocations.compactMap { ($0?["artifactLocation"] as? [String: Any])?["uri"] as? String }
        #expect(uris.count == results.count, "every result has a location with a URI")
        // GitHub code scanning: a relative URI per location (no scheme: no colon in the first segment) and a region.
        #expect(uris.contains("hosts/127.77.0.3/10025"))
        #expect(uris.allSatisfy { !($0.split(separator: "/").first ?? "").contains(":") && !$0.contains(" ") })
        let regions = physicalLocations.map { $0?["region"] as? [String: Int] }
        #expect(regions.allSatisfy { $0?["startLine"] == 1 })
        // The validator is not a formality: a SARIF log without its version fails, and so does a location that is
        // not a URI reference (the format check needs rfc3987, which scripts/setup.sh --tests installs).
        var broken = document
        broken["version"] = nil
        try JSONSerialization.data(withJSONObject: broken).write(to: URL(fileURLWithPath: directory + "/broken.sarif"))
        #expect(try await schemaViolation(ofJSONFile: directory + "/broken.sarif", schema: schema) != nil)
        let badURI = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            .replacingOccurrences(of: "\"hosts/127.77.0.3/10025\"", with: "\"hosts/127.77.0.3 10025\"")
        try badURI.write(toFile: directory + "/bad-uri.sarif", atomically: true, encoding: .utf8)
        #expect(
            try await schemaViolation(ofJSONFile: directory + "/bad-uri.sarif", schema: schema)?.contains(
                "uri-reference")
                == true)
    }

    @Test("SARIF carries baselineState from --baseline (new, unchanged), so code scanning can tell fresh alerts")
    func sarifBaselineState() async throws {
        var report = try fixedReport()
        var marked = 0
        for h in report.hosts.indices {
            for e in report.hosts[h].endpoints.indices {
                for f in report.hosts[h].endpoints[e].findings.indices {
                    report.hosts[h].endpoints[e].findings[f].status = marked % 2 == 0 ? .new : .unchanged
                    marked += 1
                }
            }
        }
        #expect(marked > 2)
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(try SARIFReportWriter.encode(report))) as? [String: Any])
        let results = try #require((document["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        let states = results.compactMap { $0["baselineState"] as? String }
        #expect(states.count == marked)
        #expect(Set(states) == ["new", "unchanged"])
        // Without a baseline, no state is claimed.
        let plain = try #require(
            try JSONSerialization.jsonObject(with: Data(try SARIFReportWriter.encode(try fixedReport())))
                as? [String: Any])
        let plainResults = try #require((plain["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        #expect(!plainResults.isEmpty)
        #expect(plainResults.allSatisfy { $0["baselineState"] == nil })
    }

    @Test(
        "JUnit validates against Jenkins' junit-10.xsd; a test case per endpoint, a failure per finding at or above --fail-on"
    )
    func junit() async throws {
        let report = try fixedReport()
        let directory = makeTemporaryDirectory()
        let path = directory + "/report.xml"
        try AtomicFile.write(JUnitReportWriter.encode(report), to: path)
        let xsd = ProjectPaths.fixtures + "/schemas/junit-10.xsd"
        #expect(try await xmlSchemaViolation(ofFile: path, xsd: xsd) == nil)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let endpoints = report.hosts.flatMap(\.endpoints)
        #expect(text.components(separatedBy: "<testcase ").count - 1 == endpoints.count)
        // One failure per case (listing every finding at or above --fail-on), closed ports skipped, never passing.
        let failingCases = endpoints.filter { $0.findings.contains { !$0.waived && $0.severity >= .high } }
        #expect(report.summary.failOn == .severity(.high))
        #expect(!failingCases.isEmpty && text.components(separatedBy: "<failure ").count - 1 == failingCases.count)
        let notOpen = endpoints.filter { $0.state != .open }
        #expect(!notOpen.isEmpty && text.components(separatedBy: "<skipped ").count - 1 == notOpen.count)
        // Jenkins splits a class name at its last dot: the address stays whole.
        #expect(text.contains("classname=\"mailport.127_77_0_3\"") && !text.contains("classname=\"mailport.127.77"))
        let multi = try #require(
            failingCases.first { $0.findings.filter { !$0.waived && $0.severity >= .high }.count > 1 })
        #expect(
            text.contains("findings at or above --fail-on, worst"),
            "a case with \(multi.findings.count) findings lists them in one failure")
        #expect(text.contains("MP-AUTH-CLEARTEXT") && text.contains("waived until 2999-12-31"))
        try "<testsuites><testsuite tests=\"1\"/></testsuites>".write(
            toFile: directory + "/broken.xml", atomically: true, encoding: .utf8)
        #expect(
            try await xmlSchemaViolation(ofFile: directory + "/broken.xml", xsd: xsd) != nil,
            "a suite without a name is invalid")
    }

    @Test(
        "Prometheus: Prometheus' text parser reads every family once, typed; the series alerts need carry the report's values"
    )
    func prometheus() async throws {
        let report = try fixedReport()
        let directory = makeTemporaryDirectory()
        let path = directory + "/report.prom"
        try AtomicFile.write(PrometheusReportWriter.encode(report), to: path)
        let samples = try await prometheusSamples(ofFile: path).get()
        func values(_ name: String, _ labels: [String: String] = [:]) -> [Double] {
            samples.filter { sample in
                sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value }
            }.map(\.value)
        }
        // Whole-scan series.
        #expect(values("mailport_findings", ["severity": "critical"]) == [4])
        #expect(values("mailport_findings").count == Severity.allCases.count)
        #expect(values("mailport_findings_waived") == [1])
        #expect(values("mailport_grade", ["grade": "F"]) == [1] && values("mailport_grade").reduce(0, +) == 1)
        #expect(values("mailport_hosts", ["grade": "F"]) == [2] && values("mailport_hosts", ["grade": "A+"]) == [1])
        #expect(values("mailport_scan_duration_seconds") == [1.842], "sub-second precision")
        #expect(values("mailport_scan_complete") == [1] && values("mailport_scan_failed") == [1])
        #expect(values("mailport_last_success_timestamp_seconds") == [1_795_618_276])
        // Per host and endpoint, labelled with the address, port and service.
        #expect(values("mailport_host_grade").count == report.hosts.count)
        #expect(values("mailport_host_grade", ["host": "127.77.0.3", "grade": "F"]) == [1])
        let endpoints = report.hosts.flatMap(\.endpoints)
        #expect(values("mailport_endpoint_open").count == endpoints.count)
        #expect(values("mailport_endpoint_open", ["host": "127.77.0.3", "port": "10110", "service": "pop3"]) == [1])
        #expect(values("mailport_endpoint_open", ["host": "127.77.0.3", "port": "10465"]) == [0])
        #expect(values("mailport_endpoint_complete", ["host": "127.77.0.5", "port": "10587"]) == [0])
        #expect(values("mailport_endpoint_complete").filter { $0 == 0 }.count == 1)
        // Certificate expiry per endpoint that served one: the demo's certificates end 2036-11-22T13:06:02Z.
        let expiry = "mailport_certificate_not_after_timestamp_seconds"
        #expect(values(expiry).count == endpoints.filter { $0.dialog?.tls?.certificate != nil }.count)
        #expect(values(expiry).count == 8)
        #expect(values(expiry, ["host": "127.77.0.2", "port": "10993", "service": "imaps"]) == [2_110_971_962])
        #expect(values(expiry, ["host": "127.77.0.3"]).isEmpty, "a plaintext-only host served no certificate")
        // One series per counted finding; the waived one is absent; by-rule counts are `count by (rule)`.
        let findings = samples.filter { $0.name == "mailport_finding" }
        #expect(findings.map(\.value).reduce(0, +) == 20)
        #expect(Double(report.summary.findingsBySeverity.values.reduce(0, +)) == 20)
        #expect(
            values(
                "mailport_finding",
                [
                    "host": "127.77.0.3", "port": "10025", "service": "smtp", "rule": "MP-AUTH-CLEARTEXT",
                    "severity": "critical",
                ]) == [1])
        #expect(findings.filter { $0.labels["rule"] == "MP-AUTH-CLEARTEXT" }.count == 4)
        #expect(values("mailport_finding", ["host": "127.77.0.4", "port": "10587"]).isEmpty, "waived")
        // No label value folded into a metric name any more.
        #expect(!samples.contains { $0.name.contains("_by_") })
        // The parser is not a formality: a value that is no number, a family declared twice and a series repeated
        // are each refused.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let broken = [
            text.replacingOccurrences(of: "mailport_scan_complete 1", with: "mailport_scan_complete yes"),
            text + "# HELP mailport_scan_failed again\n# TYPE mailport_scan_failed gauge\nmailport_scan_failed 0\n",
            text + "mailport_findings_waived 1\n",
            text.replacingOccurrences(of: "host=\"127.77.0.3\"", with: "host=\"127.77.0.3"),
        ]
        for (index, document) in broken.enumerated() {
            #expect(document != text)
            try document.write(toFile: directory + "/broken-\(index).prom", atomically: true, encoding: .utf8)
            guard case .failure(let error) = try await prometheusSamples(ofFile: directory + "/broken-\(index).prom")
            else {
                Issue.record("broken document \(index) parsed")
                continue
            }
            #expect(!error.message.isEmpty)
        }
        // An interrupted scan keeps the last success of the previous file rather than dropping the metric.
        var partial = report
        partial.scan.complete = false
        let carried = String(
            decoding: PrometheusReportWriter.encode(partial, previousLastSuccess: 1_700_000_000), as: UTF8.self)
        #expect(carried.contains("\nmailport_last_success_timestamp_seconds 1700000000\n"))
        #expect(carried.contains("\nmailport_scan_complete 0\n"))
        #expect(PrometheusReportWriter.lastSuccess(inPreviousFile: text) == 1_795_618_276)
    }

    @Test("Prometheus label values are escaped (backslash, quote, newline), and parse back to the same text")
    func prometheusEscaping() async throws {
        var report = try fixedReport()
        report.domains = [
            DomainObservation(
                name: "a\"b\\c\nd.example", status: .ok,
                findings: [.init(rule: "MP-DNS-X", severity: .low, title: "t", evidence: "e")])
        ]
        let directory = makeTemporaryDirectory()
        try AtomicFile.write(PrometheusReportWriter.encode(report), to: directory + "/escaped.prom")
        let samples = try await prometheusSamples(ofFile: directory + "/escaped.prom").get()
        // A rule that fired twice at one endpoint is one series with the value 2, not a repeated series.
        let h = try #require(report.hosts.firstIndex { $0.address == "127.77.0.5" })
        let e = try #require(report.hosts[h].endpoints.firstIndex { $0.port == 10993 })
        let weak = try #require(report.hosts[h].endpoints[e].findings.first { $0.rule == "MP-TLS-WEAK-CIPHER" })
        report.hosts[h].endpoints[e].findings.append(weak)
        try AtomicFile.write(PrometheusReportWriter.encode(report), to: directory + "/twice.prom")
        let twice = try await prometheusSamples(ofFile: directory + "/twice.prom").get().filter {
            $0.name == "mailport_finding" && $0.labels["host"] == "127.77.0.5" && $0.labels["port"] == "10993"
                && $0.labels["rule"] == "MP-TLS-WEAK-CIPHER"
        }
        #expect(twice.map(\.value) == [2])
        let domain = samples.filter { $0.name == "mailport_domain_finding" }
        #expect(domain.count == 1)
        #expect(domain.first?.labels["domain"] == "a\"b\\c\nd.example")
    }

    @Test(
        "the HTML report in headless Chromium: no console errors, no fetches, one row per host, sorting and filtering work",
        .rootTier)
    func htmlInBrowser() async throws {
        let report = try fixedReport()
        let directory = makeTemporaryDirectory()
        let html = directory + "/report.html"
        try AtomicFile.write(HTMLReportWriter.encode(report), to: html)
        let screenshot = directory + "/report.png"
        let outcome = try await runProgram(
            "/usr/bin/env",
            [
                "python3", ProjectPaths.root + "/scripts/htmlcheck.py", html,
                "--screenshot", screenshot, "--filter", "127.77.0.5",
            ], timeLimit: 120)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let seen = try #require(
            try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any],
            "htmlcheck.py prints one JSON object: \(outcome.standardOutput)")
        #expect(seen["consoleErrors"] as? [String] == [], "\(seen["consoleErrors"] ?? "")")
        #expect(seen["resourceRequests"] as? Int == 0)
        #expect(seen["rows"] as? Int == report.hosts.count)
        #expect(seen["hostsAttribute"] as? [String] == expectedWorstFirst(report), "worst first")
        #expect(seen["overallGrade"] as? String == "F" && seen["svgCharts"] as? Int == 2)
        // The fixture's one incomplete endpoint (a 421 to the legacy-version question) shows in the host table.
        #expect(seen["incompleteMarkers"] as? [String: [String]] == ["127.77.0.5": ["incomplete: 10587"]])
        // The verdict in red (--high: #c0392b), the roll-up worst first, the incomplete endpoint in the summary.
        let verdict = seen["verdict"] as? [String: String]
        #expect(verdict?["text"] == "Fails --fail-on high" && verdict?["color"] == "rgba(192, 57, 43, 1)", "\(seen)")
        let ruleRows = seen["ruleRows"] as? [[String]] ?? []
        #expect(ruleRows.count == 13)
        #expect(
            ruleRows.first == [
                "CRITICAL", "MP-AUTH-CLEARTEXT", "Credentials can be sent before TLS", "on 2 hosts (4 endpoints)",
            ])
        #expect(
            seen["incompleteSummary"] as? String
                == "1 endpoint incomplete (facts missing; grades rest on what could be asked): see 127.77.0.5:10587")
        // With the gate off, the verdict is grey, not green.
        var ungated = report
        ungated.summary.failOn = .never
        ungated.summary.failed = false
        let ungatedHTML = directory + "/ungated.html"
        try AtomicFile.write(HTMLReportWriter.encode(ungated), to: ungatedHTML)
        let ungatedOutcome = try await runProgram(
            "/usr/bin/env",
            [
                "python3", ProjectPaths.root + "/scripts/htmlcheck.py", ungatedHTML,
                "--screenshot", directory + "/ungated.png",
            ], timeLimit: 120)
        #expect(ungatedOutcome.status == 0, "\(ungatedOutcome.standardError)")
        let ungatedSeen = try #require(
            try JSONSerialization.jsonObject(with: Data(ungatedOutcome.standardOutput.utf8)) as? [String: Any])
        let ungatedVerdict = ungatedSeen["verdict"] as? [String: String]
        #expect(
            ungatedVerdict?["text"] == "Gate off (--fail-on never)"
                && ungatedVerdict?["color"] == "rgba(91, 101, 118, 1)", "\(ungatedSeen)")
        let sorting = try #require(seen["sorting"] as? [String: [[String: Any]]])
        #expect(sorting.count == 6)
        for (column, outcomes) in sorting {
            #expect(outcomes.allSatisfy { $0["sorted"] as? Bool == true }, "\(column): \(outcomes)")
            #expect(outcomes.map { $0["aria"] as? String } == ["ascending", "descending"])
        }
        // Grade ascending puts the A+ host first; descending puts it last.
        let grade = try #require(sorting["Grade"])
        try #require(grade.count == 2, "ascending, then descending")
        #expect((grade[0]["order"] as? [String])?.first == "127.77.0.2")
        #expect((grade[1]["order"] as? [String])?.last == "127.77.0.2")
        #expect(seen["filteredRows"] as? [String] == ["127.77.0.5"])
        #expect(seen["shownText"] as? String == "1 of 4 hosts")
        #expect(seen["rowsAfterClear"] as? Int == report.hosts.count)
        let size = (try FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0
        #expect(size > 10_000, "a screenshot was taken (\(size) bytes)")
    }
}
