/// Reads a pattern into a `Node`: the syntax of Swift Regex and PCRE for everything that can run in linear time,
/// and a refusal naming the construct for the rest (see `Rules/README.md`, "Regular expressions").
struct Parser {
    private struct Flags {
        var caseInsensitive = false
        var multiline = false
        var dotAll = false
    }

    /// What one item inside `[…]` stands for.
    private enum ClassItem {
        case scalar(UInt32)
        case set(ScalarSet)
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var flags = Flags()
    private var depth = 0

    static func parse(_ source: String) throws(PatternError) -> Node {
        var parser = Parser(scalars: Array(source.unicodeScalars))
        guard parser.scalars.count <= Pattern.maxLength else {
            throw PatternError(
                .tooLarge,
                "a pattern of \(parser.scalars.count) characters is too long; expected at most \(Pattern.maxLength)")
        }
        let node = try parser.parseAlternation()
        if !parser.atEnd {
            // parseAlternation stops only at the end or at a ')' no group opened.
            throw PatternError(.syntax, "an unmatched ')'", at: parser.index + 1)
        }
        return node
    }

    private init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    // MARK: Structure

    private mutating func parseAlternation() throws(PatternError) -> Node {
        var branches = [try parseConcatenation()]
        while peek() == "|" {
            index += 1
            branches.append(try parseConcatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseConcatenation() throws(PatternError) -> Node {
        var parts: [Node] = []
        while let next = peek(), next != "|", next != ")" {
            let start = index
            // Flag settings and comments stand for nothing, and nothing may repeat them.
            guard let atom = try parseAtom() else { continue }
            parts.append(try parseQuantifier(after: atom, at: start))
        }
        switch parts.count {
        case 0: return .empty
        case 1: return parts[0]
        default: return .concatenation(parts)
        }
    }

    private mutating func parseAtom() throws(PatternError) -> Node? {
        let start = index
        let scalar = scalars[index]
        switch scalar {
        case "(":
            return try parseGroup()
        case "[":
            return try parseClass()
        case ".":
            index += 1
            return .scalars(flags.dotAll ? .everything : ScalarSet.lineBreaks.inverted())
        case "^":
            index += 1
            return .assertion(flags.multiline ? .lineStart : .textStart)
        case "$":
            index += 1
            return .assertion(flags.multiline ? .lineEnd : .textEndOrFinalNewline)
        case "\\":
            return try parseEscape()
        case "*", "+", "?":
            throw PatternError(
                .syntax, "nothing to repeat before '\(scalar)'; expected a character or group first", at: start + 1)
        case "{" where quantifierAhead():
            throw PatternError(
                .syntax, "nothing to repeat before '{'; expected a character or group first (write \\{ for a brace)",
                at: start + 1)
        default:
            index += 1
            return literal(scalar.value)
        }
    }

    private mutating func parseGroup() throws(PatternError) -> Node? {
        let start = index
        // Restored when the group ends, so `(?i)` inside it or `(?i:…)` hold for the group only.
        let outerFlags = flags
        index += 1
        if peek() == "*" {
            throw unsupported(
                "backtracking verbs and options ((*…)) are not supported: patterns run in linear time", at: start)
        }
        if peek() == "?" {
            index += 1
            switch peek() {
            case ":":
                index += 1
            case "=", "!":
                throw unsupported("lookahead ((?=…), (?!…)) is not supported: patterns run in linear time", at: start)
            case "<" where peek(1) == "=" || peek(1) == "!":
                throw unsupported(
                    "lookbehind ((?<=…), (?<!…)) is not supported: patterns run in linear time", at: start)
            case "<", "'":
                try skipGroupName(closing: peek() == "<" ? ">" : "'", groupStart: start)
            case "P" where peek(1) == "<":
                index += 1
                try skipGroupName(closing: ">", groupStart: start)
            case "P" where peek(1) == "=":
                throw unsupported(
                    "backreferences ((?P=name)) are not supported: patterns run in linear time", at: start)
            case ">":
                throw unsupported("atomic groups ((?>…)) are not supported: patterns run in linear time", at: start)
            case "|":
                throw unsupported("branch reset groups ((?|…)) are not supported", at: start)
            case "(":
                throw unsupported("conditionals ((?(…)…)) are not supported: patterns run in linear time", at: start)
            case "#":
                try skipComment(groupStart: start)
                return nil
            case let next?
            where next == "R" || next == "&" || next == "+" || next == "P"
                || ("0"..."9").contains(next) || (next == "-" && peek(1).map { ("0"..."9").contains($0) } == true):
                throw unsupported(
                    "recursion and subroutine calls ((?R), (?1), (?&name)) are not supported: patterns run in linear time",
                    at: start)
            default:
                // Flags: (?i) for the rest of the enclosing group, (?i:…) for a group of its own.
                if try parseFlags(groupStart: start) { return nil }
            }
        }
        depth += 1
        guard depth <= Pattern.maxNesting else {
            throw PatternError(.tooLarge, "groups nested more than \(Pattern.maxNesting) deep", at: start + 1)
        }
        let body = try parseAlternation()
        guard peek() == ")" else {
            throw PatternError(.syntax, "an unclosed group '('; expected ')'", at: start + 1)
        }
        index += 1
        flags = outerFlags
        depth -= 1
        return body
    }

    /// After `(?`: letters to set, optionally `-` and letters to clear, then `)` (true: the flags hold until the
    /// enclosing group ends) or `:` (false: a group follows, with the flags for itself only; parseGroup restores the
    /// outer flags at its end).
    private mutating func parseFlags(groupStart: Int) throws(PatternError) -> Bool {
        var setting = true
        var changed = flags
        while let next = peek() {
            index += 1
            switch next {
            case "i": changed.caseInsensitive = setting
            case "m": changed.multiline = setting
            case "s": changed.dotAll = setting
            case "-" where setting: setting = false
            case ")":
                flags = changed
                return true
            case ":":
                flags = changed
                return false
            case let letter where letter.properties.isAlphabetic || letter == "^":
                throw unsupported("the flag '\(letter)' is not supported; expected i, m or s", at: index - 1)
            default:
                throw unsupported("the group syntax '(?\(next)' is not supported", at: groupStart)
            }
        }
        throw PatternError(.syntax, "an unclosed group '('; expected ')'", at: groupStart + 1)
    }

    private mutating func skipGroupName(closing: Unicode.Scalar, groupStart: Int) throws(PatternError) {
        index += 1
        let nameStart = index
        while let next = peek(), next != closing {
            let digit = ("0"..."9").contains(next)
            guard next == "_" || (next.isASCII && next.properties.isAlphabetic) || (digit && index > nameStart) else {
                throw PatternError(.syntax, "an invalid group name; expected letters, digits and _", at: groupStart + 1)
            }
            index += 1
        }
        guard peek() == closing, index > nameStart else {
            throw PatternError(.syntax, "an unclosed group name; expected a name and '\(closing)'", at: groupStart + 1)
        }
        index += 1
    }

    private mutating func skipComment(groupStart: Int) throws(PatternError) {
        while let next = peek() {
            index += 1
            if next == ")" { return }
        }
        throw PatternError(.syntax, "an unclosed comment '(?#'; expected ')'", at: groupStart + 1)
    }

    // MARK: Quantifiers

    private mutating func parseQuantifier(after atom: Node, at atomStart: Int) throws(PatternError) -> Node {
        let start = index
        guard let (min, max) = try readQuantifier() else { return atom }
        var lazy = false
        if peek() == "?" {
            lazy = true
            index += 1
        } else if peek() == "+" {
            throw unsupported(
                "possessive quantifiers (a*+, a++, a?+) are not supported: patterns run in linear time, so write the quantifier without the +",
                at: start)
        }
        if let next = peek(), next == "*" || next == "+" || next == "?" || (next == "{" && quantifierAhead()) {
            throw PatternError(
                .syntax, "a quantifier follows another quantifier; expected a group around the first, as in (a*)*",
                at: index + 1)
        }
        if case .empty = atom { return atom }
        return .repetition(atom, min: min, max: max, lazy: lazy)
    }

    /// `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, `{,m}`; nil (nothing consumed) when none is next.
    private mutating func readQuantifier() throws(PatternError) -> (Int, Int?)? {
        switch peek() {
        case "*":
            index += 1
            return (0, nil)
        case "+":
            index += 1
            return (1, nil)
        case "?":
            index += 1
            return (0, 1)
        case "{" where quantifierAhead():
            let start = index
            index += 1
            let low = readNumber()
            var high = low
            if peek() == "," {
                index += 1
                high = readNumber()
            }
            index += 1  // the closing brace, checked by quantifierAhead
            let min = low ?? 0
            for bound in [min, high ?? 0] where bound > Pattern.maxRepetition {
                throw PatternError(
                    .tooLarge, "a counted repetition of \(bound); expected at most \(Pattern.maxRepetition)",
                    at: start + 1)
            }
            if let high, high < min {
                throw PatternError(
                    .syntax, "a counted repetition {\(min),\(high)} whose minimum exceeds its maximum", at: start + 1)
            }
            return (min, high)
        default:
            return nil
        }
    }

    /// Whether `{` at the current position opens a counted repetition (otherwise it is a literal brace, as in PCRE).
    private func quantifierAhead() -> Bool {
        var cursor = index + 1
        var digits = 0
        var comma = false
        while cursor < scalars.count {
            let scalar = scalars[cursor]
            if ("0"..."9").contains(scalar) {
                digits += 1
            } else if scalar == ",", !comma {
                comma = true
            } else {
                return scalar == "}" && digits > 0
            }
            cursor += 1
        }
        return false
    }

    /// Digits as a number, saturating (the caller compares with the limit).
    private mutating func readNumber() -> Int? {
        var value: Int?
        while let next = peek(), ("0"..."9").contains(next) {
            value = Swift.min((value ?? 0) * 10 + Int(next.value - 0x30), 1_000_000)
            index += 1
        }
        return value
    }

    // MARK: Classes

    private mutating func parseClass() throws(PatternError) -> Node {
        let start = index
        index += 1
        var negated = false
        if peek() == "^" {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var sets: [ScalarSet] = []
        var first = true
        while true {
            guard let next = peek() else {
                throw PatternError(.syntax, "an unclosed class '['; expected ']'", at: start + 1)
            }
            if next == "]" && !first {
                index += 1
                break
            }
            first = false
            if looking(at: "&&") || looking(at: "--") || looking(at: "~~") {
                throw unsupported(
                    "class set operations (&&, --, ~~) are not supported; write the class out (escape a literal - as \\-)",
                    at: index)
            }
            let itemStart = index
            let item = try parseClassItem()
            guard case .scalar(let low) = item, peek() == "-", let after = peek(1), after != "]" else {
                switch item {
                case .scalar(let value): ranges.append(value...value)
                case .set(let set): sets.append(set)
                }
                continue
            }
            index += 1
            guard case .scalar(let high) = try parseClassItem() else {
                throw PatternError(
                    .syntax, "a range that ends in a class such as \\d; expected a character", at: itemStart + 1)
            }
            guard low <= high else {
                throw PatternError(
                    .syntax, "a range out of order in a class; expected the lower end first", at: itemStart + 1)
            }
            ranges.append(low...high)
        }
        var set = sets.reduce(ScalarSet(ranges)) { $0.union($1) }
        if flags.caseInsensitive { set = set.caseInsensitive() }
        return .scalars(negated ? set.inverted() : set)
    }

    private mutating func parseClassItem() throws(PatternError) -> ClassItem {
        let start = index
        let scalar = scalars[index]
        if scalar == "[" {
            guard looking(at: "[:") else {
                throw unsupported("nested classes ([a[b]]) are not supported; write a literal [ as \\[", at: start)
            }
            index += 2
            var name = ""
            while let next = peek(), next != ":" {
                name.unicodeScalars.append(next)
                index += 1
                guard name.unicodeScalars.count <= 8 else { break }
            }
            let negated = name.hasPrefix("^")
            guard looking(at: ":]"), let set = ScalarSet.posix[negated ? String(name.dropFirst()) : name] else {
                throw PatternError(
                    .syntax,
                    "an unknown POSIX class; expected one of: \(ScalarSet.posix.keys.sorted().joined(separator: ", "))",
                    at: start + 1)
            }
            index += 2
            return .set(negated ? set.inverted() : set)
        }
        guard scalar == "\\" else {
            index += 1
            return .scalar(scalar.value)
        }
        index += 1
        guard let escaped = peek() else { throw PatternError(.syntax, "a trailing backslash", at: start + 1) }
        if let set = Parser.classEscape(escaped) {
            index += 1
            return .set(set)
        }
        if escaped == "b" {
            index += 1
            return .scalar(0x08)
        }
        return .scalar(try parseScalarEscape(start: start))
    }

    // MARK: Escapes

    private static func classEscape(_ letter: Unicode.Scalar) -> ScalarSet? {
        switch letter {
        case "d": return .digits
        case "D": return ScalarSet.digits.inverted()
        case "w": return .word
        case "W": return ScalarSet.word.inverted()
        case "s": return .space
        case "S": return ScalarSet.space.inverted()
        default: return nil
        }
    }

    private mutating func parseEscape() throws(PatternError) -> Node? {
        let start = index
        index += 1
        guard let letter = peek() else { throw PatternError(.syntax, "a trailing backslash", at: start + 1) }
        if let set = Parser.classEscape(letter) {
            index += 1
            return .scalars(set)
        }
        let assertion: Assertion?
        switch letter {
        case "b": assertion = .wordBoundary
        case "B": assertion = .notWordBoundary
        case "A": assertion = .textStart
        case "z": assertion = .textEnd
        case "Z": assertion = .textEndOrFinalNewline
        default: assertion = nil
        }
        if let assertion {
            index += 1
            return .assertion(assertion)
        }
        switch letter {
        case "Q":
            // Quoted: literal up to \E or the end.
            index += 1
            var parts: [Node] = []
            while !atEnd && !looking(at: "\\E") {
                parts.append(literal(scalars[index].value))
                index += 1
            }
            if looking(at: "\\E") { index += 2 }
            return parts.isEmpty ? nil : parts.count == 1 ? parts[0] : .concatenation(parts)
        case "E":
            index += 1
            return nil
        default:
            return literal(try parseScalarEscape(start: start))
        }
    }

    /// An escape that stands for one scalar (`\n`, `\x41`, `\u{1F600}`, `\.`), or the refusal of what it names.
    private mutating func parseScalarEscape(start: Int) throws(PatternError) -> UInt32 {
        let letter = scalars[index]
        index += 1
        switch letter {
        case "n": return 0x0A
        case "t": return 0x09
        case "r": return 0x0D
        case "f": return 0x0C
        case "e": return 0x1B
        case "a": return 0x07
        case "0" where !(peek().map { ("0"..."7").contains($0) } ?? false): return 0
        case "x", "u":
            return try parseHexEscape(letter: letter, start: start)
        case "1"..."9", "k", "g":
            throw unsupported(
                "backreferences (\\1, \\k<name>, \\g{…}) are not supported: patterns run in linear time", at: start)
        case "0":
            throw unsupported("octal escapes (\\0nn) are not supported; write \\x{…}", at: start)
        case "p", "P":
            throw unsupported("Unicode properties (\\p{…}) are not supported; write a class such as [a-z]", at: start)
        case "K":
            throw unsupported("\\K (reset the match start) is not supported", at: start)
        default:
            if letter.isASCII && (letter.properties.isAlphabetic || ("0"..."9").contains(letter)) {
                throw unsupported("the escape \\\(letter) is not supported", at: start)
            }
            // Punctuation, spaces and anything outside ASCII stand for themselves.
            return letter.value
        }
    }

    /// `\xHH`, `\x{H…}`, `\uHHHH`, `\u{H…}`.
    private mutating func parseHexEscape(letter: Unicode.Scalar, start: Int) throws(PatternError) -> UInt32 {
        var digits = ""
        if peek() == "{" {
            index += 1
            while let next = peek(), next != "}" {
                digits.unicodeScalars.append(next)
                index += 1
                if digits.unicodeScalars.count > 8 { break }
            }
            guard peek() == "}" else {
                throw PatternError(
                    .syntax, "an unclosed \\\(letter){…}; expected hexadecimal digits and '}'", at: start + 1)
            }
            index += 1
        } else {
            let count = letter == "x" ? 2 : 4
            for _ in 0..<count {
                guard let next = peek() else { break }
                digits.unicodeScalars.append(next)
                index += 1
            }
        }
        guard !digits.isEmpty, digits.unicodeScalars.count <= 8, let value = UInt32(digits, radix: 16),
            Unicode.Scalar(value) != nil
        else {
            throw PatternError(
                .syntax, "an invalid \\\(letter) escape; expected hexadecimal digits of a Unicode scalar", at: start + 1
            )
        }
        return value
    }

    // MARK: Helpers

    private var atEnd: Bool { index >= scalars.count }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    private func looking(at text: String) -> Bool {
        var cursor = index
        for scalar in text.unicodeScalars {
            guard cursor < scalars.count, scalars[cursor] == scalar else { return false }
            cursor += 1
        }
        return true
    }

    private func literal(_ value: UInt32) -> Node {
        let set = ScalarSet.scalar(value)
        return .scalars(flags.caseInsensitive ? set.caseInsensitive() : set)
    }

    /// `start` is the 0-based index of the construct's first character.
    private func unsupported(_ message: String, at start: Int) -> PatternError {
        PatternError(.unsupported, message, at: start + 1)
    }
}
