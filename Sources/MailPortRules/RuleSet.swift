import MailPortCore
import MailPortPattern
import MailPortYAML

/// A loaded, validated rule set: rule definitions, profiles and the grade scale, from `Rules/` (built in) plus any
/// `--rules` files layered on top. Built by `RuleLoader`; read by `RuleEngine`.
public struct RuleSet: Sendable {
    /// In load order (the order findings are listed in).
    public internal(set) var rules: [RuleDefinition]
    public internal(set) var profiles: [String: Profile]
    public internal(set) var grades: GradeScale
    /// FNV-1a 64 of the rule files in force (names and texts): shard reports must have been judged by the same set.
    public internal(set) var digest: String = ""

    public func rule(_ id: String) -> RuleDefinition? { rules.first { $0.id == id } }

    /// Patterns in force that are safe but usually a mistake (`(a+)+`), one `FILE:LINE: …` line each, for
    /// `mailport rules validate`.
    public var patternWarnings: [String] {
        var patterns: [TextPattern] = []
        for rule in rules {
            if case .matcher(let matcher) = rule.logic { patterns += matcher.patterns }
            patterns += rule.parameters.values.keys.sorted().flatMap { rule.parameters.values[$0]!.patterns }
        }
        for id in profiles.keys.sorted() {
            for (_, values) in profiles[id]!.parameters.sorted(by: { $0.key < $1.key }) {
                patterns += values.keys.sorted().flatMap { values[$0]!.patterns }
            }
        }
        return patterns.flatMap { pattern in
            pattern.warnings.map { "\(pattern.origin): the pattern '\(printable(pattern.source))' has \($0)" }
        }
    }
}

/// One rule: metadata from YAML, and the logic that fires it (a built-in Swift check, or a matcher from YAML).
public struct RuleDefinition: Sendable {
    public enum Logic: Sendable {
        case builtin(any RuleCheck)
        case matcher(Matcher)
    }

    public var id: String
    public var title: String
    public var description: String
    /// Before profile overrides and adjustments.
    public var severity: Severity
    /// Whether it runs when no profile says otherwise.
    public var enabled: Bool
    public var parameters: RuleParameters
    /// `general`, then per server software: `postfix`, `dovecot`, `exim`.
    public var remediation: [String: String]
    public var references: [String]
    public var logic: Logic
    /// Where it was defined, for messages.
    public var origin: String

    public var isBuiltin: Bool {
        if case .builtin = logic { return true }
        return false
    }

    public var reportDescription: ScanReport.RuleDescription {
        ScanReport.RuleDescription(
            title: title, description: description, severity: severity,
            remediation: remediation, references: references)
    }
}

/// What kind of value a check's parameter takes; the loader checks YAML values against it.
public enum ParameterKind: Sendable {
    case integer(ClosedRange<Int>)
    case severity
    case strings
    /// Regular expressions, compiled at load time (a bad pattern is a load error, not a scan-time surprise).
    case patterns

    var expected: String {
        switch self {
        case .integer(let range): return "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .severity: return Severity.expectedNames
        case .strings: return "a list of text"
        case .patterns: return "a list of regular expressions"
        }
    }
}

public enum ParameterValue: Sendable {
    case integer(Int)
    case severity(Severity)
    case strings([String])
    case patterns([TextPattern])

    var patterns: [TextPattern] {
        if case .patterns(let patterns) = self { return patterns }
        return []
    }
}

/// A check's parameters after the profile's overrides.
public struct RuleParameters: Sendable {
    public var values: [String: ParameterValue]

    public init(_ values: [String: ParameterValue] = [:]) {
        self.values = values
    }

    public func integer(_ name: String, default fallback: Int) -> Int {
        if case .integer(let value) = values[name] { return value }
        return fallback
    }

    public func severity(_ name: String) -> Severity? {
        if case .severity(let value) = values[name] { return value }
        return nil
    }

    public func strings(_ name: String) -> [String] {
        if case .strings(let value) = values[name] { return value }
        return []
    }

    public func patterns(_ name: String) -> [TextPattern] {
        if case .patterns(let value) = values[name] { return value }
        return []
    }
}

/// A compiled regular expression with its source text and where it was written. Patterns run on MailPortPattern's
/// engine, in time linear in the text whatever the pattern, so a rule file cannot make a run hang.
public struct TextPattern: Sendable, CustomStringConvertible {
    public let source: String
    /// `FILE:LINE` of the pattern in its rules file, for messages; empty when it came from elsewhere.
    public let origin: String
    private let pattern: Pattern
    /// Steps one search may take (`Pattern.defaultStepLimit`; tests lower it to reach the limit on short texts).
    private let stepLimit: Int

    public init(_ source: String, origin: String = "") throws(PatternError) {
        try self.init(source, origin: origin, stepLimit: Pattern.defaultStepLimit)
    }

    init(_ source: String, origin: String, stepLimit: Int) throws(PatternError) {
        self.source = source
        self.origin = origin
        self.pattern = try Pattern(source)
        self.stepLimit = stepLimit
    }

    /// A pattern from a rules file: a refused one stops the load with `FILE:LINE: …` like every other rule error.
    static func load(_ source: String, at node: YAMLNode, in what: String? = nil) throws -> TextPattern {
        do {
            return try TextPattern(source, origin: "\(node.file):\(node.line)")
        } catch {
            throw node.error(
                "invalid regular expression '\(printable(source))'\(what.map { " in \($0)" } ?? ""): \(error); expected the syntax in Rules/README.md (Regular expressions)"
            )
        }
    }

    /// The first match in `text`, if any; `PatternError` when the search used up its step budget (a very long
    /// text with a large pattern), which the caller treats as an undecided fact. Texts from the network are
    /// already cut to a bound before they get here.
    public func firstMatch(in text: String) throws(PatternError) -> String? {
        try pattern.firstMatch(in: text, stepLimit: stepLimit)?.text
    }

    /// Shapes that are safe here but usually a mistake (`(a+)+`); `mailport rules validate` warns about them.
    public var warnings: [String] { pattern.warnings }

    public var description: String { source }
}

/// A named set of choices over the rules: which run, how severe, with what parameters, and adjustments that depend
/// on where a finding is (port, service, transport, declared MX).
public struct Profile: Sendable {
    public var id: String
    public var description: String
    public var extends: String?
    /// Every host is treated as a declared MX (profile `mx`).
    public var allHostsMX: Bool?
    public var enable: [String]
    public var disable: [String]
    public var severities: [String: Severity]
    public var parameters: [String: [String: ParameterValue]]
    public var adjustments: [Adjustment]
    public var origin: String
}

/// "Findings of these rules, where this holds, get this severity (or move this many steps)."
public struct Adjustment: Sendable {
    /// Rule ids; a trailing `*` matches a prefix (`MP-CERT-*`).
    public var rules: [String]
    public var ports: [UInt16]?
    public var services: [MailService]?
    public var transports: [Transport]?
    /// Only on hosts that are (true) or are not (false) declared MX.
    public var mx: Bool?
    public var severity: Severity?
    public var shift: Int?
    /// Why, for `rules show` and the README.
    public var reason: String

    func applies(to ruleID: String, endpoint: ScanReport.Endpoint, isMX: Bool) -> Bool {
        guard rules.contains(where: { Adjustment.pattern($0, matches: ruleID) }) else { return false }
        if let ports, !ports.contains(endpoint.port) { return false }
        if let services, !services.contains(endpoint.service) { return false }
        if let transports, !transports.contains(endpoint.transport) { return false }
        if let mx, mx != isMX { return false }
        return true
    }

    /// Whether a rule id matches an adjustment's entry: the id itself, or a prefix ending in `*`.
    public static func pattern(_ pattern: String, matches id: String) -> Bool {
        if pattern.hasSuffix("*") { return id.hasPrefix(pattern.dropLast()) }
        return pattern == id
    }
}

/// Grades from the worst counted finding (PRODUCT.md): thresholds live in `Rules/ruleset.yaml`.
public struct GradeScale: Sendable {
    /// Grade for a host whose worst counted finding has this severity.
    public var bySeverity: [Severity: Grade]
    /// Grade for a host with no counted finding at all.
    public var clean: Grade
    /// The better grade for a clean host that also exposes no plaintext-start port except the allowed services
    /// (a submission port that requires TLS before AUTH).
    public var best: Grade
    public var bestAllowsPlaintextStart: [MailService]
    /// Best first; "worst host" means the latest in this list.
    public var order: [Grade]
}
