import Foundation
import MailPortCore
import Testing

@testable import MailPortReport

/// What people read first in the HTML and Markdown reports: the verdict next to the grade, the roll-up by rule,
/// incomplete endpoints, and the scan's duration.
@Suite("Reports for people")
struct PeopleReportTests {
    static func rendered(_ report: ScanReport) -> (html: String, md: String) {
        (
            String(decoding: HTMLReportWriter.encode(report), as: UTF8.self),
            String(decoding: MarkdownReportWriter.encode(report), as: UTF8.self)
        )
    }

    /// The verdict element of the HTML report: its class and text.
    static func htmlVerdict(_ html: String) throws -> (cssClass: String, text: String) {
        let match = try #require(html.firstMatch(of: #/<div class="verdict ([a-z]+)">([^<]*)</div>/#))
        return (String(match.1), String(match.2))
    }

    @Test("an F grade never sits next to a green pass: with the gate off the reports say so")
    func gateOff() throws {
        var report = try fixedReport()
        report.summary.failOn = .never
        report.summary.failed = false
        #expect(report.summary.grade?.rawValue == "F")
        let (html, md) = Self.rendered(report)
        let verdict = try Self.htmlVerdict(html)
        #expect(verdict == ("ungated", "Gate off (--fail-on never)"))
        #expect(md.hasPrefix("## MailPort: grade F, gate off (`--fail-on never`)\n"))
        #expect(!html.contains(">Passes") && !md.contains("passes"))
    }

    @Test(
        "findings below a gate set above them: 'not gated at', not a pass; a pass only when nothing medium or worse counts"
    )
    func belowGate() throws {
        var report = try fixedReport()
        // The fixture's hosts without their critical findings: worst is high, and --fail-on critical does not trip.
        report.summary.findingsBySeverity["critical"] = 0
        report.summary.failOn = .severity(.critical)
        report.summary.failed = false
        let (html, md) = Self.rendered(report)
        #expect(try Self.htmlVerdict(html) == ("ungated", "Not gated at critical (worst finding: high)"))
        #expect(md.hasPrefix("## MailPort: grade F, not gated at critical (worst finding: high)\n"))
        #expect(GateVerdict(report).text == "not gated at critical (worst finding: high)")
        // Only low and info findings count: a real pass, in green.
        report.summary.findingsBySeverity = ["info": 2, "low": 1, "medium": 0, "high": 0, "critical": 0]
        report.summary.failOn = .severity(.high)
        #expect(try Self.htmlVerdict(Self.rendered(report).html) == ("pass", "Passes --fail-on high"))
        // And a failure stays a failure.
        #expect(try Self.htmlVerdict(Self.rendered(try fixedReport()).html) == ("fail", "Fails --fail-on high"))
    }

    @Test(
        "a roll-up by rule after the summary: each rule once per severity, worst first, hosts and endpoints counted, waived findings left out"
    )
    func rollup() throws {
        let report = try fixedReport()
        let (html, md) = Self.rendered(report)
        let entries = report.ruleRollup
        #expect(entries.count == 13)
        #expect(entries.map(\.severity) == entries.map(\.severity).sorted(by: >))
        // MP-AUTH-CLEARTEXT: 127.77.0.3 on 25, 110, 143 and 127.77.0.4 on 25; its waived finding on .4:587 is not
        // counted.
        #expect(
            md.contains(
                "### Findings by rule\n\n- **critical** MP-AUTH-CLEARTEXT — Credentials can be sent before TLS — on 2 hosts (4 endpoints)\n"
            ))
        // MP-PORT-25 is medium on one host and info on the MX: two entries.
        #expect(entries.filter { $0.rule == "MP-PORT-25" }.map(\.severity) == [.medium, .info])
        // After the summary (counts), before the hosts.
        let summary = try #require(md.range(of: "| severity | findings |"))
        let rollup = try #require(md.range(of: "### Findings by rule"))
        let hosts = try #require(md.range(of: "### Hosts"))
        #expect(summary.lowerBound < rollup.lowerBound && rollup.lowerBound < hosts.lowerBound)
        let rows = html.matches(of: #/<tr data-rule="([A-Z0-9-]+)" data-spread="[0-9]+">/#).map { String($0.1) }
        #expect(rows.count == entries.count && rows.first == "MP-AUTH-CLEARTEXT")
        #expect(html.contains("<td>Credentials can be sent before TLS</td><td>on 2 hosts (4 endpoints)</td>"))
        let overview = try #require(html.range(of: "id=\"overview\""))
        let section = try #require(html.range(of: "id=\"rules-section\""))
        let hostsSection = try #require(html.range(of: "id=\"hosts-section\""))
        #expect(overview.lowerBound < section.lowerBound && section.lowerBound < hostsSection.lowerBound)
        // Nothing counted, no roll-up.
        var clean = report
        for h in clean.hosts.indices {
            for e in clean.hosts[h].endpoints.indices { clean.hosts[h].endpoints[e].findings = [] }
        }
        let (cleanHTML, cleanMD) = Self.rendered(clean)
        #expect(!cleanMD.contains("Findings by rule") && !cleanHTML.contains("rules-section"))
    }

    @Test("incomplete endpoints are counted in the summary, with where to look")
    func incomplete() throws {
        let report = try fixedReport()
        let (html, md) = Self.rendered(report)
        #expect(md.contains("\n**1 endpoint incomplete** (facts missing; grades rest on what could be asked)"))
        #expect(md.contains("| 127.77.0.5:10587 |"))
        #expect(html.contains("<span class=\"incomplete\">1 endpoint incomplete</span>"))
        #expect(html.contains("<a href=\"#host-3\">127.77.0.5:10587</a>"))
        // The anchor is the host's details.
        #expect(html.contains("<details class=\"host\" id=\"host-3\">"))
        var whole = report
        for h in whole.hosts.indices {
            for e in whole.hosts[h].endpoints.indices where whole.hosts[h].endpoints[e].dialog != nil {
                whole.hosts[h].endpoints[e].dialog!.complete = true
            }
        }
        let (wholeHTML, wholeMD) = Self.rendered(whole)
        #expect(!wholeMD.contains("incomplete") && !wholeHTML.contains("incomplete-summary"))
    }

    @Test("durations keep sub-second precision in HTML, Markdown and JUnit; old reports fall back to the time stamps")
    func durations() throws {
        var report = try fixedReport()
        report.scan.durationSeconds = 0.42
        let (html, md) = Self.rendered(report)
        #expect(html.contains("(0.42 s)") && md.contains("(0.42 s)"))
        #expect(String(decoding: JUnitReportWriter.encode(report), as: UTF8.self).contains("time=\"0.420\""))
        #expect(ReportDuration.text(0.004) == "0.00 s" && ReportDuration.text(12.345) == "12.35 s")
        report.scan.durationSeconds = nil
        #expect(report.durationSeconds == 2)
    }

    @Test("names that never resolved are listed as not scanned, escaped; a report without them says nothing")
    func targetErrors() throws {
        var report = try fixedReport()
        #expect(!Self.rendered(report).html.contains("id=\"target-errors\""))
        #expect(!Self.rendered(report).md.contains("Not scanned"))
        report.scan.targetErrors = [
            .init(target: "gone.example.org", error: "the name 'gone.example.org' does not resolve"),
            .init(target: "<b>x</b>.example", error: "no such name"),
        ]
        let (html, md) = Self.rendered(report)
        #expect(
            html.contains(
                "<p id=\"target-errors\"><span class=\"incomplete\">Not scanned:</span> <code>gone.example.org</code>"))
        #expect(html.contains("&lt;b&gt;x&lt;/b&gt;.example") && !html.contains("<b>x</b>"))
        #expect(md.contains("**Not scanned**: gone.example.org (the name 'gone.example.org' does not resolve), "))
    }
}
