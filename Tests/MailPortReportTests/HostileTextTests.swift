import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

/// What a hostile server (or a careless user) can put into a report: markup and script, quotes, terminal escapes,
/// a bidirectional override, spreadsheet formulas, Markdown table breakers, and U+FFFD where invalid UTF-8 was
/// decoded. Every format must carry it as inert text.
enum Hostile {
    static let script = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    static let terminal = "\u{1b}[2J\u{1b}]0;owned\u{07}"
    static let bidi = "evil\u{202e}gpj.exe"
    static let formula = "=HYPERLINK(\"http://x.invalid\",\"click\")"
    static let table = "a | b ` c * d [link](http://x.invalid) ~~gone~~"
    static let quotes = "\"' onmouseover=\"alert(3)\""
    static let invalidUTF8 = String(decoding: [0x32, 0x32, 0x30, 0x20, 0xff, 0xfe, 0xc3, 0x28], as: UTF8.self)

    static let all = [script, terminal, bidi, formula, table, quotes, invalidUTF8].joined(separator: " ")

    static func report() -> ScanReport {
        var dialog = DialogObservation(
            identifiedAs: .smtp, banner: formula + "\n" + all, greetingStatus: "220",
            capabilities: [all, "STARTTLS"], authMechanisms: [],
            starttls: StartTLSObservation(
                offered: true, attempted: true, reply: all,
                accepted: true, upgraded: true, error: nil),
            transcript: [TranscriptLine(.server, "220 " + all), TranscriptLine(.client, "EHLO mailport.invalid")])
        let certificate = CertificateFacts(
            subject: "CN=" + all, issuer: "O=" + script, sans: [bidi, script],
            notBefore: "2026-01-01T00:00:00Z", notAfter: "2027-01-01T00:00:00Z",
            keyType: "RSA", keyBits: 2048, signatureAlgorithm: "sha256WithRSAEncryption",
            sha256: String(repeating: "0", count: 64), selfSigned: true)
        dialog.tls = TLSObservation(
            negotiatedVersion: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", keyExchangeGroup: "X25519",
            certificate: certificate, chain: [certificate], chainVerified: false,
            verifyError: "self-signed certificate " + terminal, missingIntermediate: false,
            nameMatches: [bidi: false])
        let findings = [
            ScanReport.Finding(
                rule: "MP-BANNER-DISCLOSURE", severity: .high, title: "Title " + script,
                evidence: formula),
            ScanReport.Finding(
                rule: "MP-CERT-UNTRUSTED", severity: .critical, title: "Untrusted",
                evidence: "25/smtp: " + all, waived: true, waiverReason: all, waiverExpires: "2999-01-01"),
        ]
        var report = ScanReport(
            tool: .init(version: "0.1.0"),
            scan: .init(
                startedAt: "2026-11-25T12:00:00Z", finishedAt: "2026-11-25T12:00:05Z", targets: [all],
                excludes: [], ports: PortSpec.defaults, profile: "baseline", mode: .connect, complete: false,
                incompleteReason: "interrupted " + terminal, seed: 1, probesPlanned: 7, probesDone: 7,
                discoveryOnly: false),
            summary: .init(
                hosts: 1, hostsUp: 1, hostsWithOpenPorts: 1, openEndpoints: 1, closedEndpoints: 6, filteredEndpoints: 0,
                findingsBySeverity: ["info": 0, "low": 0, "medium": 0, "high": 1, "critical": 0], grade: .c),
            hosts: [
                .init(
                    address: "192.0.2.66", names: [bidi, script], grade: .c,
                    endpoints: [
                        .init(
                            port: 25, state: .open, stateReason: .synAck, service: .smtp, transport: .starttls,
                            rttMs: 1,
                            dialog: dialog, findings: findings)
                    ])
            ],
            rules: [
                "MP-BANNER-DISCLOSURE": .init(
                    title: "t " + script, description: all, severity: .info,
                    remediation: ["general": all, "postfix": formula], references: [all]),
                "MP-CERT-UNTRUSTED": .init(
                    title: "Untrusted", description: "d", severity: .high,
                    remediation: ["general": "fix"], references: []),
            ],
            waivers: [
                .init(
                    host: "192.0.2.66", port: 25, rule: "MP-CERT-UNTRUSTED", reason: all, expires: "2999-01-01",
                    status: .active, matched: 1)
            ]
        )
        report.summary.waivedFindings = 1
        report.summary.failed = true
        return report
    }
}

@Suite("Hostile text in reports")
struct HostileTextTests {
    @Test(
        "no format carries a raw terminal escape, bell, bidirectional override or NUL", arguments: ReportFormat.allCases
    )
    func noRawControls(_ format: ReportFormat) async throws {
        let text = String(decoding: try format.render(Hostile.report()), as: UTF8.self)
        for forbidden in ["\u{1b}", "\u{07}", "\u{202e}", "\u{0}"] {
            #expect(
                !text.contains(forbidden),
                "\(format.rawValue) contains U+\(String(forbidden.unicodeScalars.first!.value, radix: 16))")
        }
    }

    @Test("HTML: markup and quotes from servers are escaped; the only script is the report's own")
    func html() async throws {
        let html = String(decoding: HTMLReportWriter.encode(Hostile.report()), as: UTF8.self)
        // One script runs (the report's own); each host's details wait in an inert one, which server text cannot close.
        #expect(html.components(separatedBy: "<script>").count == 2, "exactly one <script> element that runs")
        let held = html.components(separatedBy: "<script type=\"text/x-mailport-host\">").count - 1
        #expect(held == 1 && html.components(separatedBy: "<script").count == 2 + held)
        #expect(html.components(separatedBy: "</script>").count == 2 + held)
        #expect(!html.contains("<img"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("\" onmouseover=\""), "a quote cannot close an attribute")
        #expect(html.contains("\\u{1b}[2J"), "the escape is shown, visibly")
        #expect(html.contains("\\u{202e}"))
    }

    @Test("HTML with hostile text still runs cleanly in Chromium and shows the text as text", .rootTier)
    func htmlInBrowser() async throws {
        let directory = makeTemporaryDirectory()
        let html = directory + "/hostile.html"
        try AtomicFile.write(HTMLReportWriter.encode(Hostile.report()), to: html)
        let outcome = try await runProgram(
            "/usr/bin/env",
            [
                "python3", ProjectPaths.root + "/scripts/htmlcheck.py", html,
                "--screenshot", directory + "/hostile.png",
            ], timeLimit: 120)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let seen = try #require(
            try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any],
            "htmlcheck.py prints one JSON object: \(outcome.standardOutput)")
        #expect(
            seen["consoleErrors"] as? [String] == [], "no script of the server's ran: \(seen["consoleErrors"] ?? "")")
        #expect(seen["resourceRequests"] as? Int == 0, "the <img src=x> did not become a request")
        #expect(seen["rows"] as? Int == 1)
    }

    @Test("Markdown: one line per row, the right number of cells, formulas defused, no live markup")
    func markdown() async throws {
        let md = String(decoding: MarkdownReportWriter.encode(Hostile.report()), as: UTF8.self)
        let findingRows = md.split(separator: "\n").filter { $0.hasPrefix("| 192.0.2.66:25 ") }
        #expect(findingRows.count == 1, "the waived finding is not listed; the counted one is: \(md)")
        for row in findingRows {
            // Unescaped pipes delimit cells: 5 cells → 6 pipes.
            let unescaped = row.enumerated().filter { index, character in
                character == "|" && (index == 0 || row[row.index(row.startIndex, offsetBy: index - 1)] != "\\")
            }
            #expect(unescaped.count == 6, "\(row)")
            #expect(row.contains("| '=HYPERLINK"), "a leading = is defused: \(row)")
        }
        #expect(
            !md.contains("<script") && !md.contains("[link](") && md.contains("\\[link\\](http"),
            "no raw HTML, no live links")
    }

    @Test("JUnit: well-formed, valid XML whatever the servers sent")
    func junit() async throws {
        let directory = makeTemporaryDirectory()
        try AtomicFile.write(JUnitReportWriter.encode(Hostile.report()), to: directory + "/hostile.xml")
        #expect(
            try await xmlSchemaViolation(
                ofFile: directory + "/hostile.xml", xsd: ProjectPaths.fixtures + "/schemas/junit-10.xsd") == nil)
    }

    @Test("SARIF and JSON keep the text exactly, as JSON-escaped data")
    func json() async throws {
        let directory = makeTemporaryDirectory()
        try AtomicFile.write(try SARIFReportWriter.encode(Hostile.report()), to: directory + "/hostile.sarif")
        #expect(
            try await schemaViolation(
                ofJSONFile: directory + "/hostile.sarif",
                schema: ProjectPaths.fixtures + "/schemas/sarif-schema-2.1.0.json") == nil)
        let decoded = try JSONReportWriter.decode(try JSONReportWriter.encode(Hostile.report()), fileName: "hostile")
        #expect(decoded == Hostile.report(), "the JSON report is data: exact round trip")
    }

    @Test("Prometheus carries no server text at all")
    func prometheus() async throws {
        let text = String(decoding: PrometheusReportWriter.encode(Hostile.report()), as: UTF8.self)
        #expect(!text.contains("alert") && !text.contains("HYPERLINK") && !text.contains("owned"))
    }
}

@Suite("Reports read back are bounded like live input")
struct ReportInputBoundsTests {
    static func encoded(_ report: ScanReport) throws -> String {
        String(decoding: try JSONReportWriter.encode(report), as: UTF8.self)
    }

    @Test("a 4 MB banner in a shard is refused at once, naming the bound")
    func oversizedString() async throws {
        var report = sampleReport()
        report.hosts[0].endpoints[0].dialog = DialogObservation(
            identifiedAs: .smtp, banner: String(repeating: "A", count: 4 << 20))
        let bytes = Array(try Self.encoded(report).utf8)
        #expect {
            try JSONReportWriter.decode(bytes, fileName: "shard.json")
        } throws: { error in
            (error as? MailPortError)?.exitStatus == 2
                && (error as? MailPortError)?.message.contains(
                    "is longer than 64 KiB; expected the bounded texts MailPort writes") == true
        }
        // The longest text MailPort itself writes (a 2,048-byte line of escaped controls) still reads.
        report.hosts[0].endpoints[0].dialog?.banner = String(repeating: "\u{1b}", count: 2048)
        #expect(try JSONReportWriter.decode(Array(try Self.encoded(report).utf8), fileName: "ok.json") == report)
    }

    @Test("nesting deeper than any MailPort report is refused")
    func deepNesting() async throws {
        let text = try Self.encoded(sampleReport()).replacingOccurrences(
            of: "\"targets\" : [",
            with: "\"targets\" : [" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + ",")
        #expect(text.contains(String(repeating: "[", count: 100)))
        #expect { try JSONReportWriter.decode(Array(text.utf8), fileName: "deep.json") } throws: { error in
            (error as? MailPortError)?.message.contains("nesting deeper than 32 levels") == true
        }
    }

    @Test(
        "schemaVersion is checked: unknown, newer and other major versions are said plainly",
        arguments: [
            ("banana", "has an unknown schemaVersion 'banana'; expected 1.N"),
            ("2.0", "was written by a newer MailPort (schemaVersion 2.0)"),
            ("1.9", "was written by a newer MailPort (schemaVersion 1.9)"),
            ("0.9", "was written for another schema (schemaVersion 0.9)"),
            ("", "has an unknown schemaVersion ''"),
        ])
    func schemaVersion(_ version: String, _ message: String) async throws {
        var report = sampleReport()
        report.schemaVersion = version
        #expect { try JSONReportWriter.decode(Array(try Self.encoded(report).utf8), fileName: "r.json") } throws: {
            error in
            (error as? MailPortError)?.exitStatus == 2
                && (error as? MailPortError)?.message.contains("'r.json' " + message) == true
        }
    }

    @Test("a report file larger than the bound, or not a regular file, is refused before it is read")
    func fileBounds() async throws {
        #expect { try JSONReportWriter.read("/dev/zero", what: "baseline") } throws: { error in
            (error as? MailPortError)?.message
                == "baseline '/dev/zero' is not a regular file; expected a MailPort JSON report"
        }
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A sparse file: its size is over the bound without using the disk.
        let path = directory + "/huge.json"
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(BoundedFile.reportLimit) + 1)
        try handle.close()
        #expect { try JSONReportWriter.read(path) } throws: { error in
            (error as? MailPortError)?.message.contains("is larger than 512 MiB") == true
        }
    }
}

@Suite("SARIF strings are inert after decoding")
struct SARIFInertTests {
    /// `jq -r '.runs[].results[].message.text'` prints decoded strings: the escapes must be in the text itself.
    @Test("no decoded SARIF string carries ESC, BEL, another C0/C1 control or a bidirectional override")
    func decodedStrings() async throws {
        let object = try JSONSerialization.jsonObject(with: Data(try SARIFReportWriter.encode(Hostile.report())))
        var strings: [String] = []
        func collect(_ value: Any) {
            if let text = value as? String { strings.append(text) }
            if let array = value as? [Any] { for item in array { collect(item) } }
            if let dictionary = value as? [String: Any] {
                for (key, item) in dictionary {
                    strings.append(key)
                    collect(item)
                }
            }
        }
        collect(object)
        let messages = strings.filter { $0.contains("owned") }
        #expect(messages.count >= 2, "the hostile evidence is in the SARIF (as visible escapes): \(messages.count)")
        for text in strings {
            let bad = text.unicodeScalars.filter {
                ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7f...0x9f).contains($0.value)
                    || $0.properties.generalCategory == .format
            }
            #expect(bad.isEmpty, "raw control in a decoded SARIF string: \(text.debugDescription)")
        }
    }
}
