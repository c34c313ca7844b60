import Foundation
import MailPortCore
import Mustache
import Synchronization

/// The HTML report: one self-contained file for people (overview with grade, counts and charts; a sortable,
/// filterable host table; per-host detail with TLS facts, certificate, findings with remediation, transcript).
/// The page around the hosts is a Mustache template; each host's row and details are written directly
/// (`HTMLHostMarkup`). Every value is HTML-escaped byte by byte either way (`EscapedBytes`); text from servers is also
/// made inert (`ReportText.inert`) so control characters cannot reach a terminal that `cat`s the file.
public enum HTMLReportWriter {
    static let library: MustacheLibrary = {
        MustacheContentTypes.register(EscapedBytes(), named: EscapedBytes.name)
        // Every part and partial names the escaping it uses, before anything else in it.
        let pragma = "{{% CONTENT_TYPE: \(EscapedBytes.name) }}"
        do {
            var templates = ["chart": try MustacheTemplate(string: pragma + HTMLTemplate.chart)]
            for (name, text) in pageParts() { templates[name] = try MustacheTemplate(string: pragma + text) }
            return MustacheLibrary(templates: templates)
        } catch {
            preconditionFailure("the built-in HTML template does not parse: \(error)")
        }
    }()

    /// HTML escaping of every value, byte by byte: `<`, `>`, `&`, `"` and `'` wherever they are. Mustache's own
    /// escaping compares whole characters, so a quote followed by a combining mark (`"` U+0301, one character) was
    /// written raw and could end an attribute; it also took a fifth of the HTML report's time.
    struct EscapedBytes: MustacheContentType {
        static let name = "MAILPORT_HTML"

        func escapeText(_ text: String) -> String { Self.escape(text) }

        static func escape(_ text: String) -> String {
            let utf8 = text.utf8
            guard utf8.contains(where: { replacement($0) != nil }) else { return text }
            var escaped: [UInt8] = []
            escaped.reserveCapacity(utf8.count + 32)
            for byte in utf8 {
                if let replacement = replacement(byte) {
                    escaped.append(contentsOf: replacement)
                } else {
                    escaped.append(byte)
                }
            }
            // Only ASCII bytes were replaced, by ASCII: still UTF-8.
            return String(decoding: escaped, as: UTF8.self)
        }

        static func replacement(_ byte: UInt8) -> String.UTF8View? {
            switch byte {
            case UInt8(ascii: "<"): "&lt;".utf8
            case UInt8(ascii: ">"): "&gt;".utf8
            case UInt8(ascii: "&"): "&amp;".utf8
            case UInt8(ascii: "\""): "&quot;".utf8
            case UInt8(ascii: "'"): "&#39;".utf8
            default: nil
            }
        }
    }

    /// The page template cut at its two host sections (the table's rows, the details), so each host is rendered
    /// alone: `head`, `row` per host, `middle`, `detail` per host, `tail`. Each section's opening tag shares its line
    /// with content and its closing tag stands alone on its line (Mustache drops such a line whole), so the parts
    /// put together render the same bytes as the whole page would.
    static func pageParts() -> [(String, String)] {
        let page = HTMLTemplate.page
        func cut(_ text: Substring, at marker: String) -> (Substring, Substring) {
            guard let range = text.range(of: marker) else {
                preconditionFailure("the built-in HTML template lost its marker \(marker)")
            }
            return (text[..<range.lowerBound], text[range.upperBound...])
        }
        // The hosts' rows and details are written between the parts (HTMLHostMarkup), where the page marks them.
        let (head, middleOn) = cut(page[...], at: HTMLTemplate.rowsMarker)
        let (middle, tail) = cut(middleOn, at: HTMLTemplate.detailsMarker)
        return [("head", String(head)), ("middle", String(middle)), ("tail", String(tail))]
    }

    public static func encode(_ report: ScanReport) -> [UInt8] {
        let sink = ReportSink()
        // A memory sink does not fail.
        try? write(report, into: sink)
        return sink.bytes
    }

    /// The page, host by host: one pass gathers what the summaries need (`ReportDigest`), the parts around the hosts
    /// are rendered once, and each host's row and details alone, worst host first, so a large run's hosts are read
    /// one at a time and never all turned into template values at once. A host's sections see only its own values:
    /// every key they use is always present in them, so no page value could show through.
    ///
    /// Only the `liveHosts` worst hosts are page markup from the start. The rest are held as inert text (in
    /// `<script type="text/x-mailport-…">` elements, never run): their table rows in one block, built when the
    /// table is filtered or sorted or "Show all" is pressed; their details in blocks of `heldBlock` hosts, each built
    /// when a link leads to one of its hosts. A browser lays out a table as its rows arrive, again and again: 14,286
    /// rows and host sections took Chromium 24-36 s to DOMContentLoaded, 500 of each and the rest held 1.8 s
    /// (Benchmarks/writers.py).
    public static func write(_ report: ScanReport, into sink: ReportSink) throws(MailPortError) {
        try write(report, into: sink, liveHosts: liveHosts, heldBlock: heldBlock)
    }

    /// Hosts whose row and details are markup when the page opens (the worst ones).
    static let liveHosts = 500
    /// Hosts per held block of details: following a link builds one block, not every held host.
    static let heldBlock = 500

    static func write(
        _ report: ScanReport, into sink: ReportSink, liveHosts: Int, heldBlock: Int
    ) throws(MailPortError) {
        func render(_ part: String, _ context: [String: Any]) throws(MailPortError) {
            try sink.write(library.render(context, withTemplate: part) ?? "")
        }
        // Each host's row and details are rendered in the digest's pass (on all cores) and written worst first:
        // the hosts are read once (each read of a spooled host decodes it), not three times.
        let rows = RenderedParts(count: report.hosts.count, spool: report.hosts.spool)
        let details = RenderedParts(count: report.hosts.count, spool: report.hosts.spool)
        let digest = ReportDigest(report) { index, host in
            let markup = hostMarkup(host, index: index, report: report)
            rows.set(markup.row, at: index)
            details.set(markup.details, at: index)
        }
        var page = view(report, digest: digest)
        page["hosts"] = !report.hosts.isEmpty
        let order = digest.worstFirst
        page["heldHosts"] = max(0, order.count - liveHosts)
        page["hasHeldHosts"] = order.count > liveHosts
        page["liveHosts"] = liveHosts
        try render("head", page)
        for (position, index) in order.enumerated() {
            if position == liveHosts { try sink.write("<script type=\"text/x-mailport-rows\">\n") }
            try sink.write(rows[index])
        }
        if order.count > liveHosts { try sink.write("</script>\n") }
        try render("middle", page)
        for (position, index) in order.enumerated() {
            let detail = details[index]
            guard position >= liveHosts else {
                try sink.write(detail)
                continue
            }
            if (position - liveHosts) % heldBlock == 0 {
                if position > liveHosts { try sink.write("</script>\n") }
                try sink.write("<script type=\"text/x-mailport-hosts\">\n")
            }
            // A held host's details hold their own inert script: its end tag is written so that it cannot end the
            // block (every value is HTML-escaped, so no server text can contain it); the page's script restores it.
            try sink.write(escapingScriptEnds(detail))
        }
        if order.count > liveHosts { try sink.write("</script>\n") }
        try render("tail", page)
    }

    /// Rendered parts of the page by host index: in memory for a report held in memory, in its spool (as bytes,
    /// nothing to decode) for a spooled one, so memory stays flat however many hosts there are. Set from the
    /// digest's threads, each index once.
    final class RenderedParts: Sendable {
        private struct Parts {
            var inMemory: [String]
            var records: [SpoolRecord?]
        }
        private let parts: Mutex<Parts>
        private let spool: RecordSpool?

        init(count: Int, spool: RecordSpool?) {
            self.spool = spool
            parts = Mutex(
                Parts(
                    inMemory: spool == nil ? Array(repeating: "", count: count) : [],
                    records: spool == nil ? [] : Array(repeating: nil, count: count)))
        }

        func set(_ part: String, at index: Int) {
            if let spool {
                // Appended outside the lock: the spool serialises its own writers.
                let record = spool.append(Array(part.utf8))
                parts.withLock { $0.records[index] = record }
            } else {
                parts.withLock { $0.inMemory[index] = part }
            }
        }

        subscript(index: Int) -> [UInt8] {
            guard let spool else { return Array(parts.withLock { $0.inMemory[index] }.utf8) }
            return spool.read(parts.withLock { $0.records[index] }!)
        }
    }

    /// `bytes` with every `</script>` written `<\/script>`, byte by byte (Foundation's replacingOccurrences went
    /// through NSString and took a tenth of the HTML report's time).
    static func escapingScriptEnds(_ bytes: [UInt8]) -> [UInt8] {
        let endTag = Array("</script>".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var index = 0
        while index < bytes.count {
            if bytes[index] == endTag[0], bytes.count - index >= endTag.count,
                endTag.indices.allSatisfy({ bytes[index + $0] == endTag[$0] })
            {
                out += Array("<\\/script>".utf8)
                index += endTag.count
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// Everything the template shows, as plain values. Keys that may be absent are always present (false), so a
    /// missing value never falls through to an outer context's value of the same name.
    static func view(_ report: ScanReport, digest: ReportDigest) -> [String: Any] {
        let severityCounts = Severity.allCases.reversed().map { severity in
            ["name": severity.rawValue, "count": report.summary.findingsBySeverity[severity.rawValue] ?? 0]
                as [String: Any]
        }
        let services = digest.services.filter { $0.count > 0 }
        let verdict = GateVerdict(report)
        let rollup = digest.rollup
        let unlisted = digest.incompleteCount - digest.incomplete.count
        return [
            "toolVersion": t(report.tool.version),
            "startedAt": report.scan.startedAt, "finishedAt": report.scan.finishedAt,
            "duration": ReportDuration.text(report.durationSeconds),
            "targets": t(
                report.scan.targets.prefix(20).joined(separator: " ") + (report.scan.targets.count > 20 ? " …" : "")),
            "profile": t(report.scan.profile), "mode": report.scan.mode.rawValue,
            "complete": report.scan.complete, "incompleteReason": t(report.scan.incompleteReason ?? "interrupted"),
            "grade": label(report.summary.grade),
            "verdict": verdict.text.prefix(1).uppercased() + verdict.text.dropFirst(),
            "verdictClass": verdict.cssClass,
            "incompleteSummary": digest.incompleteSummary ?? false,
            // Names given but never scanned (they did not resolve): the audit covers less than was asked.
            "hasTargetErrors": !(report.scan.targetErrors ?? []).isEmpty,
            "targetErrors": (report.scan.targetErrors ?? []).prefix(50).map {
                ["target": t($0.target), "error": t($0.error)]
            },
            "incompleteEndpoints": digest.incomplete.map { incomplete in
                [
                    "location": t(ScanReport.location(incomplete.address, incomplete.port)),
                    "anchor": "host-\(incomplete.host)",
                ]
            },
            "incompleteUnlisted": unlisted > 0 ? "and \(unlisted) more" : false,
            "hasRollup": !rollup.isEmpty,
            "rollup": rollup.map { entry in
                [
                    "rule": t(entry.rule), "title": t(entry.title), "severity": entry.severity.rawValue,
                    "reach": entry.reach, "spread": entry.hosts + entry.domains,
                    "fixAnchor": fixAnchor(entry.rule, report: report) ?? false,
                ] as [String: Any]
            },
            // Remediation once per rule, not under every finding: at 100,000 endpoints it was a third of the page.
            "hasFixes": report.rules.keys.contains { fixAnchor($0, report: report) != nil },
            "fixes": report.rules.keys.sorted().compactMap { id -> [String: Any]? in
                guard let anchor = fixAnchor(id, report: report), let rule = report.rules[id] else {
                    return nil
                }
                return [
                    "anchor": anchor, "rule": t(id), "title": t(rule.title), "remediation": remediation(rule),
                    "references": rule.references.isEmpty ? false : t(rule.references.joined(separator: "; ")),
                ]
            },
            "severityCounts": severityCounts,
            "waived": report.summary.waivedFindings > 0 ? report.summary.waivedFindings : false,
            "addressCount": report.summary.hosts, "hostsUp": report.summary.hostsUp,
            "hostCount": report.hosts.count, "openEndpoints": report.summary.openEndpoints,
            "portChart": chart(
                title: "Open ports by service",
                bars: services.map { ("\($0.service.rawValue)", $0.count, "bar-port") }),
            "severityChart": chart(
                title: "Findings by severity",
                bars: Severity.allCases.reversed().map {
                    ($0.rawValue, report.summary.findingsBySeverity[$0.rawValue] ?? 0, "bar-\($0.rawValue)")
                }),
            "hasDomains": !(report.domains ?? []).isEmpty,
            "domains": (report.domains ?? []).enumerated().map {
                domainView($1, index: $0, report: report, digest: digest)
            },
            "baseline": report.baseline.map { baseline in
                [
                    "file": t(baseline.file), "startedAt": t(baseline.startedAt), "newFindings": baseline.newFindings,
                    "unchangedFindings": baseline.unchangedFindings, "resolvedCount": baseline.resolved.count,
                    "hasResolved": !baseline.resolved.isEmpty,
                    "resolved": baseline.resolved.map { resolved in
                        [
                            "location": t(ScanReport.location(resolved.address, resolved.port)),
                            "severity": resolved.severity.rawValue,
                            "rule": t(resolved.rule), "title": t(resolved.title),
                        ]
                    },
                ] as [String: Any]
            } ?? false,
            "hasWaivers": !report.waivers.isEmpty,
            "waiverList": report.waivers.map { waiver in
                [
                    "host": t(waiver.host), "port": waiver.port.map(String.init) ?? "any", "rule": t(waiver.rule),
                    "reason": t(waiver.reason), "expires": t(waiver.expires), "status": waiver.status.rawValue,
                    "matched": waiver.matched,
                ] as [String: Any]
            },
        ]
    }

    /// "incomplete: 587, 993": open endpoints whose audit is missing facts; their grade rests on what could be
    /// asked, and says so everywhere. Nil when every open endpoint's audit is complete.
    static func incompleteMarker(_ host: ScanReport.Host) -> String? {
        let incomplete = host.endpoints.filter { $0.state == .open && $0.dialog?.complete == false }
        return incomplete.isEmpty ? nil : "incomplete: " + incomplete.map { "\($0.port)" }.joined(separator: ", ")
    }

    /// A domain: its records, failed lookups, findings, and links to its hosts' details.
    static func domainView(
        _ domain: DomainObservation, index: Int, report: ScanReport, digest: ReportDigest
    ) -> [String: Any] {
        let grade = label(domain.grade)
        let failed = domain.lookups.filter(\.outcome.isFailure)
        func list(_ addresses: [String]) -> String {
            addresses.isEmpty ? "no address" : t(addresses.joined(separator: ", "))
        }
        return [
            "name": t(domain.name), "anchor": "domain-\(index)", "grade": grade, "gradeClass": gradeClass(grade),
            "status": domain.status == .ok ? "" : t(domain.status.rawValue), "nullMX": domain.nullMX,
            "mx": domain.mx.map { mx in
                let note = mx.cname.map { "alias of \($0)" } ?? (mx.addressLiteral ? "address literal" : nil)
                return [
                    "preference": mx.preference, "exchange": t(mx.exchange), "note": note.map(t) ?? false,
                    "addresses": mx.addressLiteral ? "not looked up" : list(mx.addresses),
                ] as [String: Any]
            },
            "srv": domain.srv.map { srv in
                [
                    "service": t(srv.service), "priority": srv.priority, "weight": srv.weight, "port": srv.port,
                    "target": t(srv.target), "addresses": srv.declaresUnavailable ? "not offered" : list(srv.addresses),
                ] as [String: Any]
            },
            "hasNames": !domain.wellKnownNames.isEmpty,
            "names": domain.wellKnownNames.map { ["name": t($0.name), "addresses": list($0.addresses)] },
            "mtaSTS": PolicyText.mtaSTS(domain).map(t) ?? false,
            "tlsRPT": PolicyText.tlsRPT(domain).map(t) ?? false,
            "dane": PolicyText.dane(domain).map(t) ?? false,
            "hasFailedLookups": !failed.isEmpty,
            "failedLookups": failed.map { ["type": $0.type, "name": t($0.name), "outcome": $0.outcome.rawValue] },
            "hostLinks": domain.hosts.map { address -> [String: Any] in
                guard let index = digest.hostIndex[address] else { return ["address": t(address), "anchor": false] }
                let grade = label(digest.marks[index].grade)
                return [
                    "address": t(address), "anchor": "host-\(index)", "grade": grade, "gradeClass": gradeClass(grade),
                ]
            },
            // Markup already (HTMLHostMarkup), written as it is by the template.
            "findings": findingsMarkup(domain.findings, report: report),
        ]
    }

    /// "relay refused (6 forms; authentication first), VRFY refused, EXPN refused" and the like.
    static func smtpChecksText(_ checks: SMTPChecks) -> String {
        var parts: [String] = []
        if let relay = checks.relay {
            var detail = "\(checks.relayAttempts.count) form\(checks.relayAttempts.count == 1 ? "" : "s")"
            if checks.relayNeedsAuthentication == true { detail += "; authentication first" }
            if relay == .accepted, let form = checks.relayAttempts.last(where: { $0.outcome == .accepted }) {
                detail += "; \(form.question)"
            }
            parts.append("relay \(relay == .accepted ? "ACCEPTED (open relay)" : relay.rawValue) (\(detail))")
        }
        for answer in [checks.vrfy, checks.expn, checks.recipientEnumeration].compactMap({ $0 })
            + (checks.ownDomains ?? [])
        {
            parts.append("\(answer.question): \(answer.outcome.rawValue)")
        }
        return t(parts.joined(separator: ", "))
    }

    static func starttlsText(_ starttls: StartTLSObservation) -> String {
        guard starttls.offered else { return "not offered" }
        var parts = ["offered"]
        if let accepted = starttls.accepted { parts.append(accepted ? "accepted" : "refused") }
        if let upgraded = starttls.upgraded { parts.append(upgraded ? "handshake completed" : "handshake failed") }
        if let error = starttls.error { parts.append(error) }
        if let injection = starttls.injectionAnsweredInsideTLS {
            parts.append(injection ? "pipelined command answered inside TLS (injection)" : "no command injection")
        }
        return t(parts.joined(separator: ", "))
    }

    /// "; unknown: TLSv1, SSLv3" for answers that could not be had.
    static func unknownSuffix(_ unknown: [String]?) -> String {
        guard let unknown, !unknown.isEmpty else { return "" }
        return t("; unknown: " + unknown.joined(separator: ", "))
    }

    static let serverNames = [
        "general": "What to do", "postfix": "Postfix", "dovecot": "Dovecot", "exim": "Exim", "other": "Other",
    ]

    static func remediation(_ rule: ScanReport.RuleDescription) -> [[String: String]] {
        ["general", "postfix", "dovecot", "exim", "other"].compactMap { key -> [String: String]? in
            rule.remediation[key].map { ["server": serverNames[key]!, "text": t($0)] }
        }
    }

    /// The id of a rule's entry under "How to fix", or nil when the report has no remediation or references for it.
    static func fixAnchor(_ rule: String, report: ScanReport) -> String? {
        guard let description = report.rules[rule],
            !description.remediation.isEmpty || !description.references.isEmpty
        else { return nil }
        // An id has no spaces; the rest is escaped by the template like any value.
        return "fix-" + t(rule).replacingOccurrences(of: " ", with: "_")
    }

    /// A horizontal bar chart's geometry.
    static func chart(title: String, bars: [(label: String, value: Int, cssClass: String)]) -> [String: Any] {
        let rowHeight = 24
        let labelWidth = 96
        let barMax = 200
        let largest = max(1, bars.map(\.value).max() ?? 1)
        return [
            "title": title, "width": labelWidth + barMax + 48, "height": max(rowHeight, bars.count * rowHeight),
            "bars": bars.enumerated().map { index, bar in
                let width = bar.value == 0 ? 0 : max(2, bar.value * barMax / largest)
                return [
                    "label": bar.label, "value": bar.value, "barClass": bar.cssClass,
                    "barX": labelWidth, "barY": index * rowHeight + 4, "barWidth": width, "barHeight": rowHeight - 8,
                    "textY": index * rowHeight + 16, "valueX": labelWidth + width + 6,
                ] as [String: Any]
            },
        ]
    }

    /// A grade as the page shows it; "–" for none.
    static func label(_ grade: Grade?) -> String { grade?.rawValue ?? "–" }

    /// CSS-class form of a grade (`A+` → `Aplus`).
    static func gradeClass(_ grade: String) -> String {
        grade.replacingOccurrences(of: "+", with: "plus").replacingOccurrences(of: "-", with: "minus")
    }

    /// Sorts addresses numerically as text: IPv4 before IPv6, each part zero-padded.
    static func sortKey(_ address: String) -> String {
        guard let parsed = IPAddress(address) else { return "9-" + address }
        let value = parsed.integerValue
        let hex = String(value, radix: 16)
        return (parsed.family == .v4 ? "4-" : "6-") + String(repeating: "0", count: max(0, 32 - hex.count)) + hex
    }

    /// Untrusted text, inert (controls and bidi overrides made visible); Mustache escapes the markup.
    static func t(_ text: String) -> String { ReportText.inert(text) }
}
