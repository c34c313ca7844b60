import Foundation
import MailPortTestSupport
import Testing

@testable import MailPortCore
@testable import MailPortReport

@Suite("Spooled hosts: a run's finished records on disk")
struct SpoolTests {
    @Test("records read back as written, across the write chunk, and the file leaves no name behind")
    func recordsRoundTrip() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try RecordSpool(directory: directory)
        var records: [(SpoolRecord, [UInt8])] = []
        // About 3 MiB in records of varied sizes: several chunks go to the file, the last ones stay pending.
        for index in 0..<300 {
            let bytes = (0..<(index * 97 % 20_000 + 1)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            records.append((spool.append(bytes), bytes))
        }
        #expect(spool.byteCount == records.reduce(0) { $0 + $1.1.count })
        #expect(spool.byteCount > 2 * RecordSpool.chunkSize)
        // Read in another order than written: a pending record is flushed before it is read.
        for (record, bytes) in records.reversed() { #expect(spool.read(record) == bytes) }
        for (record, bytes) in records.shuffled() { #expect(spool.read(record) == bytes) }
        #expect(spool.failure == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("a spool that cannot write keeps its records in memory and says why")
    func writeFailureFallsBackToMemory() throws {
        // A pipe cannot be written at an offset (ESPIPE): every flush fails as a full disk would.
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[1]) }
        let spool = RecordSpool(fd: ends[0], directory: "/nowhere")
        let big = [UInt8](repeating: 7, count: RecordSpool.chunkSize + 10)
        let first = spool.append(big)
        let second = spool.append([1, 2, 3])
        #expect(spool.failure != nil)
        #expect(spool.read(first) == big)
        #expect(spool.read(second) == [1, 2, 3])
    }

    @Test("a spooled host list is a value: copies change apart, and it reads, compares and encodes as an array")
    func hostListIsAValue() throws {
        let report = try fixedReport()
        let hosts = report.hosts.array
        #expect(hosts.count >= 4, "the fixture lists hosts")
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var spooled = HostList(spooledIn: try RecordSpool(directory: directory))
        for host in hosts { spooled.append(host) }
        #expect(spooled.isSpooled && !report.hosts.isSpooled)
        #expect(spooled == report.hosts && spooled.array == hosts)
        var copy = spooled
        copy[0].grade = nil
        copy.removeLast()
        #expect(spooled == report.hosts, "the original is unchanged")
        #expect(copy.count == hosts.count - 1 && copy[0].grade == nil && copy[1] == hosts[1])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(spooled) == encoder.encode(hosts))
    }

    @Test(
        "every format renders the same bytes from spooled hosts as from hosts in memory",
        arguments: ReportFormat.allCases)
    func formatsFromSpool(_ format: ReportFormat) throws {
        let report = try fixedReport()
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var spooled = report
        spooled.hosts = HostList(spooledIn: try RecordSpool(directory: directory))
        spooled.hosts.append(contentsOf: report.hosts)
        #expect(spooled.hosts.isSpooled && spooled.hosts.count == report.hosts.count)
        let inMemory = try format.render(report)
        #expect(!inMemory.isEmpty)
        #expect(try format.render(spooled) == inMemory)
    }

    @Test(
        "a spooled host's record is its entry in the JSON report, terminal-safe, and decodes to the same host"
    )
    func spooledRecordIsReportEntry() throws {
        var hosts = try fixedReport().hosts.array
        let index = try #require(hosts[0].endpoints.firstIndex { $0.dialog != nil })
        // A bidirectional override, a C1 CSI and DEL from the network: escaped in the record as in the report.
        hosts[0].endpoints[index].dialog?.banner = "220 mx \u{202E}gnp.exe\u{9B}2J\u{7F} ready"
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try RecordSpool(directory: directory)
        var spooled = HostList(spooledIn: spool)
        spooled.append(contentsOf: hosts)
        #expect(spool.byteCount > 0 && spooled.count == hosts.count)
        for position in hosts.indices {
            let entry = try spooled.reportEntry(at: position)
            #expect(entry == (try ReportJSON.hostEntry(hosts[position])))
            #expect(entry == (try HostList(hosts).reportEntry(at: position)))
            #expect(!entry.contains(0x7f) && String(decoding: entry, as: UTF8.self).hasPrefix("    {"))
            #expect(spooled[position] == hosts[position])
        }
        let first = String(decoding: try spooled.reportEntry(at: 0), as: UTF8.self)
        #expect(first.contains(#"\u202e"#) && first.contains(#"\u009b"#) && first.contains(#"\u007f"#))
        #expect(!first.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x9B })
        #expect(spooled[0].endpoints[index].dialog?.banner == "220 mx \u{202E}gnp.exe\u{9B}2J\u{7F} ready")
    }

    @Test("the JSON writer's host-by-host document equals the whole report encoded at once")
    func jsonSplicedEqualsWhole() throws {
        let report = try fixedReport()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let whole = ReportJSON.terminalSafe(Array(try encoder.encode(report))) + [UInt8(ascii: "\n")]
        #expect(try JSONReportWriter.encode(report) == whole)
        var empty = report
        empty.hosts = []
        #expect(
            try JSONReportWriter.encode(empty)
                == ReportJSON.terminalSafe(Array(try encoder.encode(empty))) + [UInt8(ascii: "\n")])
    }
}

@Suite("The run index reads the end of each report")
struct RunIndexTailTests {
    @Test("a report larger than the part read is listed from its end, with its grade and counts")
    func largeReportListed() throws {
        var report = try fixedReport()
        let hosts = report.hosts.array
        #expect(!hosts.isEmpty)
        // Enough copies of the fixture's hosts to put the summary well past the part of the file that is read.
        var many: [ScanReport.Host] = []
        while many.count * 4_000 < 2 * RunIndex.tailBytes { many += hosts }
        report.hosts = HostList(many)
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/mailport-20261201T000000Z.json"
        try AtomicFile.write(try JSONReportWriter.encode(report), to: path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(size > RunIndex.tailBytes, "\(size) bytes")
        let summary = try #require(RunIndex.summary(of: path))
        #expect(summary.scan.startedAt == report.scan.startedAt)
        #expect(summary.summary.findingsBySeverity == report.summary.findingsBySeverity)
        #expect(summary.summary.grade == report.summary.grade)
        let html = String(decoding: RunIndex.render(directory: directory), as: UTF8.self)
        #expect(html.contains("mailport-20261201T000000Z.json"))
        // A file that is not a report (no summary at its end, too large to read whole) is left out, not fatal.
        try AtomicFile.write(
            Array(repeating: UInt8(ascii: " "), count: RunIndex.tailBytes + 10),
            to: directory + "/mailport-20261202T000000Z.json")
        #expect(RunIndex.summary(of: directory + "/mailport-20261202T000000Z.json") == nil)
    }
}
