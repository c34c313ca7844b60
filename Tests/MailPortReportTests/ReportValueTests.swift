import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

@Suite("Typed report fields")
struct ReportValueTests {
    /// A report with every typed field set: the scan mode, grades of a host, a domain and the whole, `--fail-on`, a
    /// finding's baseline status and a waiver's status.
    static func report(failOn: FailThreshold = .never) -> ScanReport {
        var report = sampleReport()
        report.scan.mode = .syn
        report.summary.grade = .c
        report.summary.failOn = failOn
        report.hosts[0].grade = .c
        report.hosts[0].endpoints[0].findings = [
            .init(rule: "MP-PORT-25", severity: .high, title: "t", evidence: "e", status: .new)
        ]
        report.domains = [DomainObservation(name: "example.org", status: .ok, hosts: ["192.0.2.25"], grade: .aMinus)]
        report.waivers = [
            .init(
                host: "192.0.2.25", port: 25, rule: "MP-PORT-25", reason: "r", expires: "2999-01-01",
                status: .expired, matched: 0)
        ]
        return report
    }

    static func encoded(_ report: ScanReport) throws -> String {
        String(decoding: try JSONReportWriter.encode(report), as: UTF8.self)
    }

    @Test("each typed field is written as the word it always was, and reads back the same")
    func sameWords() throws {
        let text = try Self.encoded(Self.report())
        for word in [
            #""mode" : "syn""#, #""grade" : "C""#, #""grade" : "A-""#, #""failOn" : "never""#,
            #""status" : "new""#, #""status" : "expired""#,
        ] {
            #expect(text.contains(word), "\(word)")
        }
        #expect(try JSONReportWriter.decode(Array(text.utf8), fileName: "r.json") == Self.report())
    }

    @Test(
        "every --fail-on threshold round-trips as its word",
        arguments: [FailThreshold.never] + Severity.allCases.map(FailThreshold.severity))
    func failOnWords(_ threshold: FailThreshold) throws {
        let text = try Self.encoded(Self.report(failOn: threshold))
        #expect(text.contains(#""failOn" : "\#(threshold.description)""#))
        #expect(try JSONReportWriter.decode(Array(text.utf8), fileName: "r.json").summary.failOn == threshold)
    }

    @Test("a report without failOn (older versions) reads as --fail-on high")
    func failOnDefault() throws {
        let text = try Self.encoded(Self.report()).replacingOccurrences(of: #""failOn" : "never","#, with: "")
        #expect(!text.contains("failOn"))
        #expect(try JSONReportWriter.decode(Array(text.utf8), fileName: "r.json").summary.failOn == .severity(.high))
    }

    /// Reports are read back from files anyone may have written: a word outside the field's set is refused, naming
    /// the field and what it takes, not read as some default.
    @Test(
        "unknown words are refused, naming the field and the words expected",
        arguments: [
            (#""mode" : "syn""#, #""mode" : "SYN""#, "at scan.mode: invalid scan mode 'SYN'; expected connect|syn"),
            (
                #""failOn" : "never""#, #""failOn" : "Never""#,
                "at summary.failOn: invalid --fail-on threshold 'Never'; expected info|low|medium|high|critical|never"
            ),
            // Both the summary's grade and the first host's change; hosts are read before the rest of the report
            // (host by host, as from a file), so the host's is named.
            (
                #""grade" : "C""#, #""grade" : "C<b>""#,
                "at hosts[0].grade: invalid grade 'C<b>'; expected a grade label of 1 to 8"
            ),
            (#""grade" : "A-""#, #""grade" : """#, "at domains[0].grade: invalid grade ''; expected a grade label"),
            (
                #""status" : "new""#, #""status" : "old""#,
                "at hosts[0].endpoints[0].findings[0].status: invalid finding status 'old'; expected new|unchanged"
            ),
            (
                #""status" : "expired""#, #""status" : "lapsed""#,
                "at waivers[0].status: invalid waiver status 'lapsed'; expected active|expired"
            ),
        ])
    func unknownWords(_ original: String, _ replacement: String, _ message: String) throws {
        let text = try Self.encoded(Self.report())
        #expect(text.contains(original))
        let bytes = Array(text.replacingOccurrences(of: original, with: replacement).utf8)
        let expected = "'r.json' is not a MailPort JSON report: " + message
        #expect { try JSONReportWriter.decode(bytes, fileName: "r.json") } throws: { error in
            (error as? MailPortError)?.exitStatus == 2 && (error as? MailPortError)?.message.hasPrefix(expected) == true
        }
    }

    @Test("a grade is a short label of letters, digits, + and -: the built-in scale and other rule sets' labels")
    func gradeLabels() {
        #expect(Grade.builtinOrder.map(\.rawValue) == ["A+", "A", "A-", "B", "C", "F"])
        for label in ["D", "E", "1", "AA+", "Gold", "Fail-2"] { #expect(Grade(rawValue: label)?.rawValue == label) }
        for label in ["", " A", "A ", "A\n", "Ä", "<b>", "ABCDEFGHI", "A\u{202e}"] {
            #expect(Grade(rawValue: label) == nil, "\(label.debugDescription)")
        }
        #expect(Grade.builtinRank(.aPlus) == 0 && Grade.builtinRank(.f) == 5)
        #expect(
            Grade.builtinRank(Grade(rawValue: "D")) == 6 && Grade.builtinRank(nil) == 6,
            "outside the scale, or none, ranks last")
    }
}
