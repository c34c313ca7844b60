import Foundation
import MailPortCore
import Yams

/// YAML read strictly, for files a person writes (rules, profiles, waivers, later the config file): every node
/// remembers its file and line, so each mistake is reported as `FILE:LINE: what is wrong; expected what`.
/// Unknown keys and duplicate keys are errors, never ignored (a misspelt `severty:` must not pass silently).
public struct YAMLNode: Sendable {
    public enum Value: Sendable {
        case scalar(String)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    public let value: Value
    /// Where the node starts (1-based line), for messages.
    public let file: String
    public let line: Int

    /// Parses one YAML document. An empty file is an empty mapping.
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        // Refused before Yams composes the document: it expands aliases while composing and hashes mapping keys to
        // find duplicates, so an alias used as a key (`[?*big]`) costs time exponential in the nesting before
        // `convert` could refuse the anchor (a 503-byte input took 5 s). The text is scanned for an anchor that an
        // alias names, both where a node may start.
        if let line = anchorUsedByAlias(in: text) {
            throw error(
                file: file, line: line.line,
                "a YAML anchor '&\(printable(line.name, limit: 40))' (anchors and aliases can expand a small file without bound); expected plain values written out"
            )
        }
        let root: Node?
        // The parser stays alive while the tree is converted: Yams keeps a node's anchor only as long as its parser.
        let parser: Parser
        do {
            parser = try Parser(yaml: text)
            root = try parser.singleRoot()
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            let names = duplicates.map { "'\(printable($0))'" }.joined(separator: ", ")
            throw YAMLNode.error(file: file, line: context.mark.line, "duplicate key \(names); expected each key once")
        } catch let error as YamlError {
            throw YAMLNode.error(
                file: file, line: Self.line(of: error),
                "not valid YAML (\(Self.problem(of: error))); expected a YAML document")
        }
        guard let root else { return YAMLNode(value: .mapping([]), file: file, line: 1) }
        return try withExtendedLifetime(parser) { try convert(root, file: file, depth: 0) }
    }

    /// Reads and parses a file; an unreadable, oversized or non-UTF-8 file is an input error naming it.
    public static func load(path: String) throws -> YAMLNode {
        try parse(try readText(path: path, what: "YAML file"), file: path)
    }

    /// A file a person wrote, as UTF-8 text of at most `BoundedFile.yamlLimit` bytes (no rules, waivers or config
    /// file comes near it; a larger one is a mistake or an attack).
    public static func readText(path: String, what: String) throws -> String {
        switch BoundedFile.read(path, limit: BoundedFile.yamlLimit) {
        case .failure(let failure):
            throw MailPortError.invalidInput(
                "\(BoundedFile.describe(failure, what: "", path: path)); expected a readable \(what)")
        case .success(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw MailPortError.invalidInput("'\(printable(path))' is not UTF-8 text; expected a \(what)")
            }
            return text
        }
    }

    /// The first `&name` that some `*name` refers to, both where a YAML node can start (after a line's indentation,
    /// `- `, `: `, `? `, `[`, `{` or `,`), with its line. Text inside quotes is not told apart: a document that writes
    /// both `&x` and `*x` at such places in quoted text is refused too, which no rules, waivers or config file needs.
    static func anchorUsedByAlias(in text: String) -> (name: String, line: Int)? {
        var anchors: [(name: String, line: Int)] = []
        var aliases = Set<String>()
        var line = 1
        var previous: UInt8 = UInt8(ascii: "\n")
        let bytes = Array(text.utf8)
        var index = 0
        func isNameByte(_ byte: UInt8) -> Bool {
            !(byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
                || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: "[")
                || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "{") || byte == UInt8(ascii: "}"))
        }
        let nodeStarts: Set<UInt8> = Set(" \t\n[{,-:?".utf8)
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") { line += 1 }
            if (byte == UInt8(ascii: "&") || byte == UInt8(ascii: "*")) && nodeStarts.contains(previous) {
                var end = index + 1
                while end < bytes.count, isNameByte(bytes[end]) { end += 1 }
                if end > index + 1 {
                    let name = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
                    if byte == UInt8(ascii: "&") { anchors.append((name, line)) } else { aliases.insert(name) }
                }
            }
            previous = byte
            index += 1
        }
        return anchors.first { aliases.contains($0.name) }
    }

    private static func convert(_ node: Node, file: String, depth: Int) throws -> YAMLNode {
        let line = node.mark?.line ?? 1
        // An alias repeats the anchored node wherever it is used: ten levels of aliases to aliases turn a 1 KB file
        // into billions of nodes. An alias can only name an anchor, and the anchor comes first in the document, so
        // refusing every anchored node refuses every alias before a single one is expanded.
        if let anchor = node.anchor {
            throw error(
                file: file, line: line,
                "a YAML anchor '&\(printable(anchor.rawValue, limit: 40))' (anchors and aliases can expand a small file without bound); expected plain values written out"
            )
        }
        // Nesting this deep is never a rule, waiver or config file.
        guard depth < 64 else {
            throw error(file: file, line: line, "nesting deeper than 64 levels; expected a flatter document")
        }
        switch node {
        case .scalar(let scalar):
            return YAMLNode(value: .scalar(scalar.string), file: file, line: line)
        case .sequence(let sequence):
            return YAMLNode(
                value: .sequence(try sequence.map { try convert($0, file: file, depth: depth + 1) }),
                file: file, line: line)
        case .mapping(let mapping):
            // Duplicate keys never get here: Yams rejects them while composing (see `parse`).
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            for (key, value) in mapping {
                let keyNode = try convert(key, file: file, depth: depth + 1)
                guard case .scalar = keyNode.value else {
                    throw error(file: file, line: keyNode.line, "a mapping key that is not text; expected plain keys")
                }
                pairs.append((keyNode, try convert(value, file: file, depth: depth + 1)))
            }
            return YAMLNode(value: .mapping(pairs), file: file, line: line)
        case .alias:
            throw error(file: file, line: line, "a YAML alias; expected plain values")
        }
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 1
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        case .reader(let problem, _, _, _): return problem
        default: return "\(error)"
        }
    }

    /// An input error (exit status 2) pointing at a place in a file.
    public static func error(file: String, line: Int, _ message: String) -> MailPortError {
        MailPortError.invalidInput("\(printable(file)):\(line): \(message)")
    }

    /// An input error pointing at this node.
    public func error(_ message: String) -> MailPortError {
        YAMLNode.error(file: file, line: line, message)
    }

    // MARK: Typed access

    /// What a node is, for "expected a list, found text" messages.
    private var kindName: String {
        switch value {
        case .scalar: return "a single value"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// This node as a mapping whose keys must all be in `allowed` and must include `required`. `what` names the
    /// thing in messages ("rule MP-PORT-25", "waiver").
    public func mapping(_ what: String, allowed: [String], required: [String] = []) throws -> YAMLMapping {
        guard case .mapping(let pairs) = value else {
            throw error("\(what) is \(kindName); expected a mapping with keys \(allowed.joined(separator: ", "))")
        }
        for pair in pairs {
            guard case .scalar(let key) = pair.key.value, allowed.contains(key) else {
                let key = pair.key.scalarText ?? "?"
                throw pair.key.error(
                    "unknown key '\(printable(key))' in \(what); expected one of: \(allowed.joined(separator: ", "))")
            }
        }
        let mapping = YAMLMapping(node: self, pairs: pairs)
        for key in required where mapping[key] == nil {
            throw error("\(what) has no '\(key)'; expected \(required.map { "'\($0)'" }.joined(separator: ", "))")
        }
        return mapping
    }

    /// This node as a mapping with free-form keys (parameters, severity overrides), in file order.
    public func pairs(_ what: String) throws -> [(key: String, keyNode: YAMLNode, value: YAMLNode)] {
        guard case .mapping(let pairs) = value else { throw error("\(what) is \(kindName); expected a mapping") }
        return pairs.map { (key: $0.key.scalarText ?? "", keyNode: $0.key, value: $0.value) }
    }

    public var scalarText: String? {
        if case .scalar(let text) = value { return text }
        return nil
    }

    public func string(_ what: String) throws -> String {
        guard let text = scalarText else { throw error("\(what) is \(kindName); expected text") }
        return text
    }

    public func nonEmptyString(_ what: String) throws -> String {
        let text = try string(what).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw error("\(what) is empty; expected text") }
        return text
    }

    public func int(_ what: String, in range: ClosedRange<Int>) throws -> Int {
        guard let text = scalarText, let number = Int(text), range.contains(number) else {
            throw error(
                "invalid \(what) '\(printable(scalarText ?? kindName))'; expected a whole number from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return number
    }

    public func bool(_ what: String) throws -> Bool {
        switch scalarText?.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw error("invalid \(what) '\(printable(scalarText ?? kindName))'; expected true or false")
        }
    }

    public func list(_ what: String) throws -> [YAMLNode] {
        guard case .sequence(let items) = value else { throw error("\(what) is \(kindName); expected a list") }
        return items
    }

    /// A list of texts; a single text is taken as a list of one.
    public func stringList(_ what: String) throws -> [String] {
        if let text = scalarText { return [text] }
        return try list(what).map { try $0.string("an entry of \(what)") }
    }

    public func severity(_ what: String) throws -> Severity {
        guard let text = scalarText, let severity = Severity(rawValue: text.lowercased()) else {
            throw error("invalid \(what) '\(printable(scalarText ?? kindName))'; expected \(Severity.expectedNames)")
        }
        return severity
    }
}

/// A checked mapping: only allowed keys, each once.
public struct YAMLMapping: Sendable {
    public let node: YAMLNode
    let pairs: [(key: YAMLNode, value: YAMLNode)]

    public subscript(key: String) -> YAMLNode? {
        pairs.first { $0.key.scalarText == key }?.value
    }

    public var keys: [String] { pairs.compactMap(\.key.scalarText) }
}
