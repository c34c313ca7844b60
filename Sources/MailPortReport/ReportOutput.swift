import Foundation
import MailPortCore

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
    @discardableResult
    public func write(_ report: ScanReport, startedAt: Date) throws(MailPortError) -> [String] {
        try AtomicFile.prepareDirectory(directory)
        let stem = uniqueStem(for: startedAt)
        var written: [String] = []
        for format in formats {
            // The Prometheus file carries the last complete scan's time over an interrupted run.
            let previous = format == .prom ? try? String(contentsOfFile: "\(directory)/latest.prom", encoding: .utf8) : nil
            let bytes = try format.render(report, previousPrometheus: previous)
            let path = "\(directory)/\(stem).\(format.fileExtension)"
            try AtomicFile.write(bytes, to: path)
            try AtomicFile.write(bytes, to: "\(directory)/latest.\(format.fileExtension)")
            written.append(path)
        }
        if let keep { prune(keep: keep) }
        if formats.contains(.html) { try RunIndex.write(directory: directory) }
        return written
    }

    /// Removes every file of all but the newest `keep` runs (`mailport-<time>[-n].<ext>`; names sort by time).
    /// Only files of that pattern are touched; `latest.*`, `index.html` and anything else in the folder stay.
    public func prune(keep: Int) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var stems: [String: [String]] = [:]
        for name in names where name.hasPrefix("mailport-") {
            guard let dot = name.firstIndex(of: "."), ReportFormat(rawValue: String(name[name.index(after: dot)...])) != nil
            else { continue }
            stems[String(name[..<dot]), default: []].append(name)
        }
        for stem in stems.keys.sorted(by: Self.runOrder).dropLast(keep) {
            for name in stems[stem]! { try? FileManager.default.removeItem(atPath: "\(directory)/\(name)") }
        }
    }

    /// `mailport-20261125T120104Z` before `mailport-20261125T120104Z-2` before `-10`.
    static func runOrder(_ left: String, _ right: String) -> Bool {
        func parts(_ stem: String) -> (String, Int) {
            let pieces = stem.split(separator: "-")
            if pieces.count == 3, let counter = Int(pieces[2]) { return (String(pieces[1]), counter) }
            return (pieces.count > 1 ? String(pieces[1]) : stem, 1)
        }
        return parts(left) < parts(right)
    }

    /// `mailport-<UTC time>`, with a counter when a run in the same second already used the name.
    func uniqueStem(for date: Date) -> String {
        let base = "mailport-" + ReportTime.compact(date)
        var stem = base
        var counter = 2
        while formats.contains(where: { FileManager.default.fileExists(atPath: "\(directory)/\(stem).\($0.fileExtension)") }) {
            stem = "\(base)-\(counter)"
            counter += 1
        }
        return stem
    }
}

/// Time stamps as reports write them: RFC 3339 in UTC for JSON, a compact form for file names.
public enum ReportTime {
    public static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    public static func compact(_ date: Date) -> String {
        rfc3339(date).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
    }
}

/// The JSON writer: stable key order (so reports diff cleanly and golden files compare), two-space indentation.
public enum JSONReportWriter {
    public static func encode(_ report: ScanReport) throws(MailPortError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return terminalSafe(Array(try encoder.encode(report))) + [UInt8(ascii: "\n")]
        } catch {
            throw .scanFailed("cannot encode the JSON report: \(error)")
        }
    }

    /// JSON allows DEL, C1 controls, bidirectional overrides and other invisible format characters raw inside
    /// strings; `cat report.json` would hand them to a terminal (a C1 CSI moves the cursor, U+202E reverses text).
    /// They only ever occur inside strings, so writing them as `\uXXXX` escapes keeps the data identical and the
    /// file inert.
    static func terminalSafe(_ json: [UInt8]) -> [UInt8] {
        let text = String(decoding: json, as: UTF8.self)
        guard text.unicodeScalars.contains(where: needsEscape) else { return json }
        var out = ""
        out.reserveCapacity(text.utf8.count + 64)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                for unit in String(scalar).utf16 { out += "\\u" + String(unit, radix: 16).leftPadded(to: 4) }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return Array(out.utf8)
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return scalar.value == 0x7f }
        if scalar.value <= 0x9f { return true }
        switch scalar.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator: return true
        default: return scalar.properties.isNoncharacterCodePoint
        }
    }

    /// Reads and decodes a report file; `what` names it in the message when it cannot be read ("baseline").
    public static func read(_ path: String, what: String = "report") throws(MailPortError) -> ScanReport {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidInput("cannot read \(what) '\(printable(path))'; expected a MailPort JSON report")
        }
        return try decode(Array(data), fileName: path)
    }

    public static func decode(_ bytes: [UInt8], fileName: String) throws(MailPortError) -> ScanReport {
        do {
            return try JSONDecoder().decode(ScanReport.self, from: Data(bytes))
        } catch {
            throw .invalidInput("'\(printable(fileName))' is not a MailPort JSON report: \(printable(String(describing: error)))")
        }
    }
}
