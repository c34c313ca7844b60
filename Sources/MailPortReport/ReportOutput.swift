import Foundation
import MailPortCore

/// Writes a report in the requested formats into the output folder: one file per format named with the scan's UTC
/// start time (`mailport-20261125T120104Z.json`), and the same content as `latest.<ext>` for people and scripts
/// that want "the newest" without listing the folder.
public struct ReportOutput: Sendable {
    public let directory: String
    public let formats: [ReportFormat]

    public init(directory: String, formats: [ReportFormat]) {
        self.directory = directory
        self.formats = formats
    }

    /// Writes every format; returns the paths of the timestamped files.
    @discardableResult
    public func write(_ report: ScanReport, startedAt: Date) throws(MailPortError) -> [String] {
        try AtomicFile.prepareDirectory(directory)
        let stem = uniqueStem(for: startedAt)
        var written: [String] = []
        for format in formats {
            let bytes: [UInt8]
            switch format {
            case .json: bytes = try JSONReportWriter.encode(report)
            default: throw .invalidInput("report format '\(format.rawValue)' is not available in this version")
            }
            let path = "\(directory)/\(stem).\(format.fileExtension)"
            try AtomicFile.write(bytes, to: path)
            try AtomicFile.write(bytes, to: "\(directory)/latest.\(format.fileExtension)")
            written.append(path)
        }
        return written
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
            return Array(try encoder.encode(report)) + [UInt8(ascii: "\n")]
        } catch {
            throw .scanFailed("cannot encode the JSON report: \(error)")
        }
    }

    public static func decode(_ bytes: [UInt8], fileName: String) throws(MailPortError) -> ScanReport {
        do {
            return try JSONDecoder().decode(ScanReport.self, from: Data(bytes))
        } catch {
            throw .invalidInput("'\(printable(fileName))' is not a MailPort JSON report: \(printable(String(describing: error)))")
        }
    }
}
