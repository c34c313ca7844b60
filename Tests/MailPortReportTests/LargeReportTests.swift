import Foundation
import MailPortCore
import MailPortTestSupport
import Synchronization
import Testing

@testable import MailPortReport

/// The fixture's hosts copied `count` times over with new addresses (10.0.0.1 on), in the fixture's order: a
/// report of thousands of hosts with real MailPort facts.
func largeReport(hosts count: Int) throws -> ScanReport {
    var report = try fixedReport()
    let hosts = report.hosts.array
    #expect(hosts.count == 4, "the fixture's four hosts")
    var many: [ScanReport.Host] = []
    for index in 0..<count {
        var host = hosts[index % hosts.count]
        host.address = "10.\(index / 65_536 % 256).\(index / 256 % 256).\(index % 256 + 1)"
        many.append(host)
    }
    report.hosts = HostList(many)
    return report
}

/// The order the reports list hosts in: worst grade first (F, C, …, A+, no grade), then worst counted finding, then
/// address numerically.
func expectedWorstFirst(_ report: ScanReport) -> [String] {
    let builtin = Grade.builtinOrder.count
    func key(_ host: ScanReport.Host) -> (Int, Int, String) {
        let grade = host.grade.map { builtin - 1 - Grade.builtinRank($0) } ?? Int.max
        let worst = host.endpoints.flatMap(\.findings).filter { !$0.waived }.map(\.severity).max()
        return (
            grade, -(worst.map { Severity.allCases.firstIndex(of: $0)! + 1 } ?? 0),
            HTMLReportWriter.sortKey(host.address)
        )
    }
    return report.hosts.array.sorted { key($0) < key($1) }.map(\.address)
}

@Suite("Large reports: worst first, collapsed details, bounded summaries")
struct LargeReportTests {
    static func html(_ report: ScanReport) -> String {
        String(decoding: HTMLReportWriter.encode(report), as: UTF8.self)
    }

    @Test("hosts are listed worst grade first, then worst finding, then address as a number")
    func worstFirst() throws {
        let report = try fixedReport()
        let html = Self.html(report)
        let rows = html.matches(of: #/<tr data-host="([^"]+)">/#).map { String($0.1) }
        #expect(rows == ["127.77.0.3", "127.77.0.4", "127.77.0.5", "127.77.0.2"])
        #expect(rows == expectedWorstFirst(report))
        // The details follow the table's order; anchors stay the hosts' places in the report.
        let details = html.matches(of: #/<details class="host" id="host-([0-9]+)">/#).map { Int($0.1)! }
        #expect(details == [1, 2, 3, 0])
        let md = String(decoding: MarkdownReportWriter.encode(report), as: UTF8.self)
        let mdRows = md.matches(of: #/\n\| (127\.77\.0\.[0-9]) [(|]/#).map { String($0.1) }
        #expect(Array(mdRows.prefix(4)) == rows)
        // Same grade and worst finding: 9.x before 10.0.0.9 before 10.0.0.10 (as text 10.0.0.10 would come first);
        // a host without a grade comes last.
        var tie = report
        let f = try #require(report.hosts.first { $0.address == "127.77.0.3" })
        var ungraded = f
        ungraded.grade = nil
        ungraded.address = "1.1.1.1"
        tie.hosts = HostList(
            ["10.0.0.10", "10.0.0.9", "9.255.0.1"].map { address in
                var host = f
                host.address = address
                return host
            } + [ungraded])
        let tieRows = Self.html(tie).matches(of: #/<tr data-host="([^"]+)">/#).map { String($0.1) }
        #expect(tieRows == ["9.255.0.1", "10.0.0.9", "10.0.0.10", "1.1.1.1"])
    }

    @Test("host details are collapsed and lazily rendered; remediation is written once per rule and linked")
    func collapsedDetails() throws {
        let report = try largeReport(hosts: 40)
        let html = Self.html(report)
        #expect(html.matches(of: #/<details class="host" id="host-[0-9]+">/#).count == 40)
        #expect(!html.contains("<details class=\"host\" open") && !html.contains("<article class=\"host\""))
        #expect(html.contains("details.host { ") && html.contains("content-visibility: auto"))
        // Each rule's fix once, every finding's link lands on one.
        let fixes = Set(html.matches(of: #/<details class="fix" id="(fix-[A-Z0-9-]+)">/#).map { String($0.1) })
        let withFix = report.rules.filter { !$0.value.remediation.isEmpty || !$0.value.references.isEmpty }
        #expect(
            fixes.count == withFix.count
                && fixes.count == html.components(separatedBy: "<details class=\"fix\"").count - 1)
        let links = html.matches(of: #/<a href="#(fix-[A-Z0-9-]+)">How to fix</a>/#).map { String($0.1) }
        let findings = report.hosts.array.flatMap(\.endpoints).flatMap(\.findings).filter {
            withFix[$0.rule] != nil
        }
        #expect(links.count == findings.count && !links.isEmpty)
        #expect(links.allSatisfy(fixes.contains))
        #expect(!html.contains("<summary>How to fix</summary>"), "no remediation under each finding")
        // The script that opens a host's details when a link leads there.
        #expect(html.contains("target.tagName === 'DETAILS'"))
        // Each host's details wait as text in an inert script element until it is opened.
        #expect(html.components(separatedBy: "</summary><script type=\"text/x-mailport-host\">").count - 1 == 40)
    }

    @Test("past the first hosts, rows and details are held as inert blocks, in worst-first order, and come back whole")
    func heldHosts() throws {
        let report = try largeReport(hosts: 120)
        let sink = ReportSink()
        try HTMLReportWriter.write(report, into: sink, liveHosts: 20, heldBlock: 50)
        let html = String(decoding: sink.bytes, as: UTF8.self)
        let expected = expectedWorstFirst(report)
        // Rows: 20 live, then one block with the other 100.
        let rowsOpen = try #require(html.range(of: "<script type=\"text/x-mailport-rows\">\n"))
        let rowsClose = try #require(html[rowsOpen.upperBound...].range(of: "</script>"))
        let address = #/<tr data-host="([^"]+)">/#
        let liveRows = html[..<rowsOpen.lowerBound].matches(of: address).map { String($0.1) }
        let heldRows = html[rowsOpen.upperBound..<rowsClose.lowerBound].matches(of: address).map { String($0.1) }
        #expect(liveRows == Array(expected.prefix(20)) && heldRows == Array(expected.dropFirst(20)))
        #expect(html[rowsClose.upperBound...].matches(of: address).isEmpty, "every row is in the table")
        // Details: 20 live, then blocks of 50 (two here), whose own inert scripts' end tags are escaped.
        let blocks = html.components(separatedBy: "<script type=\"text/x-mailport-hosts\">\n").dropFirst()
        #expect(blocks.count == 2)
        var restored: [String] = []
        for block in blocks {
            let held = try #require(block.components(separatedBy: "</script>").first)
            #expect(held.matches(of: #/<details class="host" id=/#).count == 50)
            #expect(held.components(separatedBy: "<\\/script></details>").count - 1 == 50)
            restored.append(held.replacingOccurrences(of: "<\\/script>", with: "</script>"))
        }
        // Put back, the held details are the bytes a page without held hosts has for those hosts.
        let whole = Self.html(report)
        for block in restored { #expect(whole.contains(block)) }
        let ids = #/<details class="host" id="host-([0-9]+)">/#
        let order = (html.components(separatedBy: "<script type=\"text/x-mailport-rows\">").last ?? "")
            .matches(of: ids).map { report.hosts[Int($0.1)!].address }
        #expect(order == expected, "live and held details in worst-first order")
        #expect(html.contains("<button id=\"show-all\" type=\"button\">Show all hosts</button>"))
        #expect(html.contains("var total = body.rows.length + 100;"))
        // Without JavaScript the page says what it cannot show, and where it is.
        #expect(html.contains("id=\"held-noscript\">This table lists the 20 worst hosts; the other 100"))
        #expect(html.contains("id=\"details-noscript\"") && whole.contains("id=\"details-noscript\""))
        #expect(!whole.contains("held-noscript"))
        // Few hosts: nothing held, no button.
        #expect(!whole.contains("text/x-mailport-rows") && !whole.contains("text/x-mailport-hosts"))
        #expect(!whole.contains("<button id=\"show-all\"") && whole.contains("var total = body.rows.length + 0;"))
    }

    @Test("a held block's inner end tags are escaped wherever they fall, and nothing else changes")
    func scriptEndsEscaped() {
        for (text, expected) in [
            ("", ""), ("</script>", "<\\/script>"), ("a</script>b</script>", "a<\\/script>b<\\/script>"),
            ("</scrip", "</scrip"), ("<</script>>", "<<\\/script>>"), ("é ✓ </script>", "é ✓ <\\/script>"),
            ("x</script", "x</script"),
        ] {
            #expect(
                String(decoding: HTMLReportWriter.escapingScriptEnds(Array(text.utf8)), as: UTF8.self) == expected,
                "\(text)")
        }
    }

    @Test("hostile text stays inert in the host summary line and in the fixes")
    func escaping() throws {
        var report = try fixedReport()
        report.hosts[0].names = ["<script>alert(1)</script>"]
        let rule = try #require(report.rules.keys.sorted().first)
        report.rules[rule]?.remediation["postfix"] = "<img src=x onerror=alert(2)> \u{1b}]0;title\u{7}"
        report.rules[rule]?.title = "\"><b>bold</b>"
        let html = Self.html(report)
        #expect(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("<img src=x") && html.contains("&lt;img src=x onerror=alert(2)&gt;"))
        #expect(!html.contains("\u{1b}") && html.contains("\\u{1b}]0;title\\u{7}"))
        #expect(!html.contains("<b>bold</b>"))
    }

    @Test("a quote or bracket followed by a combining mark is escaped too (one character to Swift, two to a browser)")
    func escapingCombined() throws {
        var report = try fixedReport()
        // Attribute context (data-domain="…") and text context (the domain's heading).
        report.domains = [
            DomainObservation(
                name: "evil\"\u{301} onmouseover=alert(3) x=\"<\u{338}b>", status: .ok, hosts: [], grade: .b)
        ]
        let html = Self.html(report)
        #expect(html.contains("evil&quot;\u{301} onmouseover=alert(3) x=&quot;&lt;\u{338}b&gt;"))
        #expect(!html.contains("\"\u{301}") && !html.contains("<\u{338}"))
    }

    @Test("Markdown lists the worst hosts and the worst findings, bounded, with counts of the rest")
    func markdownBounded() throws {
        let report = try largeReport(hosts: 120)
        let md = String(decoding: MarkdownReportWriter.encode(report), as: UTF8.self)
        let limit = MarkdownReportWriter.findingLimit
        let hostSection = try #require(md.components(separatedBy: "### Hosts, worst first\n").dropFirst().first)
        let hostRows = hostSection.components(separatedBy: "\n\n")[0].split(separator: "\n").dropFirst(2)
        #expect(hostRows.count == limit)
        #expect(hostRows.map { String($0.split(separator: " ")[1]) } == Array(expectedWorstFirst(report).prefix(limit)))
        #expect(md.contains("_\(120 - limit) more hosts in the JSON and HTML reports._"))
        let failing = report.hosts.array.flatMap(\.endpoints).flatMap(\.findings).filter {
            !$0.waived && $0.severity >= .high
        }
        #expect(failing.count > limit)
        let findingSection = try #require(
            md.components(separatedBy: "### Findings at or above high\n").dropFirst().first)
        let severities = findingSection.split(separator: "\n").filter { $0.hasPrefix("| 10.") }.map {
            Severity(rawValue: String($0.split(separator: "|")[1].trimmingCharacters(in: .whitespaces)))
        }
        #expect(severities.count == limit && severities.allSatisfy { $0 != nil })
        #expect(severities == severities.sorted { ($0 ?? .info) > ($1 ?? .info) }, "most severe first")
        #expect(md.contains("_\(failing.count - limit) more in the JSON and HTML reports._"))
    }

    @Test("SARIF written host by host: one result per finding in report order, and a valid log without any")
    func sarifStreamed() throws {
        let report = try largeReport(hosts: 30)
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(try SARIFReportWriter.encode(report))) as? [String: Any])
        let results = try #require((document["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        let findings = report.hosts.array.flatMap { host in
            host.endpoints.flatMap { endpoint in endpoint.findings.map { _ in "hosts/\(host.address)/\(endpoint.port)" }
            }
        }
        #expect(results.count == findings.count && findings.count > 30)
        let uris = results.compactMap {
            (($0["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
                .flatMap { ($0["artifactLocation"] as? [String: Any])?["uri"] as? String }
        }
        #expect(uris == findings)
        var clean = report
        clean.hosts = HostList(
            Array(report.hosts.array.prefix(2)).map { host in
                var host = host
                for e in host.endpoints.indices { host.endpoints[e].findings = [] }
                return host
            })
        let empty = try #require(
            try JSONSerialization.jsonObject(with: Data(try SARIFReportWriter.encode(clean))) as? [String: Any])
        let emptyResults = try #require((empty["runs"] as? [[String: Any]])?.first?["results"] as? [Any])
        #expect(emptyResults.isEmpty)
    }

    @Test(
        "a large report renders the same bytes from spooled hosts as from hosts in memory",
        arguments: [ReportFormat.html, .sarif, .md])
    func largeFromSpool(_ format: ReportFormat) throws {
        let report = try largeReport(hosts: 120)
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var spooled = report
        spooled.hosts = HostList(spooledIn: try RecordSpool(directory: directory))
        spooled.hosts.append(contentsOf: report.hosts)
        #expect(spooled.hosts.isSpooled && spooled.hosts.count == 120)
        let inMemory = try format.render(report)
        #expect(inMemory.count > 10_000)
        #expect(try format.render(spooled) == inMemory)
    }

    @Test(
        "a report of 3,000 hosts in headless Chromium: the 500 worst first, the rest built on demand, details collapsed and lazy, links open their host",
        .rootTier)
    func largeInBrowser() async throws {
        let report = try largeReport(hosts: 3_000)
        let directory = makeTemporaryDirectory()
        let html = directory + "/large.html"
        try AtomicFile.write(HTMLReportWriter.encode(report), to: html)
        let outcome = try await runProgram(
            "/usr/bin/env",
            [
                "python3", ProjectPaths.root + "/scripts/htmlcheck.py", html, "--screenshot", directory + "/large.png",
                "--large",
            ], timeLimit: 300)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let seen = try #require(
            try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any],
            "htmlcheck.py prints one JSON object: \(outcome.standardOutput)")
        let expected = expectedWorstFirst(report)
        #expect(expected.count == 3_000)
        // As the page opens: the 500 worst hosts, the other 2,500 rows in one held block, their details in five.
        let opened = seen["opened"] as? [String: Any] ?? [:]
        #expect(opened["rows"] as? Int == 500 && opened["details"] as? Int == 500, "\(opened["rows"] ?? "")")
        #expect(opened["heldRowBlocks"] as? Int == 1 && opened["heldHostBlocks"] as? Int == 5)
        #expect(opened["hostsAttribute"] as? [String] == Array(expected.prefix(500)))
        #expect(opened["openDetails"] as? Int == 0, "host details start collapsed")
        #expect(opened["builtEndpoints"] as? Int == 0, "no host's details are built before it is opened")
        #expect(
            opened["shownText"] as? String == "500 of 3000 hosts (the worst; filter, sort or show all for the rest)",
            "the script ran")
        #expect(seen["contentVisibility"] as? String == "auto")
        #expect(seen["overallGrade"] as? String == "F" && seen["ruleRows"] as? Int == 13)
        // A link to a held host builds its block of details (500 hosts), not the rest, and opens the host in view.
        #expect((seen["heldLink"] as? String)?.hasPrefix("host-") == true)
        let followedHeld = seen["followedHeld"] as? [String: Any] ?? [:]
        #expect(followedHeld["open"] as? Bool == true && followedHeld["inView"] as? Bool == true, "\(followedHeld)")
        #expect(followedHeld["held"] as? Int == 0 && (followedHeld["endpoints"] as? Int ?? 0) > 0, "\(followedHeld)")
        let afterHeldLink = seen["afterHeldLink"] as? [String: Any] ?? [:]
        #expect(afterHeldLink["details"] as? Int == 1_000 && afterHeldLink["heldHostBlocks"] as? Int == 4)
        #expect(afterHeldLink["rows"] as? Int == 500, "the rows stay held until they are asked for")
        // Filtering for a held host's address builds the held rows and finds it.
        let filtered = seen["filteredHeld"] as? [String: Any] ?? [:]
        let heldAddress = try #require(filtered["address"] as? String)
        #expect(expected.dropFirst(500).contains(heldAddress))
        #expect(filtered["rows"] as? Int == 3_000, "\(filtered)")
        #expect((filtered["shown"] as? [String])?.contains(heldAddress) == true, "\(filtered)")
        #expect(
            (filtered["shown"] as? [String])?.allSatisfy { $0.contains(heldAddress) } == true
                && (filtered["shownText"] as? String)?.hasSuffix(" of 3000 hosts") == true, "\(filtered)")
        // "Show all hosts": every row and every host's details, worst first, the button gone.
        let all = seen["all"] as? [String: Any] ?? [:]
        #expect(all["rows"] as? Int == 3_000 && all["details"] as? Int == 3_000)
        #expect(all["heldRowBlocks"] as? Int == 0 && all["heldHostBlocks"] as? Int == 0)
        #expect(all["hostsAttribute"] as? [String] == expected)
        #expect(all["detailOrder"] as? [String] == expected)
        #expect(all["shownText"] as? String == "3000 of 3000 hosts")
        #expect(seen["showAllHidden"] as? Bool == true)
        // The last row is an A+ host (two open endpoints): opened, in view, its details built.
        let followed = seen["followedLink"] as? [String: Any] ?? [:]
        #expect(followed["open"] as? Bool == true && followed["inView"] as? Bool == true, "\(followed)")
        #expect(followed["endpoints"] as? Int == 2 && followed["held"] as? Int == 0, "\(followed)")
        #expect(seen["consoleErrors"] as? [String] == [], "\(seen["consoleErrors"] ?? "")")
        #expect(seen["resourceRequests"] as? Int == 0)
        print(
            "large report: \(seen["domContentLoadedMs"] ?? "?") ms to DOMContentLoaded, \(seen["loadMs"] ?? "?") ms to load"
        )
    }
}

@Suite("The report digest reads runs of hosts on all cores")
struct DigestPartsTests {
    @Test("split into runs read at once, the digest is the one read host by host, and each host is seen once")
    func splitEqualsSequential() throws {
        var report = try largeReport(hosts: 403)
        // Incomplete endpoints past the kept limit, spread over every run, and some hosts without a grade.
        for index in stride(from: 0, to: report.hosts.count, by: 1) where index % 5 != 4 {
            for place in report.hosts[index].endpoints.indices where report.hosts[index].endpoints[place].dialog != nil
            {
                report.hosts[index].endpoints[place].dialog?.complete = false
                report.hosts[index].endpoints[place].dialog?.incompleteReason = "cut at host \(index)"
            }
            if index % 7 == 0 { report.hosts[index].grade = nil }
        }
        let whole = ReportDigest(report, parts: 1)
        #expect(whole.incompleteCount > ReportDigest.incompleteLimit && !whole.rollup.isEmpty)
        for parts in [2, 3, 8] {
            let seen = Mutex<[Int]>([])
            let split = ReportDigest(report, parts: parts) { index, _ in seen.withLock { $0.append(index) } }
            #expect(seen.withLock { $0.sorted() } == Array(0..<403))
            #expect(split.rollup == whole.rollup)
            #expect(split.services.map(\.count) == whole.services.map(\.count))
            #expect(split.incompleteCount == whole.incompleteCount)
            #expect(
                split.incomplete.map { "\($0.address):\($0.port):\($0.reason):\($0.host)" }
                    == whole.incomplete.map { "\($0.address):\($0.port):\($0.reason):\($0.host)" })
            #expect(split.marks.map(\.address) == whole.marks.map(\.address))
            #expect(split.marks.map(\.grade) == whole.marks.map(\.grade))
            #expect(split.hostIndex == whole.hostIndex)
            #expect(split.worstFirst == whole.worstFirst)
        }
    }
}
