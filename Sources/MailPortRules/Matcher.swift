import Foundation
import MailPortCore
import MailPortPattern
import MailPortTargets
import MailPortYAML

/// The matcher language of custom rules (documented in `Rules/README.md`): conditions over the facts of one open
/// endpoint, combined with `all`, `any` and `not`.
///
///     match:
///       all:
///         - service: [smtp, submission]
///         - banner: { regex: 'Exim 4\.8[0-9]' }
///
/// A fact that was not gathered (no TLS, no dialog) is unknown, not false: `not` of unknown stays unknown and a
/// rule fires only when its condition is definitely true, so missing facts never turn into verdicts.
public indirect enum Matcher: Sendable {
    case all([Matcher])
    case any([Matcher])
    case not(Matcher)
    case test(fact: Fact, condition: Condition)

    /// Every regular expression in the condition.
    var patterns: [TextPattern] {
        switch self {
        case .all(let parts), .any(let parts): return parts.flatMap(\.patterns)
        case .not(let inner): return inner.patterns
        case .test(_, .regex(let pattern)): return [pattern]
        case .test: return []
        }
    }

    /// Three-valued: true, false, or nil (unknown). `evidence` collects the facts of the tests that were true.
    func evaluate(_ endpoint: EndpointContext, evidence: inout [String]) -> Bool? {
        switch self {
        case .all(let parts):
            var result: Bool? = true
            for part in parts {
                switch part.evaluate(endpoint, evidence: &evidence) {
                case false?: return false
                case nil: result = nil
                case true?: break
                }
            }
            return result
        case .any(let parts):
            var result: Bool? = false
            for part in parts {
                switch part.evaluate(endpoint, evidence: &evidence) {
                case true?: return true
                case nil: result = nil
                case false?: break
                }
            }
            return result
        case .not(let inner):
            var ignored: [String] = []
            return inner.evaluate(endpoint, evidence: &ignored).map { !$0 }
        case .test(let fact, let condition):
            guard let value = fact.read(endpoint) else { return nil }
            if case .partialList(let known) = value {
                // Some members could not be asked about: what holds for the known ones decides only where more
                // members could not change it (a `contains` that holds, a `lacks` that fails); anything else is unknown.
                guard let holds = condition.holds(for: .list(known), on: endpoint), holds == condition.survivesMoreItems
                else { return nil }
                if holds { evidence.append("\(fact.name) = \(value.display)") }
                return holds
            }
            guard let holds = condition.holds(for: value, on: endpoint) else { return nil }
            if holds { evidence.append("\(fact.name) = \(value.display)") }
            return holds
        }
    }
}

/// A value a fact can have.
public enum FactValue: Sendable {
    case text(String)
    case number(Int)
    case flag(Bool)
    case list([String])
    /// A list with members that could not be asked about (a TLS version whose question got no answer): `known` holds
    /// the members that are certain.
    case partialList(known: [String])
    case numbers([Int])
    case address(IPAddress)

    var display: String {
        switch self {
        case .text(let text): return quoted(text, limit: 100)
        case .number(let number): return String(number)
        case .flag(let flag): return String(flag)
        case .list(let items): return "[" + items.prefix(12).joined(separator: ", ") + "]"
        case .partialList(let items): return "[" + items.prefix(12).joined(separator: ", ") + ", unknown …]"
        case .numbers(let items): return "[" + items.map(String.init).joined(separator: ", ") + "]"
        case .address(let address): return address.description
        }
    }
}

/// A fact the matcher language can test, with the operators its kind allows.
public struct Fact: Sendable {
    public enum Kind: String, Sendable {
        case text, number, flag, list, numbers, address

        var operators: [String] {
            switch self {
            case .text: return ["equals", "in", "regex"]
            case .number: return ["equals", "in", "below", "above", "at-least", "at-most"]
            case .flag: return ["equals"]
            case .list: return ["contains", "lacks", "contains-any", "empty", "regex"]
            case .numbers: return ["contains", "lacks", "empty"]
            case .address: return ["in"]
            }
        }
    }

    public let name: String
    public let kind: Kind
    let read: @Sendable (EndpointContext) -> FactValue?

    /// Every fact, by name. Keep `Rules/README.md` in step with this table.
    /// A list of accepted things, partial when some could not be asked about.
    static func listFact(_ known: [String], unknown: [String]?) -> FactValue {
        (unknown ?? []).isEmpty ? .list(known) : .partialList(known: known)
    }

    public static let all: [String: Fact] = {
        func fact(_ name: String, _ kind: Kind, _ read: @escaping @Sendable (EndpointContext) -> FactValue?) -> Fact {
            Fact(name: name, kind: kind, read: read)
        }
        let facts: [Fact] = [
            fact("port", .number) { .number(Int($0.port)) },
            fact("service", .text) { .text($0.service.rawValue) },
            fact("transport", .text) { .text($0.endpoint.transport.rawValue) },
            fact("address", .address) { IPAddress($0.host.host.address).map(FactValue.address) },
            fact("host.names", .list) { .list($0.host.host.names) },
            fact("host.mx", .flag) { .flag($0.host.isMX) },
            fact("host.groups", .list) { .list($0.host.host.groups) },
            fact("host.open-ports", .numbers) { .numbers($0.host.openEndpoints.map { Int($0.port) }) },
            fact("identified-as", .text) { $0.dialog.map { .text($0.identifiedAs.rawValue) } },
            fact("complete", .flag) { $0.dialog.map { .flag($0.complete) } },
            fact("unresponsive", .flag) { $0.dialog.map { .flag($0.unresponsive) } },
            fact("banner", .text) { $0.dialog?.banner.map(FactValue.text) },
            fact("greeting-status", .text) { $0.dialog?.greetingStatus.map(FactValue.text) },
            fact("capabilities", .list) { $0.dialog.map { .list($0.capabilities) } },
            fact("capabilities-after-tls", .list) { $0.dialog?.capabilitiesAfterTLS.map(FactValue.list) },
            fact("auth-mechanisms", .list) { $0.dialog.map { .list($0.authMechanisms) } },
            fact("auth-mechanisms-after-tls", .list) { $0.dialog?.authMechanismsAfterTLS.map(FactValue.list) },
            fact("violations", .list) { $0.dialog.map { .list($0.violations.map(\.kind.rawValue)) } },
            fact("starttls.offered", .flag) { $0.dialog?.starttls.map { .flag($0.offered) } },
            fact("starttls.upgraded", .flag) { $0.dialog?.starttls?.upgraded.map(FactValue.flag) },
            fact("tls.version", .text) { $0.tls.map { .text($0.negotiatedVersion) } },
            fact("tls.versions-accepted", .list) {
                $0.tls.map { listFact($0.versionsAccepted, unknown: $0.versionsUnknown) }
            },
            fact("tls.cipher", .text) { $0.tls.map { .text($0.cipher) } },
            fact("tls.group", .text) { $0.tls?.keyExchangeGroup.map(FactValue.text) },
            fact("tls.weak-cipher-classes", .list) {
                $0.tls.map { listFact($0.cipherClassesAccepted, unknown: $0.cipherClassesUnknown) }
            },
            fact("cert.days-left", .number) { context in
                context.tls?.certificate.flatMap { daysLeft($0, now: context.host.now) }.map(FactValue.number)
            },
            fact("cert.key-type", .text) { $0.tls?.certificate.map { .text($0.keyType) } },
            fact("cert.key-bits", .number) { $0.tls?.certificate.map { .number($0.keyBits) } },
            fact("cert.signature-algorithm", .text) { $0.tls?.certificate.map { .text($0.signatureAlgorithm) } },
            fact("cert.subject", .text) { $0.tls?.certificate.map { .text($0.subject) } },
            fact("cert.issuer", .text) { $0.tls?.certificate.map { .text($0.issuer) } },
            fact("cert.sans", .list) { $0.tls?.certificate.map { .list($0.sans) } },
            fact("cert.self-signed", .flag) { $0.tls?.certificate.map { .flag($0.selfSigned) } },
            fact("cert.verified", .flag) { $0.tls.map { .flag($0.chainVerified) } },
            fact("cert.names-match", .flag) { $0.tls.map { tls in .flag(tls.nameMatches.values.allSatisfy { $0 }) } },
        ]
        return Dictionary(uniqueKeysWithValues: facts.map { ($0.name, $0) })
    }()
}

/// One operator and its operand, checked against the fact's kind when loaded.
public enum Condition: Sendable {
    case equals(FactValue)
    case oneOf([String])
    case numberIn([Int])
    case below(Int)
    case above(Int)
    case atLeast(Int)
    case atMost(Int)
    case regex(TextPattern)
    case contains(String)
    case lacks(String)
    case containsAny([String])
    case empty(Bool)
    case inNetwork(AddressRange)

    /// Nil when it cannot be decided: a pattern search that used up its step budget (noted on the host).
    func holds(for value: FactValue, on endpoint: EndpointContext) -> Bool? {
        switch (self, value) {
        case (.equals(.text(let wanted)), .text(let text)): return text.caseInsensitiveCompare(wanted) == .orderedSame
        case (.equals(.number(let wanted)), .number(let number)): return number == wanted
        case (.equals(.flag(let wanted)), .flag(let flag)): return flag == wanted
        case (.oneOf(let options), .text(let text)):
            return options.contains { text.caseInsensitiveCompare($0) == .orderedSame }
        case (.numberIn(let options), .number(let number)): return options.contains(number)
        case (.below(let limit), .number(let number)): return number < limit
        case (.above(let limit), .number(let number)): return number > limit
        case (.atLeast(let limit), .number(let number)): return number >= limit
        case (.atMost(let limit), .number(let number)): return number <= limit
        case (.regex(let pattern), .text(let text)):
            return (try? endpoint.search(pattern, in: text).get()).map { $0 != nil }
        case (.regex(let pattern), .list(let items)):
            var undecided = false
            for item in items {
                switch endpoint.search(pattern, in: item) {
                case .success(_?): return true
                case .success(nil): break
                case .failure: undecided = true
                }
            }
            return undecided ? nil : false
        case (.contains(let wanted), .list(let items)): return items.contains { Condition.item($0, is: wanted) }
        case (.lacks(let wanted), .list(let items)): return !items.contains { Condition.item($0, is: wanted) }
        case (.containsAny(let wanted), .list(let items)):
            return items.contains { item in wanted.contains { Condition.item(item, is: $0) } }
        case (.contains(let wanted), .numbers(let items)): return items.contains { String($0) == wanted }
        case (.lacks(let wanted), .numbers(let items)): return !items.contains { String($0) == wanted }
        case (.empty(let wanted), .list(let items)): return items.isEmpty == wanted
        case (.empty(let wanted), .numbers(let items)): return items.isEmpty == wanted
        case (.inNetwork(let range), .address(let address)):
            return range.contains(address)
        default: return false
        }
    }

    /// True for conditions that, once true, stay true when the list gains members (`contains`, `contains-any`,
    /// `regex`, `empty: false`); false for those that, once false, stay false (`lacks`, `empty: true`).
    var survivesMoreItems: Bool {
        switch self {
        case .lacks: return false
        case .empty(let wanted): return !wanted
        default: return true
        }
    }

    /// A list item matches its keyword, ignoring case and parameters: `SIZE 10240000` is `SIZE`.
    static func item(_ item: String, is wanted: String) -> Bool {
        if item.caseInsensitiveCompare(wanted) == .orderedSame { return true }
        let keyword = item.split(separator: " ", maxSplits: 1).first.map(String.init) ?? item
        return keyword.caseInsensitiveCompare(wanted) == .orderedSame
    }
}

// MARK: Parsing

extension Matcher {
    /// Parses a `match:` node. A mapping with several facts means all of them; `all`/`any` take lists; `not` takes
    /// one condition.
    static func parse(_ node: YAMLNode) throws -> Matcher {
        let pairs = try node.pairs("a match condition")
        guard !pairs.isEmpty else { throw node.error("an empty match condition; expected facts or all/any/not") }
        var parts: [Matcher] = []
        for (key, keyNode, value) in pairs {
            switch key {
            case "all", "any":
                let items = try value.list("'\(key)'")
                guard !items.isEmpty else {
                    throw value.error("an empty '\(key)' list; expected at least one condition")
                }
                let parsed = try items.map(parse)
                parts.append(key == "all" ? .all(parsed) : .any(parsed))
            case "not":
                parts.append(.not(try parse(value)))
            default:
                guard let fact = Fact.all[key] else {
                    throw keyNode.error(
                        "unknown fact '\(printable(key))' in match; expected one of: all, any, not, \(Fact.all.keys.sorted().joined(separator: ", "))"
                    )
                }
                parts.append(.test(fact: fact, condition: try Condition.parse(value, for: fact)))
            }
        }
        return parts.count == 1 ? parts[0] : .all(parts)
    }
}

extension Condition {
    static func parse(_ node: YAMLNode, for fact: Fact) throws -> Condition {
        let operators = fact.kind.operators
        func bad(_ found: String) -> MailPortError {
            node.error(
                "invalid condition \(found) for \(fact.kind.rawValue) fact '\(fact.name)'; expected a value or one of: \(operators.joined(separator: ", "))"
            )
        }
        switch node.value {
        case .scalar(let text):
            return try shorthand(text, node: node, fact: fact, bad: bad)
        case .sequence:
            let items = try node.stringList("the list for '\(fact.name)'")
            switch fact.kind {
            case .text: return .oneOf(items)
            case .number: return .numberIn(try items.map { try number($0, node) })
            case .list: return .containsAny(items)
            default: throw bad("a list")
            }
        case .mapping:
            let pairs = try node.pairs("the condition for '\(fact.name)'")
            guard pairs.count == 1, let (op, opNode, operand) = pairs.first else {
                throw bad("with \(pairs.count) operators")
            }
            guard operators.contains(op) else {
                throw opNode.error(
                    "operator '\(printable(op))' does not apply to \(fact.kind.rawValue) fact '\(fact.name)'; expected one of: \(operators.joined(separator: ", "))"
                )
            }
            switch op {
            case "equals": return try shorthand(try operand.string("'equals'"), node: operand, fact: fact, bad: bad)
            case "in":
                if fact.kind == .address {
                    let text = try operand.string("'in'")
                    let spec: TargetSpec
                    do { spec = try TargetSpec.parse(text) } catch {
                        throw operand.error(
                            "invalid network '\(printable(text))' for 'address'; expected an address, CIDR or range")
                    }
                    if case .hostname = spec {
                        throw operand.error(
                            "invalid network '\(printable(text))' for 'address'; expected an address, CIDR or range")
                    }
                    return .inNetwork(AddressRange(spec))
                }
                let items = try operand.stringList("'in'")
                return fact.kind == .number ? .numberIn(try items.map { try number($0, operand) }) : .oneOf(items)
            case "below": return .below(try number(try operand.string("'below'"), operand))
            case "above": return .above(try number(try operand.string("'above'"), operand))
            case "at-least": return .atLeast(try number(try operand.string("'at-least'"), operand))
            case "at-most": return .atMost(try number(try operand.string("'at-most'"), operand))
            case "regex":
                return .regex(try TextPattern.load(try operand.string("'regex'"), at: operand))
            case "contains": return .contains(try operand.string("'contains'"))
            case "lacks": return .lacks(try operand.string("'lacks'"))
            case "contains-any": return .containsAny(try operand.stringList("'contains-any'"))
            case "empty": return .empty(try operand.bool("'empty'"))
            default: throw bad("'\(op)'")
            }
        }
    }

    /// A bare value: equality for texts, numbers and flags; "contains" for lists.
    private static func shorthand(
        _ text: String, node: YAMLNode, fact: Fact,
        bad: (String) -> MailPortError
    ) throws -> Condition {
        switch fact.kind {
        case .text: return .equals(.text(text))
        case .number: return .equals(.number(try number(text, node)))
        case .flag: return .equals(.flag(try node.bool("the value of '\(fact.name)'")))
        case .list, .numbers: return .contains(text)
        case .address:
            guard let address = IPAddress(text) else { throw bad("'\(printable(text))'") }
            return .inNetwork(AddressRange(.address(address)))
        }
    }

    private static func number(_ text: String, _ node: YAMLNode) throws -> Int {
        guard let number = Int(text) else {
            throw node.error("invalid number '\(printable(text))'; expected a whole number")
        }
        return number
    }
}
