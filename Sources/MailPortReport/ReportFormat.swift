import MailPortCore

/// The report formats of the contract.
public enum ReportFormat: String, CaseIterable, Sendable {
    case json, html, sarif, junit, md, prom

    /// Formats this build can write.
    public static let available: [ReportFormat] = allCases

    /// The formats written when `--format` is not given (the contract's default).
    public static let defaults: [ReportFormat] = [.json, .html]

    /// Renders a judged report in this format, in memory.
    public func render(_ report: ScanReport, previousPrometheus: String? = nil) throws(MailPortError) -> [UInt8] {
        let sink = ReportSink()
        try render(report, into: sink, previousPrometheus: previousPrometheus)
        return sink.bytes
    }

    /// Renders a judged report in this format into `sink`, host by host where the format allows (a large run's
    /// hosts are read from disk one at a time and its report is never whole in memory).
    public func render(
        _ report: ScanReport, into sink: ReportSink, previousPrometheus: String? = nil
    ) throws(MailPortError) {
        switch self {
        case .json: try JSONReportWriter.write(report, into: sink)
        case .html: try HTMLReportWriter.write(report, into: sink)
        case .sarif: try SARIFReportWriter.write(report, into: sink)
        // Rendered whole, then written (Markdown is bounded: the worst hosts and findings, with counts of the rest).
        case .junit: try sink.write(JUnitReportWriter.encode(report))
        case .md: try sink.write(MarkdownReportWriter.encode(report))
        case .prom:
            try sink.write(
                PrometheusReportWriter.encode(
                    report,
                    previousLastSuccess: previousPrometheus.flatMap(
                        PrometheusReportWriter.lastSuccess(inPreviousFile:))))
        }
    }

    /// The file name's extension: the format's name, except JUnit's `junit.xml` (CI reporters look for `*.xml`).
    public var fileExtension: String { self == .junit ? "junit.xml" : rawValue }

    /// The format a file extension names; `junit` too, as runs before `junit.xml` wrote it (retention still knows them).
    public init?(fileExtension: String) {
        if fileExtension == "junit" {
            self = .junit
            return
        }
        guard let format = ReportFormat.allCases.first(where: { $0.fileExtension == fileExtension }) else { return nil }
        self = format
    }

    /// Parses `--format`: a comma-separated list of format names.
    public static func parseList(_ text: String) throws(MailPortError) -> [ReportFormat] {
        let expected = available.map(\.rawValue).joined(separator: ", ")
        var formats: [ReportFormat] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = raw.trimmingWhitespace().lowercased()
            guard let format = ReportFormat(rawValue: name) else {
                throw .invalidInput(
                    "unknown report format '\(printable(name))' in --format; expected one of: \(expected)")
            }
            guard available.contains(format) else {
                throw .invalidInput(
                    "report format '\(name)' is not available in this version; expected one of: \(expected)")
            }
            if !formats.contains(format) { formats.append(format) }
        }
        return formats
    }
}
