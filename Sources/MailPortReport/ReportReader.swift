import Foundation
import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads a JSON report without holding it whole: the file goes through in small chunks, a byte scanner (strings,
/// escapes, nesting) cuts each element of the top-level `hosts` array out and decodes it alone, and everything else
/// — the frame: tool, scan, summary, rules, waivers, baseline, domains — is decoded once at the end as a report with
/// no hosts. Memory grows with the largest host and the frame, not with the number of hosts, which is what lets
/// `merge`, `diff`, `report` and `--baseline` take reports of 100,000 endpoints.
///
/// It checks the bounds a report MailPort wrote keeps: no string longer than 64 KiB, no nesting deeper than 32 levels
/// (both on every byte, host or frame), the schema version, and says what is wrong in one line naming the file and
/// the field (`at hosts[3].endpoints[0].port: …`). Bytes already in memory go through the same scanner
/// (`JSONReportWriter.decode`).
public enum ReportReader {
    /// Bytes read from the file at a time.
    static let chunkSize = 1 << 16

    /// A report file larger than this keeps its hosts in a spool file when it is read whole (`read`). MailPort writes
    /// about 2 KB per open endpoint, so this is some 4,000 endpoints: about where a run spools too.
    public static let spoolAboveBytes = 8 << 20

    /// The bounds a report read back must keep. MailPort itself never writes a string longer than a few KiB (network
    /// text is cut to 2,048 bytes when it is read, and escaping at most sextuples it) nor nests deeper than ten
    /// levels; a file beyond that was not written by MailPort, and decoding it would cost time and memory that
    /// grow with whatever its author chose (a shard with 4 MB banners took a minute to merge).
    static let maxStringBytes = 64 << 10
    static let maxDepth = 32

    /// The report in `path` with its hosts: in memory for a small file, in a spool in `spoolDirectory` (the temporary
    /// folder when nil) above `spoolAbove` bytes. `what` names the file in messages ("baseline").
    public static func read(
        _ path: String, what: String = "report", spoolDirectory: String? = nil, spoolAbove: Int = spoolAboveBytes
    ) throws(MailPortError) -> ScanReport {
        let (fd, size) = try open(path, what: what)
        defer { close(fd) }
        var hosts = HostList()
        if size > spoolAbove {
            let directory = spoolDirectory ?? NSTemporaryDirectory()
            // No file possible (a read-only folder): the hosts stay in memory, as they did before spools.
            let spool = (try? RecordSpool(directory: directory)) ?? RecordSpool(inMemoryFor: directory)
            hosts = HostList(spooledIn: spool)
        }
        var report = try stream(fd: fd, path: path, what: what) { host throws(MailPortError) in hosts.append(host) }
        report.hosts = hosts
        return report
    }

    /// Reads the report in `path`, handing each host to `host` in file order as it is decoded; returns the rest of
    /// the report (its `hosts` empty). A host that does not decode stops the hand-over, but the file is still read
    /// to the end so that a wrong schema version is named rather than the field it changed.
    @discardableResult
    public static func stream(
        _ path: String, what: String = "report", host: (ScanReport.Host) throws(MailPortError) -> Void
    ) throws(MailPortError) -> ScanReport {
        let (fd, _) = try open(path, what: what)
        defer { close(fd) }
        return try stream(fd: fd, path: path, what: what, host: host)
    }

    private static func open(_ path: String, what: String) throws(MailPortError) -> (Int32, Int) {
        switch BoundedFile.open(path, limit: BoundedFile.reportLimit) {
        case .success(let file): return file
        case .failure(let failure): throw refusal(failure, what: what, path: path)
        }
    }

    private static func refusal(_ failure: BoundedFile.Failure, what: String, path: String) -> MailPortError {
        .invalidInput("\(BoundedFile.describe(failure, what: what, path: path)); expected a MailPort JSON report")
    }

    private static func stream(
        fd: Int32, path: String, what: String, host: (ScanReport.Host) throws(MailPortError) -> Void
    ) throws(MailPortError) -> ScanReport {
        var scanner = HostSplitter(fileName: path)
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var total = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw refusal(.unreadable(errnoText()), what: what, path: path)
            }
            if count == 0 { break }
            total += count
            // The file may grow while it is read.
            guard total <= BoundedFile.reportLimit else {
                throw refusal(.tooLarge(limit: BoundedFile.reportLimit), what: what, path: path)
            }
            try scanner.feed(chunk[..<count], host: host)
        }
        return try scanner.finish()
    }
}

/// The byte scanner of `ReportReader`: splits a report's bytes, fed in chunks of any size, into the frame and the
/// hosts, and checks the bounds on the way.
struct HostSplitter {
    let fileName: String
    /// Bytes of the file before the current chunk.
    private var offset = 0
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var stringStart = 0

    /// Where the scanner is: in the frame, in the hosts array between hosts (`hostsOpen` right after its `[`,
    /// `hostsNext` after a comma), or inside a host.
    private enum Place { case frame, hostsOpen, hostsNext, host }
    private var place = Place.frame
    /// Recognising the top-level key `"hosts" : [`: the key's text so far (a few bytes are enough), then whether
    /// the last top-level token was that key, or the key and its colon.
    private enum KeyState { case none, key, colon }
    private var keyState = KeyState.none
    private var keyText: [UInt8] = []
    private var hostsSeen = false

    private enum Destination { case frame, host, skip }
    private var destination = Destination.frame
    private var frame: [UInt8] = []
    private var host: [UInt8] = []
    private var hostIndex = 0
    /// The first host that did not decode: reported after the frame's schema version is known.
    private var hostProblem: String?
    private let decoder = JSONDecoder()

    init(fileName: String) {
        self.fileName = fileName
    }

    private func invalid(_ problem: String) -> MailPortError {
        .invalidInput("'\(printable(fileName))' is not a MailPort JSON report: \(problem)")
    }

    private static let hostsKey = Array("hosts".utf8)

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09
    }

    mutating func feed(
        _ bytes: ArraySlice<UInt8>, host handOver: (ScanReport.Host) throws(MailPortError) -> Void
    ) throws(MailPortError) {
        var segmentStart = bytes.startIndex
        // Bytes go to the frame, to the current host or nowhere (the commas and blanks between hosts), in runs.
        func append(_ run: ArraySlice<UInt8>) {
            switch destination {
            case .frame: frame += run
            case .host: host += run
            case .skip: break
            }
        }
        func switchTo(_ next: Destination, at index: Int) {
            append(bytes[segmentStart..<index])
            destination = next
            segmentStart = index
        }
        for index in bytes.indices {
            let byte = bytes[index]
            let position = offset + index - bytes.startIndex
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 1 && place == .frame { keyState = keyText == Self.hostsKey ? .key : .none }
                    continue
                }
                if depth == 1 && place == .frame && keyText.count <= Self.hostsKey.count { keyText.append(byte) }
                if position - stringStart > ReportReader.maxStringBytes {
                    throw invalid(
                        "a string at byte \(stringStart) is longer than \(ReportReader.maxStringBytes >> 10) KiB; expected the bounded texts MailPort writes"
                    )
                }
                continue
            }
            switch place {
            case .frame:
                if depth == 1 && !Self.isWhitespace(byte) {
                    if byte == UInt8(ascii: ":") && keyState == .key {
                        keyState = .colon
                    } else if byte == UInt8(ascii: "[") && keyState == .colon {
                        guard !hostsSeen else { throw invalid("a second hosts field at byte \(position)") }
                        hostsSeen = true
                        depth += 1
                        place = .hostsOpen
                        switchTo(.skip, at: index + 1)
                        keyState = .none
                        continue
                    } else {
                        keyState = .none
                    }
                }
            case .hostsOpen, .hostsNext:
                if Self.isWhitespace(byte) { continue }
                if byte == UInt8(ascii: "]") && place == .hostsOpen {
                    depth -= 1
                    place = .frame
                    switchTo(.frame, at: index)
                    continue
                }
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]") {
                    throw invalid(
                        "at hosts[\(hostIndex)]: '\(Character(Unicode.Scalar(byte)))' at byte \(position); expected a host"
                    )
                }
                place = .host
                switchTo(.host, at: index)
            case .host:
                if depth == 2 && (byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]")) {
                    switchTo(.skip, at: index)
                    try decodeHost(handOver)
                    if byte == UInt8(ascii: ",") {
                        place = .hostsNext
                    } else {
                        depth -= 1
                        place = .frame
                        switchTo(.frame, at: index)
                    }
                    continue
                }
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                stringStart = position
                if depth == 1 && place == .frame { keyText.removeAll(keepingCapacity: true) }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > ReportReader.maxDepth {
                    throw invalid(
                        "nesting deeper than \(ReportReader.maxDepth) levels at byte \(position); expected a MailPort report"
                    )
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            default:
                break
            }
        }
        append(bytes[segmentStart...])
        offset += bytes.count
    }

    private mutating func decodeHost(
        _ handOver: (ScanReport.Host) throws(MailPortError) -> Void
    ) throws(MailPortError) {
        defer {
            host.removeAll(keepingCapacity: true)
            hostIndex += 1
        }
        guard hostProblem == nil else { return }
        let decoded: ScanReport.Host
        do {
            decoded = try decoder.decode(ScanReport.Host.self, from: Data(host))
        } catch {
            hostProblem = printable(JSONReportWriter.describe(error, place: "hosts[\(hostIndex)]"), limit: 300)
            return
        }
        try handOver(decoded)
    }

    /// The frame, once the whole file went through; the first problem found otherwise.
    func finish() throws(MailPortError) -> ScanReport {
        guard place == .frame else {
            throw invalid(
                "the file ends inside hosts[\(hostIndex)] at byte \(offset); expected a whole report (was it cut short?)"
            )
        }
        var report: ScanReport?
        var frameProblem: String?
        do {
            report = try decoder.decode(ScanReport.self, from: Data(frame))
        } catch {
            frameProblem = printable(JSONReportWriter.describe(error), limit: 300)
        }
        if let report, let problem = JSONReportWriter.schemaVersionProblem(report.schemaVersion) {
            throw .invalidInput("'\(printable(fileName))' \(problem)")
        }
        if let problem = hostProblem ?? frameProblem { throw invalid(problem) }
        return report!
    }
}
