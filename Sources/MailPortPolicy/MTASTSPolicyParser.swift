import MailPortCore

/// The MTA-STS policy file (RFC 8461 §3.2): `key: value` lines ended by LF or CRLF. The body is hostile input: it is
/// read only up to `PolicyFetcher.bodyLimit` bytes, lines and values are bounded, and what reaches the report is
/// printable text.
public enum MTASTSPolicyParser {
    /// RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year).
    public static let maxAgeLimit = 31_557_600
    /// The most `mx` patterns kept (a policy with more still parses; the rest are counted as a problem).
    static let patternLimit = 64

    /// Fills the fields and `problems` of a fetched policy from its body.
    public static func parse(_ body: [UInt8], into fetch: inout MTASTSPolicyFetch) {
        var versions: [String] = []
        var modes: [String] = []
        var maxAges: [String] = []
        var patterns: [String] = []
        var problems: [String] = []
        var lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (index, rawLine) in lines.enumerated() {
            var line = rawLine
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard !line.isEmpty else { continue }
            let number = index + 1
            guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || $0 == 0x09 }) else {
                problems.append("line \(number) holds bytes that are not printable ASCII")
                continue
            }
            let text = String(decoding: line.prefix(1024), as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else {
                problems.append("line \(number) is not a field (key: value): \(PolicyRecords.quote(text))")
                continue
            }
            let key = text[..<colon].trimmingWhitespace()
            let value = text[text.index(after: colon)...].trimmingWhitespace()
            // ABNF strings are case-insensitive (RFC 5234 §2.3): "Mode: Enforce" is a valid field.
            switch key.lowercased() {
            case "version": versions.append(value)
            case "mode": modes.append(value)
            case "max_age": maxAges.append(value)
            case "mx": patterns.append(value)
            case "":
                problems.append("line \(number) has no key")
            default:
                break  // unknown fields are ignored (RFC 8461 §3.2)
            }
        }
        for (name, values) in [("version", versions), ("mode", modes), ("max_age", maxAges)] where values.count > 1 {
            problems.append("\(name) appears \(values.count) times")
        }
        if let version = versions.first {
            fetch.version = String(version.prefix(32))
            if version.lowercased() != "stsv1" {
                problems.append("version \(PolicyRecords.quote(version)) is not STSv1")
            }
        } else {
            problems.append("no version field")
        }
        if let mode = modes.first {
            if let known = MTASTSPolicyFetch.Mode(rawValue: mode.lowercased()) {
                fetch.mode = known
            } else {
                problems.append("mode \(PolicyRecords.quote(mode)) is not enforce, testing or none")
            }
        } else {
            problems.append("no mode field")
        }
        if let maxAge = maxAges.first {
            if (1...10).contains(maxAge.utf8.count), maxAge.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let seconds = Int(maxAge)
            {
                fetch.maxAge = seconds
                if seconds > maxAgeLimit {
                    problems.append("max_age \(seconds) is above the limit of \(maxAgeLimit) seconds")
                }
            } else {
                problems.append("max_age \(PolicyRecords.quote(maxAge)) is not a number of seconds")
            }
        } else {
            problems.append("no max_age field")
        }
        for pattern in patterns {
            if isPattern(pattern) {
                if fetch.mx.count < patternLimit { fetch.mx.append(pattern.lowercased()) }
            } else {
                problems.append("mx \(PolicyRecords.quote(pattern)) is not a host name or *.domain pattern")
            }
        }
        if patterns.count > patternLimit {
            problems.append("\(patterns.count) mx patterns; only the first \(patternLimit) are recorded")
        }
        // An MX list is what a testing or enforce policy is about; "none" withdraws the policy and needs none.
        if patterns.isEmpty, fetch.mode != MTASTSPolicyFetch.Mode.none {
            problems.append("no mx field: no MX host can match the policy")
        }
        fetch.problems = Array(problems.prefix(16))
        if problems.count > 16 { fetch.problems.append("and \(problems.count - 16) more problems") }
    }

    /// A host name, or `*.` followed by one (RFC 8461 §3.2 `sts-policy-mx-value`).
    static func isPattern(_ text: String) -> Bool {
        var name = Substring(text)
        if name.hasPrefix("*.") { name = name.dropFirst(2) }
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let bytes = label.utf8
            guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
            return first != UInt8(ascii: "-") && last != UInt8(ascii: "-")
                && bytes.allSatisfy { PolicyRecords.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        }
    }
}
