import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

func sampleReport(complete: Bool = true) -> ScanReport {
    ScanReport(
        tool: .init(version: "0.1.0"),
        scan: .init(
            startedAt: "2026-11-25T12:00:00Z", finishedAt: "2026-11-25T12:00:05Z", targets: ["192.0.2.0/24"],
            excludes: [], ports: PortSpec.defaults, profile: "baseline", mode: .connect, complete: complete,
            incompleteReason: complete ? nil : "interrupted after 3 of 1792 probes", seed: 42,
            probesPlanned: 1792, probesDone: complete ? 1792 : 3, discoveryOnly: true),
        summary: .init(
            hosts: 256, hostsUp: 2, hostsWithOpenPorts: 1, openEndpoints: 1, closedEndpoints: 6,
            filteredEndpoints: 1785, findingsBySeverity: ["info": 0, "low": 0, "medium": 0, "high": 0, "critical": 0],
            grade: nil),
        hosts: [
            .init(
                address: "192.0.2.25", names: ["mx.example.org"], grade: nil,
                endpoints: [
                    .init(port: 25, state: .open, stateReason: .synAck, service: .smtp, transport: .plain, rttMs: 0.12),
                    .init(
                        port: 110, state: .closed, stateReason: .reset, service: .pop3, transport: .plain, rttMs: 0.1),
                    .init(
                        port: 993, state: .filtered, stateReason: .noResponse, service: .imaps, transport: .implicitTLS,
                        rttMs: nil),
                ])
        ]
    )
}

@Suite("Report output")
struct ReportOutputTests {
    @Test("writes a timestamped file and latest.json, valid against the schema, and round-trips")
    func writesFiles() async throws {
        let directory = makeTemporaryDirectory() + "/nested/reports"
        let date = Date(timeIntervalSince1970: 1_795_000_000)
        let output = ReportOutput(directory: directory, formats: [.json])
        let first = try output.write(sampleReport(), startedAt: date)
        let second = try output.write(sampleReport(complete: false), startedAt: date)
        #expect(first == ["\(directory)/mailport-20261118T110640Z.json"])
        #expect(second.first!.hasSuffix("-2.json"), "a second run in the same second keeps the first file")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files.count == 3, "two reports and latest.json, no temporary files: \(files)")
        #expect(files.allSatisfy { !$0.hasPrefix(".") })
        for file in files {
            let violation = try await schemaViolation(ofJSONFile: "\(directory)/\(file)")
            #expect(violation == nil, "\(file): \(violation ?? "")")
        }
        let latest = try JSONReportWriter.decode(
            Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/latest.json"))),
            fileName: "latest.json")
        #expect(latest == sampleReport(complete: false))
    }

    @Test("the schema rejects a report that breaks the contract")
    func schemaCatchesMistakes() async throws {
        let directory = makeTemporaryDirectory()
        var broken = sampleReport()
        broken.hosts[0].endpoints[0].port = 0
        try AtomicFile.write(try JSONReportWriter.encode(broken), to: "\(directory)/broken.json")
        #expect(try await schemaViolation(ofJSONFile: "\(directory)/broken.json") != nil)
        let text = String(decoding: try JSONReportWriter.encode(sampleReport(complete: false)), as: UTF8.self)
            .replacingOccurrences(of: "\"incompleteReason\"", with: "\"somethingElse\"")
        try AtomicFile.write(Array(text.utf8), to: "\(directory)/noreason.json")
        #expect(try await schemaViolation(ofJSONFile: "\(directory)/noreason.json") != nil, "incomplete needs a reason")
    }

    @Test("an unusable output folder is an input error before anything is scanned")
    func badOutputFolder() async throws {
        let directory = makeTemporaryDirectory()
        try AtomicFile.write(Array("x".utf8), to: "\(directory)/file")
        for bad in ["\(directory)/file", "\(directory)/file/sub", "/proc/mailport-cannot-be-here"] {
            #expect {
                try AtomicFile.prepareDirectory(bad)
            } throws: { error in
                (error as? MailPortError)?.exitStatus == 2
                    && ((error as? MailPortError)?.message.contains(bad) ?? false)
            }
        }
    }

    @Test("format lists: known formats once each, in order; unknown ones are errors naming the choices")
    func formats() async throws {
        #expect(try ReportFormat.parseList("json, JSON") == [.json])
        #expect(
            try ReportFormat.parseList("html,sarif,junit,md,prom,json") == [.html, .sarif, .junit, .md, .prom, .json])
        #expect(
            throws: MailPortError.invalidInput(
                "unknown report format 'pdf' in --format; expected one of: json, html, sarif, junit, md, prom")
        ) {
            try ReportFormat.parseList("json,pdf")
        }
        #expect(ReportFormat.defaults == [.json, .html], "the contract's default")
    }
}

@Suite("Report time stamps")
struct ReportTimeTests {
    @Test("RFC 3339 in UTC, whole seconds: the same text Foundation's ISO 8601 formatter gives, and it parses back")
    func rfc3339() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        let instants: [Double] = [
            0, 1, 59.999, 951_782_400,  // 2000-02-29 (leap day)
            1_798_761_599.75,  // 2026-12-31T23:59:59.75: the fraction is dropped, not rounded into next year
            1_798_761_600, 1_796_673_839, 4_102_444_800,  // 2100-01-01 (not a leap year's end)
            253_402_300_799,  // 9999-12-31T23:59:59
            -12_219_292_800,  // 1582-10-15, the first Gregorian day
            -12_219_292_801,  // the Julian day before: Foundation's calendar, as before
            -70_000_000_000, 253_402_300_800,  // year 1 BCE-ish and year 10000: Foundation's text, as before
        ]
        for instant in instants {
            let date = Date(timeIntervalSince1970: instant)
            #expect(ReportTime.rfc3339(date) == formatter.string(from: date), "\(instant)")
            // Foundation's own parser reads its Julian text before 1582 back as Gregorian: round trips from then on.
            if instant >= -12_219_292_800 {
                #expect(
                    ReportTime.parse(ReportTime.rfc3339(date)) == Date(timeIntervalSince1970: instant.rounded(.down)))
            }
        }
        _ = ReportTime.rfc3339(Date(timeIntervalSince1970: .nan))  // no trap converting NaN to time_t
        #expect(ReportTime.rfc3339(Date(timeIntervalSince1970: 1_796_673_839)) == "2026-12-07T20:03:59Z")
        #expect(ReportTime.compact(Date(timeIntervalSince1970: 1_796_673_839)) == "20261207T200359Z")
    }
}
