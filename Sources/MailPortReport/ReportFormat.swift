import MailPortCore

/// The report formats of the contract. Only the ones with a writer in this build are accepted; asking for another
/// is an input error rather than a silently missing file.
public enum ReportFormat: String, CaseIterable, Sendable {
    case json, html, sarif, junit, md, prom

    /// Formats this build can write.
    public static let available: [ReportFormat] = [.json]

    /// The formats written when `--format` is not given (the contract's default is json,html; html arrives with
    /// the HTML writer).
    public static let defaults: [ReportFormat] = [.json]

    public var fileExtension: String { rawValue }

    /// Parses `--format`: a comma-separated list of format names.
    public static func parseList(_ text: String) throws(MailPortError) -> [ReportFormat] {
        let expected = available.map(\.rawValue).joined(separator: ", ")
        var formats: [ReportFormat] = []
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = raw.trimmingWhitespace().lowercased()
            guard let format = ReportFormat(rawValue: name) else {
                throw .invalidInput("unknown report format '\(printable(name))' in --format; expected one of: \(expected)")
            }
            guard available.contains(format) else {
                throw .invalidInput("report format '\(name)' is not available in this version; expected one of: \(expected)")
            }
            if !formats.contains(format) { formats.append(format) }
        }
        return formats
    }
}
