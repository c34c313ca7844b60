import MailPortPattern
import Testing

/// A pattern the engine must refuse, the kind of refusal, and the start of its message.
struct Refusal: Sendable, CustomTestStringConvertible {
    var pattern: String
    var kind: PatternError.Kind
    var message: String
    var position: Int?

    init(_ pattern: String, _ kind: PatternError.Kind, _ message: String, at position: Int? = nil) {
        self.pattern = pattern
        self.kind = kind
        self.message = message
        self.position = position
    }

    var testDescription: String { pattern.count > 40 ? String(pattern.prefix(40)) + "…" : pattern }
}

let refusals: [Refusal] = [
    // What needs backtracking.
    Refusal(
        #"(a)\1"#, .unsupported,
        "backreferences (\\1, \\k<name>, \\g{…}) are not supported: patterns run in linear time", at: 4),
    Refusal(#"(?<x>a)\k<x>"#, .unsupported, "backreferences", at: 8),
    Refusal(#"(a)\g{1}"#, .unsupported, "backreferences"),
    Refusal("(?P<x>a)(?P=x)", .unsupported, "backreferences ((?P=name))"),
    Refusal("a(?=b)", .unsupported, "lookahead ((?=…), (?!…)) is not supported: patterns run in linear time", at: 2),
    Refusal("a(?!b)", .unsupported, "lookahead"),
    Refusal(
        "(?<=a)b", .unsupported, "lookbehind ((?<=…), (?<!…)) is not supported: patterns run in linear time", at: 1),
    Refusal("(?<!a)b", .unsupported, "lookbehind"),
    Refusal("(?>a+)b", .unsupported, "atomic groups ((?>…)) are not supported: patterns run in linear time"),
    Refusal(
        "a*+b", .unsupported, "possessive quantifiers (a*+, a++, a?+) are not supported: patterns run in linear time",
        at: 2),
    Refusal("a++", .unsupported, "possessive quantifiers"),
    Refusal("a{2}+", .unsupported, "possessive quantifiers"),
    Refusal("(a)(?1)", .unsupported, "recursion and subroutine calls"),
    Refusal("(?R)", .unsupported, "recursion and subroutine calls"),
    Refusal("(?(1)a|b)", .unsupported, "conditionals"),
    Refusal("(*FAIL)", .unsupported, "backtracking verbs"),
    // What this engine does not offer.
    Refusal(#"\p{L}"#, .unsupported, "Unicode properties (\\p{…}) are not supported"),
    Refusal(#"a\Kb"#, .unsupported, "\\K (reset the match start) is not supported"),
    Refusal(#"\X"#, .unsupported, "the escape \\X is not supported"),
    Refusal("(?x) a b", .unsupported, "the flag 'x' is not supported; expected i, m or s", at: 3),
    Refusal("(?|a)", .unsupported, "branch reset groups"),
    Refusal("[a-z&&[^x]]", .unsupported, "class set operations"),
    Refusal("[a[b]]", .unsupported, "nested classes"),
    Refusal(#"\012"#, .unsupported, "octal escapes"),
    // Malformed.
    Refusal("Exim (4", .syntax, "an unclosed group '('; expected ')'", at: 6),
    Refusal("a)", .syntax, "an unmatched ')'", at: 2),
    Refusal("[abc", .syntax, "an unclosed class '['; expected ']'", at: 1),
    Refusal("[z-a]", .syntax, "a range out of order in a class"),
    Refusal("*a", .syntax, "nothing to repeat before '*'", at: 1),
    Refusal("a|+", .syntax, "nothing to repeat before '+'"),
    Refusal("a**", .syntax, "a quantifier follows another quantifier"),
    Refusal("a{3,2}", .syntax, "a counted repetition {3,2} whose minimum exceeds its maximum"),
    Refusal("ab\\", .syntax, "a trailing backslash"),
    Refusal(#"\x{110000}"#, .syntax, "an invalid \\x escape"),
    Refusal("[[:alfa:]]", .syntax, "an unknown POSIX class"),
    Refusal("(?<1x>a)", .syntax, "an invalid group name"),
    // Limits.
    Refusal(
        String(repeating: "a", count: Pattern.maxLength + 1), .tooLarge,
        "a pattern of 1001 characters is too long; expected at most 1000"),
    Refusal("a{1001}", .tooLarge, "a counted repetition of 1001; expected at most 1000"),
    Refusal("(a{1000}){1000}", .tooLarge, "the pattern compiles to more than 5000 instructions"),
    Refusal(
        #"[^\n]{0,1000}[^\n]{0,1000}[^\n]{0,1000}[^\n]{0,1000}[^\n]{0,1000}x"#, .tooLarge,
        "the pattern compiles to more than"),
    Refusal(
        String(repeating: "(", count: 65) + String(repeating: ")", count: 65), .tooLarge,
        "groups nested more than 64 deep"),
]

@Suite("Pattern refusals")
struct PatternRefusalTests {
    @Test(
        "constructs that need backtracking, malformed patterns and oversized ones are refused, named",
        arguments: refusals)
    func refuses(_ refusal: Refusal) {
        #expect {
            _ = try Pattern(refusal.pattern)
        } throws: { error in
            guard let error = error as? PatternError else { return false }
            #expect(error.kind == refusal.kind, "\(error)")
            #expect(error.message.hasPrefix(refusal.message), "got: \(error.message)")
            if let position = refusal.position { #expect(error.position == position, "\(error)") }
            return true
        }
    }

    @Test("a refusal reads as one line with its position")
    func description() {
        #expect(throws: PatternError.self) { try Pattern(#"(a)\1"#) }
        do {
            _ = try Pattern(#"(a)\1"#)
        } catch {
            #expect(
                error.description
                    == #"backreferences (\1, \k<name>, \g{…}) are not supported: patterns run in linear time (at character 4)"#
            )
        }
    }
}
