import MailPortCore

/// Where a run's report goes when it is not the output folder: `--output FILE`, or `-o -` for standard output so
/// that `mailport scan … --format json -o - | jq` works. Either way there is exactly one format, and no folder, so
/// no `latest.*`, retention or run index.
public enum ReportDestination: Sendable, Equatable {
    case standardOutput
    case file(String)

    public init(_ output: String) {
        self = output == "-" ? .standardOutput : .file(output)
    }

    /// How messages name it.
    public var shown: String {
        switch self {
        case .standardOutput: return "standard output"
        case .file(let path): return path
        }
    }

    /// The problem with `--output` and the formats (after the config file is merged), or nil. The formats' own
    /// syntax is `--format`'s check; this one only counts them.
    public static func problem(output: String?, formats: String?) -> String? {
        guard let output else { return nil }
        guard !output.isEmpty else {
            return "invalid --output ''; expected a file name, or - for standard output"
        }
        guard let formats else {
            return
                "--output \(printable(output, limit: 200)) writes one format and none was given; expected exactly one --format (e.g. --format json)"
        }
        guard let list = try? ReportFormat.parseList(formats) else { return nil }
        guard list.count == 1 else {
            return
                "--output \(printable(output, limit: 200)) writes one format, not \(list.count) ('\(printable(formats, limit: 200))'); expected exactly one --format"
        }
        return nil
    }
}
