/// How bad a finding is. Ordered: `info < low < medium < high < critical`; `--fail-on` and grades compare them.
public enum Severity: String, Codable, Sendable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    private var rank: Int { Severity.allCases.firstIndex(of: self)! }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }

    /// One or more steps up (positive) or down (negative), stopping at the ends of the scale. Profiles use it
    /// ("STARTTLS ports one step worse").
    public func shifted(by steps: Int) -> Severity {
        let index = min(max(rank + steps, 0), Severity.allCases.count - 1)
        return Severity.allCases[index]
    }

    /// The names accepted wherever a severity is written, for error messages.
    public static let expectedNames = allCases.map(\.rawValue).joined(separator: "|")
}

/// `--fail-on`: the lowest severity that makes the exit status 1, or never.
public enum FailThreshold: Sendable, Equatable, CustomStringConvertible {
    case severity(Severity)
    case never

    public init?(_ text: String) {
        if text.lowercased() == "never" {
            self = .never
        } else if let severity = Severity(rawValue: text.lowercased()) {
            self = .severity(severity)
        } else {
            return nil
        }
    }

    /// Whether a finding of this severity fails the run.
    public func isMet(by severity: Severity) -> Bool {
        switch self {
        case .never: return false
        case .severity(let threshold): return severity >= threshold
        }
    }

    public var description: String {
        switch self {
        case .never: return "never"
        case .severity(let severity): return severity.rawValue
        }
    }
}

/// In a report (`summary.failOn`) the threshold is written as its word. Read back, it must be one of those words
/// exactly as MailPort writes them; the command line's leniency about case does not apply to files.
extension FailThreshold: Codable {
    public init(from decoder: any Decoder) throws {
        let expected = Severity.expectedNames + "|never"
        self = try decodeReportWord(decoder, field: "--fail-on threshold", expected: expected) {
            $0 == "never" ? .never : Severity(rawValue: $0).map(FailThreshold.severity)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
