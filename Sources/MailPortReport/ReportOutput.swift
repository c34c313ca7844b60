import Foundation
import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes a report in the requested formats into the output folder: one file per format named with the scan's UTC
/// start time (`mailport-20261125T120104Z.json`), and the same content as `latest.<ext>` for people and scripts
/// that want "the newest" without listing the folder.
public struct ReportOutput: Sendable {
    public let directory: String
    public let formats: [ReportFormat]
    /// Retention: after writing, only the newest `keep` runs' files stay (nil: keep everything).
    public let keep: Int?

    public init(directory: String, formats: [ReportFormat], keep: Int? = nil) {
        self.directory = directory
        self.formats = formats
        self.keep = keep
    }

    /// Writes every format; returns the paths of the timestamped files.
    ///
    /// The run lands whole or not at all: every format and its `latest.*` copy is staged (written and flushed under a
    /// temporary name) before any is renamed into place, so a disk that fills part-way leaves the previous `latest.*`
    /// set as it was, all pointing at one run, and the error says so.
    @discardableResult
    public func write(_ report: ScanReport, startedAt: Date) throws(MailPortError) -> [String] {
        try AtomicFile.prepareDirectory(directory)
        let stem = uniqueStem(base: "mailport-" + ReportTime.compact(startedAt))
        let written = try writeRun(report, stem: stem, updatingLatest: true)
        if let keep { prune(keep: keep, sparing: stem) }
        if formats.contains(.html) { try RunIndex.write(directory: directory) }
        return written
    }

    /// Writes every format as `<stem>.<format>` (and, when asked, its `latest.*` copy) as one set: all of them are
    /// staged before any is renamed into place. Temporaries that killed runs left behind are cleared first.
    ///
    /// The formats are rendered at the same time, a thread each (`onThreads`): each reads the hosts on its own (a
    /// spooled run's from the spool, which serves concurrent readers), and a run's last stage kept one core busy
    /// while the others idled (HTML and JSON of 4,065 endpoints: 2.3 s and 1 s one after the other).
    public func writeRun(_ report: ScanReport, stem: String, updatingLatest: Bool) throws(MailPortError) -> [String] {
        AtomicFile.removeAbandonedTemporaries(in: directory)
        let directory = directory
        let formats = formats
        let results = onThreads(formats.count) { index -> Result<AtomicFile.Staged, MailPortError> in
            let format = formats[index]
            do throws(MailPortError) {
                // The Prometheus file carries the last complete scan's time over an interrupted run.
                let previous = format == .prom ? BoundedFile.text("\(directory)/latest.prom", limit: 1 << 20) : nil
                return .success(
                    try AtomicFile.stage(for: "\(directory)/\(stem).\(format.fileExtension)") {
                        sink throws(MailPortError) in
                        try format.render(report, into: sink, previousPrometheus: previous)
                    })
            } catch {
                return .failure(error)
            }
        }
        var staged: [AtomicFile.Staged] = []
        var latest: [AtomicFile.Staged] = []
        do throws(MailPortError) {
            for case .success(let file) in results { staged.append(file) }
            // The first format that failed, in the order asked for, is the one named.
            for case .failure(let error) in results { throw error }
            if updatingLatest {
                for (format, file) in zip(formats, staged) {
                    latest.append(
                        try AtomicFile.stage(copyOf: file, for: "\(directory)/latest.\(format.fileExtension)"))
                }
            }
        } catch {
            AtomicFile.discard(staged + latest)
            let kept = updatingLatest ? " and latest.* still shows the previous run" : ""
            throw .scanFailed("\(error.message); no report file of this run was written\(kept)")
        }
        try AtomicFile.commit(staged + latest)
        return staged.map(\.destination)
    }

    /// A run's file as MailPort names it: `mailport-<UTC time>[-n].<format>`; nothing else is ever pruned.
    struct RunFileName: Equatable {
        var time: String
        var counter: Int
        var stem: String { counter == 1 ? "mailport-\(time)" : "mailport-\(time)-\(counter)" }

        init?(_ name: String) {
            guard name.hasPrefix("mailport-"), let dot = name.firstIndex(of: "."),
                ReportFormat(fileExtension: String(name[name.index(after: dot)...])) != nil
            else { return nil }
            let parts = name[name.index(name.startIndex, offsetBy: 9)..<dot].split(
                separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), Self.isTimestamp(parts[0]) else { return nil }
            time = String(parts[0])
            if parts.count == 2 {
                // The counter uniqueStem adds: 2, 3, ... without leading zeros.
                guard let counter = Int(parts[1]), counter >= 2, String(counter) == parts[1] else { return nil }
                self.counter = counter
            } else {
                counter = 1
            }
        }

        /// `20261125T120104Z`, as `ReportTime.compact` writes it.
        static func isTimestamp(_ text: Substring) -> Bool {
            let bytes = Array(text.utf8)
            guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return false }
            return bytes.enumerated().allSatisfy { index, byte in
                [8, 15].contains(index) || (0x30...0x39).contains(byte)
            }
        }

        /// Older first: by time, then by the counter of runs in the same second.
        static func < (left: Self, right: Self) -> Bool { (left.time, left.counter) < (right.time, right.counter) }
    }

    /// Removes the files of all but the newest `keep` runs. Only regular files whose whole name is a run file name
    /// (`mailport-<UTC time>[-n].<format>`) count; links are never followed, folders and any other name (notes,
    /// `latest.*`, `index.html`, `mailport-notes.md`) are never touched, and the run named `sparing` (the one just
    /// written) always stays.
    @discardableResult
    public func prune(keep: Int, sparing current: String? = nil) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var runs: [String: (run: RunFileName, files: [String])] = [:]
        for name in names {
            guard let run = RunFileName(name), isRegularFile("\(directory)/\(name)") else { continue }
            runs[run.stem, default: (run, [])].files.append(name)
        }
        let others = runs.values.filter { $0.run.stem != current }.sorted { $0.run < $1.run }
        let keptOthers = max(0, keep - (current.map { runs[$0] != nil } == true ? 1 : 0))
        var removed: [String] = []
        for run in others.dropLast(keptOthers) {
            for name in run.files where unlink("\(directory)/\(name)") == 0 { removed.append(name) }
        }
        return removed.sorted()
    }

    private func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// `base` (`mailport-<UTC time>`), with a counter when a run in the same second already used the name (in any
    /// format, so two runs of one second never share a stem and nothing already there is replaced).
    public func uniqueStem(base: String) -> String {
        var stem = base
        var counter = 2
        while ReportFormat.allCases.contains(where: { entryExists("\(directory)/\(stem).\($0.fileExtension)") }) {
            stem = "\(base)-\(counter)"
            counter += 1
        }
        return stem
    }

    /// Whether anything at all (a file, a folder, a dangling link) has the name.
    private func entryExists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }
}

/// Time stamps as reports write them: RFC 3339 in UTC for JSON, a compact form for file names.
public enum ReportTime {
    /// `2026-12-07T20:03:59Z`: whole seconds (a fraction is dropped), UTC. Built from `gmtime_r`, not a Foundation
    /// formatter: every line of `--log-file` is stamped with it, and making an ISO8601DateFormatter per line was
    /// 3.5% of an audit's CPU with `--verbose`.
    public static func rfc3339(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        // Years 1-9999 of the Gregorian calendar (the callers' dates are now or read back from a report); anything
        // else, NaN included, goes to Foundation, which gives Julian dates before 1582 as it always did.
        guard interval.isFinite, interval >= -12_219_292_800, interval < 253_402_300_800 else {
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.string(from: date)
        }
        var seconds = time_t(interval.rounded(.down))
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "1970-01-01T00:00:00Z" }
        func padded(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return padded(parts.tm_year + 1900, 4) + "-" + padded(parts.tm_mon + 1, 2) + "-" + padded(parts.tm_mday, 2)
            + "T" + padded(parts.tm_hour, 2) + ":" + padded(parts.tm_min, 2) + ":" + padded(parts.tm_sec, 2) + "Z"
    }

    public static func parse(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }

    public static func compact(_ date: Date) -> String {
        rfc3339(date).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
    }
}

/// The JSON writer: stable key order (so reports diff cleanly and golden files compare), two-space indentation.
public enum JSONReportWriter {
    public static func encode(_ report: ScanReport) throws(MailPortError) -> [UInt8] {
        let sink = ReportSink()
        try write(report, into: sink)
        return sink.bytes
    }

    /// The report as one document, written host by host: everything but the hosts is encoded once with an empty
    /// host list, and each host's entry (`ReportJSON.hostEntry`: encoded alone, indented to its place) goes where
    /// that empty list was; a spooled host's record already is that entry and is copied as it is. The bytes are the
    /// same as encoding the whole report at once (the golden files hold it to that), but only one host is in memory
    /// at a time.
    public static func write(_ report: ScanReport, into sink: ReportSink) throws(MailPortError) {
        var skeleton = report
        skeleton.hosts = HostList()
        let frame = try encoded(skeleton)
        guard !report.hosts.isEmpty else {
            try sink.write(frame + [UInt8(ascii: "\n")])
            return
        }
        // Top-level keys are indented by two spaces; network text cannot hold a raw newline (JSON escapes it), so
        // this is the report's own `hosts` and no domain's.
        let emptyHosts = Array("\n  \"hosts\" : [\n\n  ]".utf8)
        guard let place = frame.firstRange(of: emptyHosts) else {
            throw .scanFailed("cannot encode the JSON report: no place for its hosts")
        }
        try sink.write(Array(frame[..<place.lowerBound]) + Array("\n  \"hosts\" : [\n".utf8))
        for index in report.hosts.indices {
            let entry: [UInt8]
            do {
                entry = try report.hosts.reportEntry(at: index)
            } catch {
                throw .scanFailed("cannot encode the JSON report: \(error)")
            }
            try sink.write(index == report.hosts.startIndex ? entry : Array(",\n".utf8) + entry)
        }
        try sink.write(Array("\n  ]".utf8) + Array(frame[place.upperBound...]) + [UInt8(ascii: "\n")])
    }

    private static func encoded<Value: Encodable>(_ value: Value) throws(MailPortError) -> [UInt8] {
        do {
            return try ReportJSON.encode(value)
        } catch {
            throw .scanFailed("cannot encode the JSON report: \(error)")
        }
    }

    /// Reads a report file host by host (`ReportReader`); `what` names it in the message when it cannot be read
    /// ("baseline"). A large report's hosts are kept in a spool file in `spoolDirectory` (the temporary folder when
    /// nil), so the report read back is never whole in memory.
    public static func read(
        _ path: String, what: String = "report", spoolDirectory: String? = nil
    ) throws(MailPortError) -> ScanReport {
        try ReportReader.read(path, what: what, spoolDirectory: spoolDirectory)
    }

    /// A report held in memory (standard output captured, a test's bytes), read by the same scanner as a file
    /// (`ReportReader`): the same bounds, schema check and messages.
    public static func decode(_ bytes: [UInt8], fileName: String) throws(MailPortError) -> ScanReport {
        var splitter = HostSplitter(fileName: fileName)
        var hosts: [ScanReport.Host] = []
        try splitter.feed(bytes[...]) { host throws(MailPortError) in hosts.append(host) }
        var report = try splitter.finish()
        report.hosts = HostList(hosts)
        return report
    }

    /// A decoding error as one line naming the field:
    /// `at summary.failOn: invalid --fail-on threshold 'x'; expected …`. `place` is where the decoded value sits in
    /// the report when it was decoded alone (`hosts[3]` for a host read on its own).
    static func describe(_ error: any Error, place: String = "") -> String {
        guard let error = error as? DecodingError else {
            return (place.isEmpty ? "" : "at \(place): ") + String(describing: error)
        }
        func field(_ path: [any CodingKey]) -> String {
            let text = place + path.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            guard !text.isEmpty else { return "" }
            return "at \(text.hasPrefix(".") ? String(text.dropFirst()) : text): "
        }
        switch error {
        case .dataCorrupted(let context):
            let cause = (context.underlyingError.map { " (\(String(describing: $0)))" }) ?? ""
            return field(context.codingPath) + context.debugDescription + cause
        case .keyNotFound(let key, let context):
            return field(context.codingPath) + "missing field '\(key.stringValue)'"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return field(context.codingPath) + "\(context.debugDescription) (expected \(type))"
        @unknown default:
            return String(describing: error)
        }
    }

    /// Reports of this schema's major version and of no newer minor version are read; anything else is said plainly
    /// instead of being half-understood (a newer report's added fields would be dropped without a word).
    static func schemaVersionProblem(_ version: String) -> String? {
        func parts(_ text: String) -> (Int, Int)? {
            let pieces = text.split(separator: ".", omittingEmptySubsequences: false)
            guard pieces.count == 2,
                pieces.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
                let major = Int(pieces[0]), let minor = Int(pieces[1])
            else { return nil }
            return (major, minor)
        }
        let current = parts(ScanReport.currentSchemaVersion)!
        guard let given = parts(version) else {
            return
                "has an unknown schemaVersion '\(printable(version, limit: 40))'; expected \(current.0).N (this mailport reads schema \(ScanReport.currentSchemaVersion) and older)"
        }
        if given.0 != current.0 || given.1 > current.1 {
            let newer = given > current
            return
                "was written \(newer ? "by a newer MailPort" : "for another schema") (schemaVersion \(version)); expected schema \(current.0).\(current.1) or older of major version \(current.0)\(newer ? ": upgrade mailport to read it" : "")"
        }
        return nil
    }
}
