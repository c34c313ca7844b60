import MailPortCore
import MailPortPolicy
import Testing

/// The MTA-STS and TLS-RPT records and the MTA-STS policy file, as RFC 8461 and RFC 8460 tell senders to read them.
@Suite("Transport policy records and files")
struct PolicyParserTests {
    @Test("one valid STSv1 record announces a policy; other TXT records are ignored")
    func validRecord() {
        let record = PolicyRecords.mtaSTS(
            lookup: .ok, texts: ["v=spf1 -all", "v=STSv1; id=20261201T000000;", "something else"])
        #expect(record.records == ["v=STSv1; id=20261201T000000;"])
        #expect(record.id == "20261201T000000")
        #expect(record.recordProblems.isEmpty)
        #expect(record.announced)
        let spaced = PolicyRecords.mtaSTS(lookup: .ok, texts: ["v=STSv1 ;  id=abc ; ext-1.x=value"])
        #expect(spaced.id == "abc" && spaced.recordProblems.isEmpty, "\(spaced.recordProblems)")
    }

    @Test(
        "records senders must ignore",
        arguments: [
            (["v=STSv1; id=a", "v=STSv1; id=b"], "2 TXT records begin with v=STSv1"),
            (["v=STSv1"], "no id field"),
            (["v=STSv1; id=has-dash"], "is not 1 to 32 letters and digits"),
            (["v=STSv1; id=" + String(repeating: "a", count: 33)], "is not 1 to 32 letters and digits"),
            (["v=STSv1; id=a; id=b"], "2 id fields"),
            (["v=STSv1; id=a; junk"], "'junk' is not a field"),
            (["v=STSv10; id=a"], "does not begin with the field v=STSv1"),
        ])
    func invalidRecords(texts: [String], problem: String) {
        let record = PolicyRecords.mtaSTS(lookup: .ok, texts: texts)
        #expect(!record.announced)
        #expect(record.id == nil || record.recordProblems.count == 1)
        #expect(record.recordProblems.contains { $0.contains(problem) }, "\(record.recordProblems)")
    }

    @Test("no record: nothing announced, and no problem either")
    func noRecord() {
        let record = PolicyRecords.mtaSTS(lookup: .nxdomain, texts: [])
        #expect(!record.announced && record.records.isEmpty && record.recordProblems.isEmpty)
    }

    @Test("TLS-RPT: rua URIs of mailto and https; bad schemes, doubles and a missing rua are problems")
    func tlsRPT() {
        let good = PolicyRecords.tlsRPT(
            lookup: .ok, texts: ["v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://reports.example.org/v1"])
        #expect(good.rua == ["mailto:tlsrpt@example.org", "https://reports.example.org/v1"])
        #expect(good.problems.isEmpty)
        let cases: [([String], String)] = [
            (["v=TLSRPTv1; rua=http://example.org/r"], "is not a mailto: address or an https: URI"),
            (["v=TLSRPTv1;"], "no rua field"),
            (["v=TLSRPTv1; rua=mailto:a@example.org", "v=TLSRPTv1; rua=mailto:b@example.org"], "2 TXT records"),
            (["v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org"], "2 rua fields"),
        ]
        for (texts, problem) in cases {
            let record = PolicyRecords.tlsRPT(lookup: .ok, texts: texts)
            #expect(record.problems.contains { $0.contains(problem) }, "\(texts): \(record.problems)")
        }
        #expect(PolicyRecords.tlsRPT(lookup: .nxdomain, texts: []).problems.isEmpty)
    }

    static func parse(_ text: String) -> MTASTSPolicyFetch {
        var fetch = MTASTSPolicyFetch(url: "https://mta-sts.example.org/.well-known/mta-sts.txt", outcome: .fetched)
        MTASTSPolicyParser.parse(Array(text.utf8), into: &fetch)
        return fetch
    }

    @Test("a good policy, with CRLF or LF, unknown fields ignored, keys in any case")
    func goodPolicy() {
        let crlf = Self.parse(
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.example.net\r\nmax_age: 604800\r\n")
        #expect(crlf.problems.isEmpty, "\(crlf.problems)")
        #expect(crlf.mode == .enforce && crlf.maxAge == 604_800 && crlf.version == "STSv1")
        #expect(crlf.mx == ["mx1.example.org", "*.example.net"])
        #expect(crlf.usable)
        let lf = Self.parse("Version: STSv1\nMode: testing\nmx: MX.Example.org\nmax_age:86400\nfuture_field: x")
        #expect(lf.problems.isEmpty, "\(lf.problems)")
        #expect(lf.mode == .testing && lf.mx == ["mx.example.org"] && lf.maxAge == 86400)
        let none = Self.parse("version: STSv1\nmode: none\nmax_age: 86400\n")
        #expect(none.problems.isEmpty && none.mode == MTASTSPolicyFetch.Mode.none, "\(none.problems)")
    }

    @Test(
        "policy problems",
        arguments: [
            ("mode: enforce\nmx: a.example\nmax_age: 1\n", "no version field"),
            ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "is not STSv1"),
            ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "is not enforce, testing or none"),
            ("version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age field"),
            ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "above the limit"),
            ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -5\n", "is not a number of seconds"),
            ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n", "is not a number of seconds"),
            ("version: STSv1\nmode: enforce\nmax_age: 86400\n", "no mx field"),
            ("version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 86400\n", "is not a host name"),
            ("version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 86400\n", "mode appears 2 times"),
            ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 86400\n<html>\n", "is not a field"),
            ("version: STSv1\nmode: enforce\u{1b}[31m\nmx: a.example\nmax_age: 86400\n", "not printable ASCII"),
        ])
    func policyProblems(text: String, problem: String) {
        let policy = Self.parse(text)
        #expect(!policy.usable)
        #expect(policy.problems.contains { $0.contains(problem) }, "\(policy.problems)")
        #expect(policy.problems.allSatisfy { !$0.contains("\u{1b}") })
    }

    @Test("a hostile body is bounded: patterns, problems and values are cut")
    func hostileBody() {
        let many =
            "version: STSv1\nmode: enforce\nmax_age: 86400\n"
            + (0..<500).map { "mx: mx\($0).example.org\n" }.joined()
            + (0..<100).map { "bad line \($0)\n" }.joined()
        let policy = Self.parse(many)
        #expect(policy.mx.count == 64)
        #expect(policy.problems.count == 17, "16 problems and a count of the rest")
        #expect(policy.problems.last == "and 85 more problems")
    }

    @Test(
        "mx patterns match as RFC 8461 §4.1 says",
        arguments: [
            ("mx.example.org", "mx.example.org", true), ("MX.example.org.", "mx.EXAMPLE.org", true),
            ("*.example.org", "mx.example.org", true), ("*.example.org", "a.mx.example.org", false),
            ("*.example.org", "example.org", false), ("mx.example.org", "mx2.example.org", false),
            ("*.example.org", "mxexample.org", false), ("", "mx.example.org", false),
        ])
    func patterns(pattern: String, host: String, matches: Bool) {
        #expect(MTASTSPolicyFetch.pattern(pattern, matches: host) == matches)
    }
}
