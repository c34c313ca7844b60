/// A report field that holds one word of a closed set. Reports are read back from files anyone may have written
/// (`report`, `diff`, `merge`, `--baseline`), so decoding any other word fails, naming the field and the words
/// expected; the synthesized message names neither. Encoded as the raw value, exactly as the plain string was.
public protocol ReportKeyword: RawRepresentable<String>, CaseIterable, Codable, Sendable {
    /// What the field is, for messages ("scan mode").
    static var fieldName: String { get }
}

extension ReportKeyword {
    public init(from decoder: any Decoder) throws {
        self = try decodeReportWord(decoder, field: Self.fieldName, expected: Self.expectedWords, Self.init(rawValue:))
    }

    /// The words accepted, for messages: `connect|syn`.
    public static var expectedWords: String { allCases.map(\.rawValue).joined(separator: "|") }
}

/// A report field's word, read by `parse`; a word it does not take fails naming the field and what was expected.
func decodeReportWord<Value>(
    _ decoder: any Decoder, field: String, expected: String,
    _ parse: (String) -> Value?
) throws -> Value {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let value = parse(text) else {
        let message = "invalid \(field) '\(printable(text, limit: 40))'; expected \(expected)"
        throw DecodingError.dataCorruptedError(in: container, debugDescription: message)
    }
    return value
}

/// How discovery found open ports (`scan.mode`).
public enum ScanMode: String, ReportKeyword {
    /// Full TCP handshakes through the operating system.
    case connect
    /// Raw SYN packets (needs CAP_NET_RAW).
    case syn

    public static let fieldName = "scan mode"
}

/// A grade: `A+`, `A`, `A-`, `B`, `C`, `F` in the built-in rule set. Not a closed enum, because the labels and
/// their order are data (`grades.order` in `Rules/ruleset.yaml`) that a `--rules` layer may replace. What every
/// grade is held to — by the rule loader and when a report is read back — is its shape: one to eight ASCII letters,
/// digits, `+` or `-`, so that a label can stand in a CSS class, a Prometheus label or a table cell as it is.
public struct Grade: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        let bytes = Array(rawValue.utf8)
        guard (1...Self.maxLength).contains(bytes.count), bytes.allSatisfy(Self.isAllowed) else { return nil }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        self = try decodeReportWord(decoder, field: "grade", expected: Self.expectedShape, Grade.init(rawValue:))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    static let maxLength = 8

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// What a grade label looks like, for messages.
    public static let expectedShape =
        "a grade label of 1 to \(maxLength) ASCII letters, digits, + or - (such as A+, A, B, F)"

    // The built-in scale (`Rules/ruleset.yaml`).
    public static let aPlus = Grade(rawValue: "A+")!
    public static let a = Grade(rawValue: "A")!
    public static let aMinus = Grade(rawValue: "A-")!
    public static let b = Grade(rawValue: "B")!
    public static let c = Grade(rawValue: "C")!
    public static let f = Grade(rawValue: "F")!

    /// The built-in scale, best first. Writers that have a report but no rule set (HTML sorting, Prometheus, `diff`)
    /// rank by it; a grade outside it ranks after all of it.
    public static let builtinOrder: [Grade] = [.aPlus, .a, .aMinus, .b, .c, .f]

    /// Position in the built-in scale, best first; a grade outside it, or none, comes after all of it.
    public static func builtinRank(_ grade: Grade?) -> Int {
        grade.flatMap { builtinOrder.firstIndex(of: $0) } ?? builtinOrder.count
    }
}

extension ScanReport.Finding {
    /// With `--baseline`: whether the earlier report had the finding at the same place.
    public enum BaselineStatus: String, ReportKeyword {
        case new
        case unchanged

        public static let fieldName = "finding status"
    }
}

extension ScanReport.WaiverState {
    public enum Status: String, ReportKeyword {
        /// In force: the findings it matches are kept but not counted.
        case active
        /// Past its date: it covers nothing and is itself a finding where it would have applied.
        case expired

        public static let fieldName = "waiver status"
    }
}
