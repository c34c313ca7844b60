import MailPortPattern
import Testing

/// A pattern, a text, and the match a backtracking engine (PCRE, Swift Regex) reports: nil for none.
struct MatchCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    var text: String
    var expected: String?

    init(_ pattern: String, _ text: String, _ expected: String?) {
        self.pattern = pattern
        self.text = text
        self.expected = expected
    }

    var testDescription: String { "\(pattern) on \(text.prefix(40).debugDescription)" }
}

let matchCases: [MatchCase] = [
    // Literals and the unanchored search.
    MatchCase("Exim", "220 mx ESMTP Exim 4.96", "Exim"),
    MatchCase("exim", "220 mx ESMTP Exim 4.96", nil),
    MatchCase("", "anything", ""),
    MatchCase("abc", "ababc", "abc"),
    MatchCase("a.c", "a\nc abc", "abc"),
    MatchCase(#"4\.9"#, "4x9 4.9", "4.9"),
    MatchCase(#"\Q1.2*\E"#, "112* 1.2*", "1.2*"),
    MatchCase("a{", "a{", "a{"),
    MatchCase("x{a}", "x{a}", "x{a}"),
    MatchCase("é", "café", "é"),
    MatchCase(#"\x41\u{42}\x{43}"#, "ABC", "ABC"),
    MatchCase(#"\t\d"#, "a\t5", "\t5"),
    // Classes.
    MatchCase("[a-c]+", "xxbcaz", "bca"),
    MatchCase("[^a-c]+", "abxyzc", "xyz"),
    MatchCase("[]a]+", "x]a]", "]a]"),
    MatchCase("[a-]+", "x-a-", "-a-"),
    MatchCase(#"[\d.]+"#, "v 10.2.3 ", "10.2.3"),
    MatchCase(#"[\w-]+"#, "  mail-01 ", "mail-01"),
    MatchCase(#"[^\s]+"#, "  ab c", "ab"),
    MatchCase("[[:digit:]]+", "ab123c", "123"),
    MatchCase("[[:^alpha:]]+", "ab12c", "12"),
    MatchCase(#"\d+"#, "abc 0123 x", "0123"),
    MatchCase(#"\D+"#, "12ab3", "ab"),
    MatchCase(#"\w+"#, "  foo_bar9!", "foo_bar9"),
    MatchCase(#"\W+"#, "ab, c", ", "),
    MatchCase(#"\s+"#, "a \t\r\nb", " \t\r\n"),
    MatchCase(#"\S+"#, "  x1 ", "x1"),
    MatchCase(".+", "line one\nline two", "line one"),
    MatchCase("(?s).+", "one\ntwo", "one\ntwo"),
    // Anchors and boundaries.
    MatchCase("^220", "220 ready", "220"),
    MatchCase("^220", "x 220", nil),
    MatchCase("ready$", "220 ready", "ready"),
    MatchCase("ready$", "220 ready\n", "ready"),
    MatchCase("ready$", "ready now", nil),
    MatchCase(#"ready\z"#, "ready\n", nil),
    MatchCase(#"\Aready"#, "ready", "ready"),
    MatchCase("(?m)^two$", "one\ntwo\nthree", "two"),
    MatchCase("^two$", "one\ntwo\nthree", nil),
    MatchCase(#"\bexim\b"#, "eximx exim", "exim"),
    MatchCase(#"\bexim\b"#, "eximx", nil),
    MatchCase(#"\Bim\B"#, "im exim eximo", "im"),
    MatchCase("^$", "", ""),
    MatchCase("^", "abc", ""),
    // Alternation and groups.
    MatchCase("cat|dog", "hotdog", "dog"),
    MatchCase("a|ab", "ab", "a"),
    MatchCase("ab|a", "ab", "ab"),
    MatchCase("(?:post|ex)fix", "exfix postfix", "exfix"),
    MatchCase("(?<product>exim|postfix) (\\d)", "postfix 3", "postfix 3"),
    MatchCase("gr(a|e)y", "grey", "grey"),
    MatchCase("x(?#a comment)y", "xy", "xy"),
    MatchCase("(|a)b", "ab", "ab"),
    // Quantifiers, greedy and lazy, counted.
    MatchCase("a*", "aaa", "aaa"),
    MatchCase("a*?", "aaa", ""),
    MatchCase("a+?", "aaa", "a"),
    MatchCase("a??b", "ab", "ab"),
    MatchCase("<.*>", "<a><b>", "<a><b>"),
    MatchCase("<.*?>", "<a><b>", "<a>"),
    MatchCase("a{3}", "aa aaaa", "aaa"),
    MatchCase("a{2,}", "a aaaaa", "aaaaa"),
    MatchCase("a{2,3}", "aaaaa", "aaa"),
    MatchCase("a{2,3}?", "aaaaa", "aa"),
    MatchCase("a{,2}b", "aaab", "aab"),
    MatchCase("a{0}b", "ab", "b"),
    MatchCase("(ab){2}", "ababab", "abab"),
    MatchCase(#"\d{1,3}(\.\d{1,3}){3}"#, "from 192.0.2.10:25", "192.0.2.10"),
    MatchCase("(a|b)*c", "abababc", "abababc"),
    MatchCase("x(a*)*y", "xaaay", "xaaay"),
    // Case-insensitive.
    MatchCase("(?i)exim", "220 EXIM", "EXIM"),
    MatchCase("(?i)[a-c]+", "xABCz", "ABC"),
    MatchCase("(?i)[^a]", "Ab", "b"),
    MatchCase("(?i)É", "café", "é"),
    MatchCase("(?i:ex)IM", "exIM exim", "exIM"),
    MatchCase("a(?i)b", "aB AB", "aB"),
    MatchCase("(?i)a(?-i)b", "Ab AB", "Ab"),
    MatchCase("((?i)a)b", "AB Ab", "Ab"),
    // The built-in banner patterns (Rules/rules/service.yaml) and the evidence they give.
    MatchCase(
        #"(?i)\b(exim|postfix|sendmail|dovecot)\b[^\n]{0,24}?\d+\.\d+(\.\d+)*"#,
        "127.77.0.3 ESMTP Sendmail 8.12.11/8.12.11 MailPort demo lab", "Sendmail 8.12.11"),
    MatchCase(
        #"(?i)\b(exim|postfix|sendmail|dovecot)\b[^\n]{0,24}?\d+\.\d+(\.\d+)*"#,
        "220 mx.example.org ESMTP Postfix (Debian)", nil),
    MatchCase(#"(?i)\bversion:?\s*\d+\.\d+"#, "* OK Version: 2.3 ready", "Version: 2.3"),
    MatchCase("(?i)sha1", "sha1WithRSAEncryption", "sha1"),
]

@Suite("Pattern matching")
struct PatternMatchingTests {
    @Test("matches as a backtracking engine would, in linear time", arguments: matchCases)
    func matching(_ example: MatchCase) throws {
        let pattern = try Pattern(example.pattern)
        #expect(try pattern.firstMatch(in: example.text)?.text == example.expected)
        #expect(try pattern.matches(example.text) == (example.expected != nil))
    }

    @Test("the match range counts Unicode scalars")
    func range() throws {
        #expect(try Pattern("b+").firstMatch(in: "äbb")?.scalarRange == 1..<3)
    }
}
