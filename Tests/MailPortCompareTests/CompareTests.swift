import Foundation
import MailPortCompare
import MailPortCore
import MailPortReport
import MailPortTestSupport
import Testing

/// The demo fixture, and changed copies of it: what a second scan of the same lab could look like.
enum Reports {
    static func demo() throws -> ScanReport {
        try JSONReportWriter.read(ProjectPaths.fixtures + "/reports/demo.json")
    }

    static func index(_ report: ScanReport, _ address: String, _ port: UInt16) -> (Int, Int) {
        let host = report.hosts.firstIndex { $0.address == address }!
        return (host, report.hosts[host].endpoints.firstIndex { $0.port == port }!)
    }

    /// The legacy host fixed its IMAP (143 closed, its findings gone); the modern host gained a finding; one
    /// finding got more severe; the self-signed host's certificate changed; the modern host's grade dropped.
    static func later() throws -> ScanReport {
        var report = try demo()
        let (legacy, imap) = index(report, "127.77.0.3", 10143)
        report.hosts[legacy].endpoints[imap].state = .closed
        report.hosts[legacy].endpoints[imap].dialog = nil
        report.hosts[legacy].endpoints[imap].findings = []
        let (modern, submission) = index(report, "127.77.0.2", 10587)
        report.hosts[modern].endpoints[submission].findings.append(
            ScanReport.Finding(
                rule: "MP-CERT-EXPIRING", severity: .medium, title: "The certificate expires soon", evidence: "10 days")
        )
        report.hosts[modern].grade = .b
        let (mixed, relay) = index(report, "127.77.0.4", 10025)
        let portRule = report.hosts[mixed].endpoints[relay].findings.firstIndex { $0.rule == "MP-PORT-25" }!
        report.hosts[mixed].endpoints[relay].findings[portRule].severity = .medium
        let (selfSigned, imaps) = index(report, "127.77.0.5", 10993)
        report.hosts[selfSigned].endpoints[imaps].dialog?.tls?.certificate?.sha256 = String(repeating: "f", count: 64)
        return report
    }
}

@Suite("Baselines and diffs")
struct CompareTests {
    @Test("--baseline marks findings new or unchanged and lists the resolved ones")
    func baseline() async throws {
        let old = try Reports.demo()
        let new = try Reports.later()
        let marked = Baseline.mark(new, against: old, oldFile: "old.json")
        let findings = marked.hosts.flatMap(\.endpoints).flatMap(\.findings)
        #expect(!findings.isEmpty)
        #expect(findings.allSatisfy { $0.status == .new || $0.status == .unchanged })
        #expect(findings.filter { $0.status == .new }.map(\.rule) == ["MP-CERT-EXPIRING"])
        let resolved = try #require(marked.baseline).resolved
        #expect(
            Set(resolved.map(\.rule)) == ["MP-PORT-143", "MP-PREFER-993", "MP-STARTTLS-MISSING", "MP-AUTH-CLEARTEXT"])
        #expect(resolved.allSatisfy { $0.address == "127.77.0.3" && $0.port == 10143 })
        #expect(resolved.first?.severity == .critical, "most severe first")
        #expect(marked.baseline?.newFindings == 1 && marked.baseline?.unchangedFindings == findings.count - 1)
        // Against itself nothing is new and nothing resolved.
        let same = Baseline.mark(old, against: old, oldFile: "old.json")
        #expect(same.baseline?.newFindings == 0 && same.baseline?.resolved == [])
    }

    @Test("findings on addresses the new scan did not cover are not counted as resolved")
    func narrowedTargets() async throws {
        var new = try Reports.demo()
        new.scan.targets = ["127.77.0.2"]
        new.hosts = new.hosts.filter { $0.address == "127.77.0.2" }
        let marked = Baseline.mark(new, against: try Reports.demo(), oldFile: "old.json")
        #expect(marked.baseline?.resolved == [], "\(marked.baseline?.resolved ?? [])")
        var excluded = try Reports.demo()
        excluded.scan.excludes = ["127.77.0.3"]
        excluded.hosts = excluded.hosts.filter { $0.address != "127.77.0.3" }
        #expect(Baseline.mark(excluded, against: try Reports.demo(), oldFile: "old.json").baseline?.resolved == [])
    }

    @Test("a baseline report validates against the schema, and its new findings show in HTML and Markdown")
    func rendered() async throws {
        let marked = Baseline.mark(try Reports.later(), against: try Reports.demo(), oldFile: "old.json")
        let directory = makeTemporaryDirectory()
        try AtomicFile.write(try JSONReportWriter.encode(marked), to: directory + "/marked.json")
        #expect(try await schemaViolation(ofJSONFile: directory + "/marked.json") == nil)
        let html = String(decoding: HTMLReportWriter.encode(marked), as: UTF8.self)
        #expect(html.contains("id=\"baseline-summary\"") && html.contains("1 new,") && html.contains("4 resolved"))
        #expect(html.components(separatedBy: "class=\"tag-new\"").count == 2)
        let md = String(decoding: MarkdownReportWriter.encode(marked), as: UTF8.self)
        #expect(md.contains("**1 new**") && md.contains("### Resolved since the baseline"))
    }

    @Test("diff lists opened and closed ports, new and resolved findings, severity, grade and certificate changes")
    func diff() async throws {
        let diff = ReportDiff(old: try Reports.demo(), new: try Reports.later())
        #expect(diff.closedEndpoints.map(\.location) == ["127.77.0.3:10143"])
        #expect(diff.openedEndpoints.isEmpty)
        #expect(diff.newFindings.map(\.rule) == ["MP-CERT-EXPIRING"])
        #expect(diff.resolvedFindings.count == 4 && diff.resolvedFindings.first?.severity == .critical)
        #expect(
            diff.severityChanges.map { "\($0.0.rule) \($0.0.severity.rawValue)->\($0.1.rawValue)" } == [
                "MP-PORT-25 info->medium"
            ])
        #expect(
            diff.gradeChanges.map { "\($0.host) \($0.old?.rawValue ?? "–")->\($0.new?.rawValue ?? "–")" } == [
                "127.77.0.2 A+->B"
            ])
        #expect(diff.certificateChanges.map(\.location) == ["127.77.0.5:10993"])
        #expect(diff.isWorse)
        let text = diff.describe()
        #expect(text.contains("closed ports (1):\n  127.77.0.3:10143 imap") && text.hasSuffix("verdict: worse"))
    }

    @Test("diff names a change of scope (targets, exclusions, ports, domains) in one line, and nothing when equal")
    func coverage() throws {
        #expect(ReportDiff(old: try Reports.demo(), new: try Reports.later()).coverageDifference == nil)
        var narrowed = try Reports.demo()
        narrowed.scan.targets = ["127.77.0.3", "127.77.0.4"]
        narrowed.scan.ports.removeLast()
        let difference = try #require(ReportDiff(old: try Reports.demo(), new: narrowed).coverageDifference)
        #expect(
            difference
                == "the reports cover different scopes (targets 127.77.0.1-127.77.0.6 then 127.77.0.3 127.77.0.4; ports 10025=smtp 10110=pop3 10143=imap 10465=submissions 10587=submission … (7 in all) then 10025=smtp 10110=pop3 10143=imap 10465=submissions 10587=submission … (6 in all)): ports and findings outside either may show as opened, closed, new or resolved"
        )
        #expect(!difference.contains("\n"))
        // The same targets in another order are the same scope.
        var reordered = try Reports.demo()
        reordered.scan.targets = ["127.77.0.1-127.77.0.6"]
        reordered.scan.ports.reverse()
        #expect(ReportDiff(old: try Reports.demo(), new: reordered).coverageDifference == nil)
        var hostile = try Reports.demo()
        hostile.scan.excludes = ["\u{1b}[31mred"]
        let escaped = try #require(ReportDiff(old: try Reports.demo(), new: hostile).coverageDifference)
        #expect(escaped.contains("exclusions none then ") && !escaped.contains("\u{1b}"))
    }

    @Test("diff the other way round: only improvements are not worse; identical reports have no changes")
    func improvements() async throws {
        var better = try Reports.demo()
        let (legacy, imap) = Reports.index(better, "127.77.0.3", 10143)
        better.hosts[legacy].endpoints[imap].findings = []
        better.hosts[legacy].endpoints[imap].state = .closed
        let diff = ReportDiff(old: try Reports.demo(), new: better)
        #expect(!diff.isWorse && !diff.resolvedFindings.isEmpty)
        #expect(ReportDiff(old: try Reports.demo(), new: try Reports.demo()).describe() == "no changes")
        // A new waived finding is reported but is not worse.
        var waived = try Reports.demo()
        let (modern, submission) = Reports.index(waived, "127.77.0.2", 10587)
        waived.hosts[modern].endpoints[submission].findings.append(
            ScanReport.Finding(rule: "MP-PORT-25", severity: .high, title: "t", evidence: "e", waived: true))
        let waivedDiff = ReportDiff(old: try Reports.demo(), new: waived)
        #expect(waivedDiff.newFindings.count == 1 && !waivedDiff.isWorse)
    }

    @Test("domain findings: diff lists new and resolved ones and domain grade changes; --baseline marks them")
    func domains() async throws {
        func withDomain(_ rules: [String], grade: Grade) throws -> ScanReport {
            var report = try Reports.demo()
            report.domains = [
                DomainObservation(
                    name: "example.org", status: .ok, grade: grade,
                    findings: rules.map {
                        ScanReport.Finding(rule: $0, severity: .medium, title: $0, evidence: "e")
                    })
            ]
            return report
        }
        let old = try withDomain(["MP-MX-CNAME"], grade: .b)
        let new = try withDomain(["MP-MX-MISSING"], grade: .c)
        let diff = ReportDiff(old: old, new: new)
        #expect(
            diff.newFindings.map(\.location) == ["domain example.org"]
                && diff.newFindings.map(\.rule) == ["MP-MX-MISSING"])
        #expect(diff.resolvedFindings.map(\.rule) == ["MP-MX-CNAME"])
        #expect(diff.gradeChanges.map(\.host) == ["domain example.org"] && diff.isWorse)
        let marked = Baseline.mark(new, against: old, oldFile: "old.json")
        #expect(marked.domains?.first?.findings.map(\.status) == [.new])
        #expect(marked.baseline?.resolved.map(\.rule) == ["MP-MX-CNAME"])
        #expect(marked.baseline?.resolved.first.map { ScanReport.location($0.address, $0.port) } == "example.org")
    }

    @Test("index.html lists every run newest first with a trend chart")
    func index() async throws {
        let directory = makeTemporaryDirectory()
        var report = try Reports.demo()
        for (offset, stem) in ["mailport-20261101T020000Z", "mailport-20261102T020000Z", "mailport-20261103T020000Z"]
            .enumerated()
        {
            report.scan.startedAt = "2026-11-0\(offset + 1)T02:00:00Z"
            report.summary.findingsBySeverity["critical"] = offset
            try AtomicFile.write(try JSONReportWriter.encode(report), to: "\(directory)/\(stem).json")
        }
        try AtomicFile.write(HTMLReportWriter.encode(report), to: directory + "/mailport-20261103T020000Z.html")
        try "not json".write(toFile: directory + "/mailport-broken.json", atomically: true, encoding: .utf8)
        try RunIndex.write(directory: directory)
        let html = try String(contentsOfFile: directory + "/index.html", encoding: .utf8)
        #expect(html.contains("3 runs with a JSON report"), "the unreadable file is skipped")
        let table = String(html[html.range(of: "<table id=\"runs\">")!.lowerBound...])
        let first = table.range(of: "2026-11-03T02:00:00Z")!
        let last = table.range(of: "2026-11-01T02:00:00Z")!
        #expect(first.lowerBound < last.lowerBound, "newest first")
        #expect(html.contains("<a href=\"mailport-20261103T020000Z.html\">html</a>"))
        #expect(
            !html.contains("<a href=\"mailport-20261101T020000Z.html\">"), "no link to an HTML file that does not exist"
        )
        #expect(
            html.components(separatedBy: "class=\"bar-critical\"").count - 1 == 2, "runs 2 and 3 had critical findings")
    }
}

@Suite("Merging reports")
struct MergeTests {
    @Test("one whole report is a merge of one: it comes back unchanged; beside shards it is still refused")
    func singleWholeReport() throws {
        let whole = try Reports.demo()
        #expect(whole.scan.shard == nil)
        #expect(try ShardMerge.merge([(report: whole, file: "whole.json")]) == whole)
        var shard = whole
        shard.scan.shard = "0/2"
        #expect(throws: MailPortError.self) {
            try ShardMerge.merge([(report: shard, file: "shard-0.json"), (report: whole, file: "whole.json")])
        }
        // A lone shard is not a whole report: the other shards are missing.
        #expect(throws: MailPortError.self) { try ShardMerge.merge([(report: shard, file: "shard-0.json")]) }
    }
}
