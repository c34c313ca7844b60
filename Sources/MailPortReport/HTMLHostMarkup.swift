import MailPortCore

/// A host's table row and details, and a list of findings, written as markup directly.
///
/// These are the parts of the HTML report rendered once per host (and per endpoint and finding): the rest of the page
/// comes from the Mustache template (`HTMLTemplate.page`), which renders once. Through Mustache every value was a
/// lookup in a stack of `[String: Any]` contexts, each level tried against three protocols by dynamic casts; in the
/// audit benchmark that was about 1.2 core-seconds for 1,149 hosts, more than the rest of the report together.
/// Here each value is appended where it goes, escaped byte by byte as the template's values are
/// (`EscapedBytes.escape`), and the golden pages (`demo.html`, `every-host-kind.html`) hold the markup to what the
/// template wrote, byte for byte.
struct HTMLMarkup {
    private(set) var text = ""

    init(capacity: Int = 4096) { text.reserveCapacity(capacity) }

    /// Markup of the page itself, written as is.
    mutating func raw(_ markup: String) { text += markup }

    /// A value: escaped. Text from servers has also been made inert (`HTMLReportWriter.t`) by the caller.
    mutating func value(_ value: String) { text += HTMLReportWriter.EscapedBytes.escape(value) }

    mutating func value(_ number: Int) { text += String(number) }

    mutating func value(_ number: UInt16) { text += String(number) }

    /// One fact of a definition list: `<dt>term</dt><dd>value</dd>`, the value in `<code>` when it is a server's
    /// text shown verbatim, and `note` (markup) after it.
    mutating func fact(_ term: String, _ value: String, code: Bool = false, note: String = "") {
        raw("<dt>" + term + "</dt><dd>" + (code ? "<code>" : ""))
        self.value(value)
        raw((code ? "</code>" : "") + note + "</dd>")
    }
}

/// What a host's row and its details both show, counted once per host.
struct HostTotals {
    let open: [ScanReport.Endpoint]
    /// Findings that count (not waived).
    let counted: [ScanReport.Finding]
    let worst: Severity?
    /// The grade as the page shows it.
    let grade: String
    /// "incomplete: 587, 993", nil when every open endpoint's audit is complete.
    let incomplete: String?

    init(_ host: ScanReport.Host) {
        open = host.endpoints.filter { $0.state == .open }
        counted = host.endpoints.flatMap(\.findings).filter { !$0.waived }
        worst = counted.map(\.severity).max()
        grade = HTMLReportWriter.label(host.grade)
        incomplete = HTMLReportWriter.incompleteMarker(host)
    }
}

extension HTMLReportWriter {
    /// A host's row in the overview table and its details.
    static func hostMarkup(_ host: ScanReport.Host, index: Int, report: ScanReport) -> (row: String, details: String) {
        let totals = HostTotals(host)
        return (rowMarkup(host, index: index, totals), detailMarkup(host, index: index, report: report, totals))
    }

    /// A host's row in the overview table.
    static func rowMarkup(_ host: ScanReport.Host, index: Int, _ totals: HostTotals) -> String {
        let (open, counted, worst, grade) = (totals.open, totals.counted, totals.worst, totals.grade)
        let ruleList = t(Array(Set(counted.map(\.rule))).sorted().joined(separator: " "))
        var out = HTMLMarkup(capacity: 1024)
        out.raw("<tr data-host=\"")
        out.value(t(host.address))
        out.raw("\">\n<td data-value=\"")
        out.value(t(sortKey(host.address)))
        out.raw("\"><a href=\"#host-")
        out.value(index)
        out.raw("\">")
        out.value(t(host.address))
        out.raw("</a>")
        for name in host.names {
            out.raw(" <span class=\"muted\">")
            out.value(t(name))
            out.raw("</span>")
        }
        if host.declaredMX { out.raw(" <span class=\"muted\">(MX)</span>") }
        out.raw("</td>\n<td data-value=\"")
        out.value(Grade.builtinRank(host.grade))
        out.raw("\"><span class=\"badge g-")
        out.value(gradeClass(grade))
        out.raw("\">")
        out.value(grade)
        out.raw("</span>")
        if let incomplete = totals.incomplete {
            out.raw(
                " <span class=\"incomplete\" title=\"some facts could not be gathered on these ports; the grade rests on the rest\">"
            )
            out.value(incomplete)
            out.raw("</span>")
        }
        out.raw("</td>\n<td data-value=\"")
        out.value(open.count)
        out.raw("\">")
        out.value(open.map { "\($0.port)" }.joined(separator: ", "))
        out.raw("</td>\n<td data-value=\"")
        out.value(counted.count)
        out.raw("\">")
        out.value(counted.count)
        out.raw("</td>\n<td data-value=\"")
        out.value(worst.map { Severity.allCases.firstIndex(of: $0)! + 1 } ?? 0)
        out.raw("\">")
        if let worst {
            out.raw("<span class=\"sev sev-")
            out.value(worst.rawValue)
            out.raw("\">")
            out.value(worst.rawValue)
            out.raw("</span>")
        } else {
            out.raw("none")
        }
        out.raw("</td>\n<td data-value=\"")
        out.value(ruleList)
        out.raw("\"><small>")
        out.value(ruleList)
        out.raw("</small></td>\n</tr>\n")
        return out.text
    }

    /// A host's details: collapsed, with its grade, worst finding and counts in the line that opens it; the rest
    /// inside an inert script element that the page's script turns into markup when the host is opened.
    static func detailMarkup(
        _ host: ScanReport.Host, index: Int, report: ScanReport, _ totals: HostTotals
    ) -> String {
        let (open, counted, worst, grade) = (totals.open, totals.counted, totals.worst, totals.grade)
        let states = Dictionary(grouping: host.endpoints, by: \.state)
        let portStates = [PortState.open, .closed, .filtered].compactMap { state -> String? in
            guard let endpoints = states[state], !endpoints.isEmpty else { return nil }
            return "\(state.rawValue): " + endpoints.map { "\($0.port)/\($0.service.rawValue)" }.joined(separator: ", ")
        }.joined(separator: "; ")
        var out = HTMLMarkup(capacity: 8192)
        out.raw("<details class=\"host\" id=\"host-")
        out.value(index)
        out.raw("\">\n<summary><h3>")
        out.value(t(host.address))
        out.raw(" <span class=\"badge g-")
        out.value(gradeClass(grade))
        out.raw("\">")
        out.value(grade)
        out.raw("</span>")
        if host.declaredMX { out.raw(" <span class=\"muted\">declared MX</span>") }
        if let incomplete = totals.incomplete {
            out.raw(" <span class=\"incomplete\">")
            out.value(incomplete)
            out.raw("</span>")
        }
        out.raw("</h3> <span class=\"muted\">")
        out.value(
            "\(open.count) open, \(counted.count) finding\(counted.count == 1 ? "" : "s")"
                + (worst.map { ", worst \($0.rawValue)" } ?? ""))
        out.raw("</span></summary><script type=\"text/x-mailport-host\">\n")
        if !host.names.isEmpty {
            out.raw("<p class=\"muted\">Names: ")
            for name in host.names {
                out.raw("<code>")
                out.value(t(name))
                out.raw("</code> ")
            }
            out.raw("</p>")
        }
        out.raw("\n<p class=\"muted\">")
        out.value(portStates)
        out.raw("</p>\n")
        for endpoint in open { endpointMarkup(endpoint, report: report, into: &out) }
        out.raw("</script></details>\n")
        return out.text
    }

    /// One open endpoint in a host's details: its facts, its findings and its transcript.
    static func endpointMarkup(_ endpoint: ScanReport.Endpoint, report: ScanReport, into out: inout HTMLMarkup) {
        let dialog = endpoint.dialog
        let counted = endpoint.findings.filter { !$0.waived }.count
        out.raw("<details class=\"endpoint\" ")
        if !endpoint.findings.isEmpty { out.raw("open") }
        out.raw(">\n<summary>")
        out.value(endpoint.port)
        out.raw("/")
        out.value(endpoint.service.rawValue)
        out.raw(": ")
        out.value(endpoint.transport.rawValue)
        out.raw(", ")
        out.value(
            endpoint.findings.isEmpty
                ? "no findings"
                : "\(counted) finding\(counted == 1 ? "" : "s")"
                    + (counted < endpoint.findings.count ? " (+\(endpoint.findings.count - counted) waived)" : ""))
        let incomplete = dialog.flatMap { $0.complete ? nil : t($0.incompleteReason ?? "incomplete") }
        if incomplete != nil { out.raw(" <span class=\"incomplete\">incomplete</span>") }
        out.raw("</summary>\n<dl class=\"facts\">\n<dt>Identified as</dt><dd>")
        out.value(dialog.map { $0.identifiedAs.rawValue } ?? "not talked to (discovery only)")
        out.raw("</dd>\n")
        // Line for line as the template had them: a fact left out still leaves its line's end.
        if let banner = dialog?.banner { out.fact("Greeting", t(banner), code: true) }
        out.raw("\n")
        if let capabilities = dialog?.capabilities, !capabilities.isEmpty {
            out.fact("Capabilities", t(capabilities.joined(separator: " · ")), code: true)
        }
        out.raw("\n")
        if let capabilities = dialog?.capabilitiesAfterTLS {
            out.fact("Capabilities inside TLS", t(capabilities.joined(separator: " · ")), code: true)
        }
        out.raw("\n")
        if let starttls = dialog?.starttls { out.fact("STARTTLS", starttlsText(starttls)) }
        if let checks = dialog?.smtpChecks {
            out.fact("SMTP questions", smtpChecksText(checks), note: " (no message sent)")
        }
        out.raw("\n")
        if let incomplete { out.fact("Incomplete", incomplete) }
        for unknown in dialog?.unknownProbes ?? [] {
            out.raw("<dt>Unanswered</dt><dd><code>")
            out.value(t(unknown.probe))
            out.raw("</code>: ")
            out.value(t(unknown.reason))
            out.raw("</dd>")
        }
        if let probe = dialog?.clientFirstProbe {
            out.fact("Client-first probe", t(probe), code: true, note: " (no greeting came)")
        }
        if let connections = dialog?.connections { out.fact("Connections", String(connections)) }
        out.raw("\n")
        if let tls = dialog?.tls { tlsMarkup(tls, into: &out) }
        if let error = dialog?.tlsError { out.fact("TLS handshake", t(error)) }
        out.raw("\n</dl>\n")
        out.raw(findingsMarkup(endpoint.findings, report: report))
        let transcript = dialog?.transcript ?? []
        if !transcript.isEmpty {
            out.raw("<details><summary>Transcript</summary><pre class=\"transcript\">")
            for line in transcript {
                out.value(line.direction.rawValue)
                out.raw(": ")
                out.value(t(line.text))
                out.raw("\n")
            }
            out.raw("</pre></details>")
        }
        out.raw("\n</details>\n")
    }

    /// The TLS facts of an endpoint: what was negotiated, what was accepted, the chain and the leaf certificate.
    static func tlsMarkup(_ tls: TLSObservation, into out: inout HTMLMarkup) {
        out.raw("<dt>TLS</dt><dd>")
        out.value(t(tls.negotiatedVersion))
        out.raw(", ")
        out.value(t(tls.cipher))
        if let group = tls.keyExchangeGroup {
            out.raw(", ")
            out.value(t(group))
        }
        if tls.legacyHandshake { out.raw(" (only with a lax, legacy client)") }
        out.raw("</dd>\n")
        out.fact(
            "Versions accepted",
            (tls.versionsAccepted.isEmpty ? "not probed" : t(tls.versionsAccepted.joined(separator: ", ")))
                + unknownSuffix(tls.versionsUnknown))
        out.raw("\n")
        out.fact(
            "Weak cipher classes",
            (tls.cipherClassesProbed.isEmpty
                ? "not probed"
                : (tls.cipherClassesAccepted.isEmpty
                    ? "none of \(tls.cipherClassesProbed.joined(separator: ", "))"
                    : t(tls.cipherClassesAccepted.joined(separator: ", "))))
                + unknownSuffix(tls.cipherClassesUnknown))
        out.raw("\n")
        out.fact(
            "Chain",
            t(
                "\(tls.chain.count) certificate\(tls.chain.count == 1 ? "" : "s") sent; "
                    + (tls.chainVerified ? "verifies" : "does not verify: \(tls.verifyError ?? "unknown error")")
                    + (tls.missingIntermediate ? " (intermediate missing)" : "")))
        out.raw("\n")
        if let leaf = tls.certificate {
            out.raw("<dt>Certificate</dt><dd><code>")
            out.value(t(leaf.subject))
            out.raw("</code><br>issuer <code>")
            out.value(t(leaf.issuer))
            out.raw("</code><br>SANs ")
            out.value(leaf.sans.isEmpty ? "none" : t(leaf.sans.prefix(20).joined(separator: ", ")))
            out.raw("<br>valid ")
            out.value(t(leaf.notBefore))
            out.raw(" to ")
            out.value(t(leaf.notAfter))
            out.raw("<br>")
            out.value(t(leaf.keyType))
            out.raw(" ")
            out.value(leaf.keyBits)
            out.raw(" bits, ")
            out.value(t(leaf.signatureAlgorithm))
            out.raw("<br>SHA-256 <code>")
            out.value(t(leaf.sha256))
            out.raw("</code></dd>")
        }
        out.raw("\n")
    }

    /// Findings, worst first, with evidence, waiver and a link to the fix (an endpoint's or a domain's); nothing
    /// when there are none.
    static func findingsMarkup(_ findings: [ScanReport.Finding], report: ScanReport) -> String {
        guard !findings.isEmpty else { return "" }
        var out = HTMLMarkup(capacity: 1024 * findings.count)
        out.raw("<ul class=\"findings\">\n")
        for finding in findings.sorted(by: { $0.severity > $1.severity }) {
            out.raw("<li class=\"")
            if finding.waived { out.raw("waived") }
            out.raw("\" data-rule=\"")
            out.value(t(finding.rule))
            out.raw("\">\n<span class=\"sev sev-")
            out.value(finding.severity.rawValue)
            out.raw("\">")
            out.value(finding.severity.rawValue)
            out.raw("</span>")
            if finding.status == .new { out.raw(" <span class=\"tag-new\">new</span>") }
            out.raw(" <strong>")
            out.value(t(finding.title))
            out.raw("</strong> <code>")
            out.value(t(finding.rule))
            out.raw("</code>\n<p class=\"evidence\">")
            out.value(t(finding.evidence))
            out.raw("</p>\n")
            if finding.waived {
                out.raw("<p class=\"muted\">Waived until ")
                out.value(t(finding.waiverExpires ?? ""))
                out.raw(": ")
                out.value(t(finding.waiverReason ?? ""))
                out.raw("</p>")
            }
            out.raw("\n")
            if let anchor = fixAnchor(finding.rule, report: report) {
                out.raw("<p><a href=\"#")
                out.value(anchor)
                out.raw("\">How to fix</a></p>")
            }
            out.raw("\n</li>\n")
        }
        out.raw("</ul>")
        return out.text
    }
}
