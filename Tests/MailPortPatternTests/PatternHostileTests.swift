import MailPortPattern
import Testing

/// Patterns that take exponential time in a backtracking engine, over texts built to trigger it. Time is checked
/// through the engine's step count, which a search is bounded by (≤ 2 × program size × (length + 1)): a wall-clock
/// bound would depend on the machine.
struct HostileCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    /// A unit repeated to the length, then a tail that makes the match fail at the last moment.
    var unit: String
    var tail: String
    var matches: Bool

    var testDescription: String { "\(pattern) over \(unit.debugDescription)… + \(tail.debugDescription)" }
}

let hostileCases: [HostileCase] = [
    HostileCase(pattern: "(a+)+$", unit: "a", tail: "!", matches: false),
    HostileCase(pattern: "(a+)+$", unit: "a", tail: "", matches: true),
    HostileCase(pattern: "(a|a)*b", unit: "a", tail: "", matches: false),
    HostileCase(pattern: "(a|aa)+$", unit: "a", tail: "!", matches: false),
    HostileCase(pattern: "(.*)*x", unit: "a", tail: "", matches: false),
    HostileCase(pattern: "((a*)*)*$", unit: "a", tail: "b", matches: true),
    HostileCase(pattern: "^((a*)*)*$", unit: "a", tail: "b", matches: false),
    HostileCase(pattern: "(a*)*b", unit: "a", tail: "", matches: false),
    HostileCase(pattern: #"^(\w+\s?)+$"#, unit: "mail ", tail: "!", matches: false),
    HostileCase(pattern: #"(\d+)*\.x"#, unit: "1", tail: ".", matches: false),
    HostileCase(pattern: "(x+x+)+y", unit: "x", tail: "", matches: false),
    HostileCase(pattern: "(?i)(a|A)+$", unit: "aA", tail: "!", matches: false),
    HostileCase(pattern: #"(?s)(.*a){20}"#, unit: "a", tail: "", matches: true),
    HostileCase(
        pattern: #"(?i)\b(exim|postfix|sendmail|dovecot)\b[^\n]{0,24}?\d+\.\d+(\.\d+)*"#, unit: "exim 1", tail: ".",
        matches: false),
]

@Suite("Hostile patterns")
struct PatternHostileTests {
    @Test("exponential-time patterns finish in steps linear in the text", arguments: hostileCases, [2_000, 20_000])
    func linear(_ example: HostileCase, length: Int) throws {
        let pattern = try Pattern(example.pattern)
        let text = String(repeating: example.unit, count: length / example.unit.count) + example.tail
        let count = text.unicodeScalars.count
        let (match, steps) = try pattern.search(text)
        #expect((match != nil) == example.matches)
        #expect(
            steps <= 2 * pattern.programSize * (count + 1),
            "\(steps) steps, program \(pattern.programSize), text \(count)")
    }

    @Test("the steps of (a+)+$ grow in proportion to the text")
    func proportional() throws {
        let pattern = try Pattern("(a+)+$")
        let short = try pattern.search(String(repeating: "a", count: 2_000) + "!").steps
        let long = try pattern.search(String(repeating: "a", count: 20_000) + "!").steps
        #expect(short <= 20 * 2_001)
        #expect(long <= 20 * 20_001)
        // 10 times the text: 10 times the steps, give or take the constant (a backtracking engine would need 2^n).
        #expect(Double(long) / Double(short) < 11)
    }

    @Test("a search past its step limit ends in an error, not a hang")
    func stepLimit() throws {
        let pattern = try Pattern(#"[^\n]{0,200}x"#)
        let text = String(repeating: "a", count: 2_000)
        #expect(try pattern.matches(text) == false)
        #expect {
            _ = try pattern.firstMatch(in: text, stepLimit: 10_000)
        } throws: { error in
            guard let error = error as? PatternError else { return false }
            return error.kind == .stepLimit
                && error.message
                    == "the search gave up after 10000 steps on a text of 2000 characters; expected a shorter text or a smaller pattern"
        }
    }

    @Test("a pattern anchored at the start tries one start only")
    func anchored() throws {
        let text = String(repeating: "a", count: 100_000)
        let steps = try Pattern("^b").search(text).steps
        #expect(steps < 10)
    }
}
