import Foundation
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

/// `largeReport`'s copied hosts with a domain and a waiver in the frame: the shape of a large run.
func replicatedReport(hosts count: Int) throws -> ScanReport {
    var report = try largeReport(hosts: count)
    report.domains = [DomainObservation(name: "example.org", status: .ok, hosts: ["10.0.0.1"], grade: .b)]
    report.waivers = [
        .init(
            host: "10.0.0.2", port: 25, rule: "MP-PORT-25", reason: "r", expires: "2999-01-01", status: .active,
            matched: 1)
    ]
    return report
}

@Suite("Reports read host by host")
struct ReportReaderTests {
    static func write(_ bytes: [UInt8], _ name: String = "report.json") throws -> String {
        let path = makeTemporaryDirectory() + "/" + name
        try AtomicFile.write(bytes, to: path)
        return path
    }

    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return (error as? MailPortError)?.message ?? "not a MailPortError: \(error)"
        }
    }

    @Test(
        "a streamed read equals the whole decode: the fixture, hostile text, typed fields, a report without hosts",
        arguments: ["fixture", "hostile", "typed", "empty"])
    func sameAsWholeDecode(_ name: String) throws {
        let bytes: [UInt8]
        switch name {
        case "fixture":
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: ProjectPaths.fixtures + "/reports/demo.json")))
        case "hostile": bytes = try JSONReportWriter.encode(Hostile.report())
        case "typed": bytes = try JSONReportWriter.encode(ReportValueTests.report())
        default:
            var report = sampleReport()
            report.hosts = []
            bytes = try JSONReportWriter.encode(report)
        }
        let path = try Self.write(bytes)
        let whole = try JSONReportWriter.decode(bytes, fileName: path)
        var streamed: [ScanReport.Host] = []
        let frame = try ReportReader.stream(path) { host throws(MailPortError) in streamed.append(host) }
        #expect(frame.hosts.isEmpty)
        #expect(streamed.count == whole.hosts.count)
        #expect(name == "empty" ? streamed.isEmpty : streamed.count >= 1)
        var rebuilt = frame
        rebuilt.hosts = HostList(streamed)
        #expect(rebuilt == whole)
        // Read whole, in memory and spooled.
        let inMemory = try ReportReader.read(path)
        let spooled = try ReportReader.read(path, spoolDirectory: makeTemporaryDirectory(), spoolAbove: 0)
        #expect(!inMemory.hosts.isSpooled && spooled.hosts.isSpooled)
        #expect(inMemory == whole && spooled == whole)
    }

    @Test("800 hosts: every host, in order, the same as the whole decode; written back byte for byte")
    func manyHosts() throws {
        let report = try replicatedReport(hosts: 800)
        let bytes = try JSONReportWriter.encode(report)
        #expect(bytes.count > ReportReader.chunkSize * 20, "many chunks")
        let path = try Self.write(bytes)
        var count = 0
        var addresses: [String] = []
        let frame = try ReportReader.stream(path) { host throws(MailPortError) in
            count += 1
            if count % 197 == 0 { addresses.append(host.address) }
        }
        #expect(count == 800)
        #expect(addresses == stride(from: 196, to: 800, by: 197).map { report.hosts[$0].address })
        #expect(frame.domains == report.domains && frame.waivers == report.waivers && frame.summary == report.summary)
        let read = try ReportReader.read(path, spoolDirectory: makeTemporaryDirectory(), spoolAbove: 1 << 20)
        #expect(read.hosts.isSpooled && read.hosts.count == 800)
        #expect(read == report)
        #expect(try JSONReportWriter.encode(read) == bytes)
    }

    @Test("the scanner splits the same whatever the chunk sizes")
    func chunkSizes() throws {
        let bytes = try JSONReportWriter.encode(Hostile.report()) + Array("\n".utf8)
        let whole = try JSONReportWriter.decode(bytes, fileName: "r.json")
        for size in [1, 2, 3, 7, 64, 1000, bytes.count] {
            var splitter = HostSplitter(fileName: "r.json")
            var hosts: [ScanReport.Host] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + size)
                try splitter.feed(bytes[start..<end]) { host throws(MailPortError) in hosts.append(host) }
                start = end
            }
            var report = try splitter.finish()
            #expect(hosts.count == whole.hosts.count && hosts.count == 1, "chunks of \(size)")
            report.hosts = HostList(hosts)
            #expect(report == whole, "chunks of \(size)")
        }
    }

    /// Hostile and broken files: one line naming the file and the place, the same whether the report is read from
    /// its file in chunks or from bytes in memory.
    @Test("hostile inputs: one-line refusals naming the file and the place, from a file or from memory")
    func hostileInputs() throws {
        let text = String(decoding: try JSONReportWriter.encode(replicatedReport(hosts: 40)), as: UTF8.self)
        func refusals(_ text: String) throws -> (streamed: String?, whole: String?) {
            let path = try Self.write(Array(text.utf8), "bad.json")
            return (
                Self.message { _ = try ReportReader.read(path) },
                Self.message { _ = try JSONReportWriter.decode(Array(text.utf8), fileName: path) }
            )
        }
        // A banner of 100 KB in the 30th host, nesting of 40 levels in a host and in the frame.
        let long = text.replacingOccurrences(
            of: "\"address\" : \"10.0.0.30\"", with: "\"address\" : \"\(String(repeating: "A", count: 100_000))\"")
        let deepHost = text.replacingOccurrences(
            of: "\"address\" : \"10.0.0.30\"",
            with: "\"address\" : \"10.0.0.30\", \"x\" : " + String(repeating: "[", count: 40)
                + String(repeating: "]", count: 40))
        let deepFrame = text.replacingOccurrences(
            of: "\"targets\" : [",
            with: "\"targets\" : [" + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + ",")
        for (name, input, expected) in [
            ("long string", long, "is longer than 64 KiB; expected the bounded texts MailPort writes"),
            ("deep host", deepHost, "nesting deeper than 32 levels at byte"),
            ("deep frame", deepFrame, "nesting deeper than 32 levels at byte"),
        ] {
            #expect(input != text, "\(name): the change applies")
            let (streamed, whole) = try refusals(input)
            #expect(streamed != nil && streamed == whole, "\(name)")
            #expect(streamed?.contains(expected) == true, "\(name): \(streamed ?? "accepted")")
        }
        for (version, expected) in [("2.0", "was written by a newer MailPort (schemaVersion 2.0)"), ("x", "unknown")] {
            let input = text.replacingOccurrences(
                of: "\"schemaVersion\" : \"\(ScanReport.currentSchemaVersion)\"",
                with: "\"schemaVersion\" : \"\(version)\"")
            #expect(input != text)
            let (streamed, whole) = try refusals(input)
            #expect(streamed != nil && streamed == whole && streamed?.contains(expected) == true, "\(version)")
        }
        // A newer schema that also changed a host's fields is named as a newer schema.
        let newer = text.replacingOccurrences(
            of: "\"schemaVersion\" : \"\(ScanReport.currentSchemaVersion)\"", with: "\"schemaVersion\" : \"1.99\""
        ).replacingOccurrences(of: "          \"port\" : 10025", with: "          \"port\" : \"smtp\"")
        #expect(try refusals(newer).streamed?.contains("was written by a newer MailPort") == true)
        // A wrong field inside a host names the host and field, as the whole decode does.
        let wrongPort = text.replacingOccurrences(
            of: "          \"port\" : 10025", with: "          \"port\" : \"smtp\"")
        let (streamedPort, wholePort) = try refusals(wrongPort)
        #expect(streamedPort?.hasPrefix("'") == true && streamedPort?.contains("is not a MailPort JSON report") == true)
        #expect(streamedPort?.contains("at hosts[0].endpoints[") == true, "\(streamedPort ?? "accepted")")
        #expect(wholePort?.contains("at hosts[0].endpoints[") == true)
        // hosts that is not an array: both name the field.
        let notArray = text.replacingOccurrences(of: "\n  \"hosts\" : [", with: "\n  \"hosts\" : 5, \"x\" : [")
        let (streamedArray, wholeArray) = try refusals(notArray)
        #expect(streamedArray?.contains("at hosts:") == true, "\(streamedArray ?? "accepted")")
        #expect(wholeArray?.contains("at hosts:") == true, "\(wholeArray ?? "accepted")")
        // Cut short inside the hosts, and inside the frame after them.
        let bytes = Array(text.utf8)
        let (cut, _) = try refusals(String(decoding: bytes[..<(bytes.count / 2)], as: UTF8.self))
        #expect(cut?.contains("the file ends inside hosts[") == true, "\(cut ?? "accepted")")
        let (cutFrame, wholeCutFrame) = try refusals(String(decoding: bytes[..<(bytes.count - 40)], as: UTF8.self))
        #expect(cutFrame != nil && cutFrame == wholeCutFrame, "\(cutFrame ?? "accepted")")
        // A trailing comma and a second hosts field.
        let trailing = text.replacingOccurrences(of: "}\n  ],\n  \"rules\"", with: "},\n  ],\n  \"rules\"")
        #expect(trailing != text)
        #expect(try refusals(trailing).streamed?.contains("at hosts[40]: ']'") == true)
        let twice = text.replacingOccurrences(of: "\"rules\" : {", with: "\"hosts\" : [], \"rules\" : {")
        #expect(twice != text)
        #expect(try refusals(twice).streamed?.contains("a second hosts field") == true)
        // Every message is one line naming the file.
        for input in [long, deepHost, notArray, wrongPort, trailing, twice] {
            let streamed = try refusals(input).streamed ?? ""
            #expect(streamed.hasPrefix("'") && streamed.contains("bad.json") && !streamed.contains("\n"))
        }
    }

    @Test("files are checked before they are read: not a regular file, over the bound, missing")
    func fileChecks() throws {
        #expect(
            Self.message { _ = try ReportReader.read("/dev/zero", what: "baseline") }
                == "baseline '/dev/zero' is not a regular file; expected a MailPort JSON report")
        #expect(
            Self.message { try ReportReader.stream("/nonexistent/r.json") { _ throws(MailPortError) in } }?.hasPrefix(
                "cannot read report '/nonexistent/r.json': ") == true)
    }
}
