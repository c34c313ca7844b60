import MailPortCore
import Testing

@testable import MailPortDNS

/// Hand-built DNS messages, well-formed and hostile: the parser reads what is there and refuses what is not.
@Suite("DNS wire format")
struct DNSWireTests {
    /// A response header, then the question, then `answers` (already encoded).
    static func response(
        id: UInt16 = 0x1234, flags: UInt16 = 0x8180, question: [UInt8], answerCount: UInt16,
        answers: [UInt8]
    ) -> [UInt8] {
        [
            UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, UInt8(answerCount >> 8),
            UInt8(answerCount & 0xFF), 0, 0, 0, 0,
        ] + question + answers
    }

    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    static func question(_ text: String, type: UInt16) -> [UInt8] {
        name(text) + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
    }

    /// owner as a pointer to offset 12 (the question's name), then type, class IN, TTL 60, rdata.
    static func record(type: UInt16, rdata: [UInt8], owner: [UInt8] = [0xC0, 12]) -> [UInt8] {
        owner + [
            UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0, 60, UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF),
        ] + rdata
    }

    @Test("a query: header, question, EDNS(0) OPT record")
    func query() {
        let bytes = DNSWire.query(id: 0xBEEF, DNSQuestion("Example.ORG.", .mx))
        #expect(Array(bytes[0..<12]) == [0xBE, 0xEF, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1])
        #expect(Array(bytes[12..<(12 + 13)]) == Self.name("example.org"))
        #expect(Array(bytes[25..<29]) == [0, 15, 0, 1])
        #expect(Array(bytes[29...]) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
    }

    @Test("MX, SRV, A, AAAA and CNAME answers, with compressed names")
    func answers() throws {
        let q = Self.question("example.org", type: 15)
        // "mx" + pointer to example.org (offset 12)
        let mx = Self.record(type: 15, rdata: [0, 10, 2, 0x6D, 0x78, 0xC0, 12])
        let a = Self.record(type: 1, rdata: [192, 0, 2, 25])
        let aaaa = Self.record(type: 28, rdata: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])
        let srv = Self.record(type: 33, rdata: [0, 0, 0, 1, 0x03, 0xE1] + Self.name("imap.example.org"))
        let cname = Self.record(type: 5, rdata: Self.name("Alias.Example.org"))
        let response = try DNSWire.parse(
            Self.response(question: q, answerCount: 5, answers: mx + a + aaaa + srv + cname))
        #expect(response.id == 0x1234 && response.responseCode == 0 && !response.truncated)
        #expect(response.question == DNSQuestion("example.org", .mx))
        #expect(
            response.answers.map(\.data) == [
                .mx(preference: 10, exchange: "mx.example.org"), .address(IPAddress("192.0.2.25")!),
                .address(IPAddress("2001:db8::1")!),
                .srv(priority: 0, weight: 1, port: 993, target: "imap.example.org"),
                .cname("alias.example.org"),
            ])
        #expect(response.answers.allSatisfy { $0.owner == "example.org" })
    }

    @Test("TXT records: strings joined, controls and backslashes escaped, a string past its record refused; the AD bit")
    func txtAndAuthenticatedData() throws {
        let q = Self.question("_mta-sts.example.org", type: 16)
        let strings: [UInt8] = [7] + Array("v=STSv1".utf8) + [6] + Array("; id=1".utf8) + [4, 0x1B, 0x5C, 0x41, 0xFF]
        let response = try DNSWire.parse(
            Self.response(flags: 0x81A0, question: q, answerCount: 1, answers: Self.record(type: 16, rdata: strings)))
        #expect(response.answers.map(\.data) == [.txt("v=STSv1; id=1\\027\\092A\\255")])
        #expect(response.authenticated, "the AD bit (0x0020) of a validating resolver")
        let unvalidated = try DNSWire.parse(
            Self.response(question: q, answerCount: 1, answers: Self.record(type: 16, rdata: [1, 0x41])))
        #expect(!unvalidated.authenticated && unvalidated.answers.map(\.data) == [.txt("A")])
        // A string length that runs past the record's own length is hostile, not read on into the next record.
        let overrun = Self.record(type: 16, rdata: [9, 0x41, 0x42]) + Self.record(type: 16, rdata: [1, 0x43])
        #expect(throws: DNSWire.Malformed.self) {
            try DNSWire.parse(Self.response(question: q, answerCount: 2, answers: overrun))
        }
    }

    @Test("NXDOMAIN, SERVFAIL and the truncation bit are read from the header")
    func flags() throws {
        let q = Self.question("missing.example", type: 15)
        #expect(
            try DNSWire.parse(Self.response(flags: 0x8183, question: q, answerCount: 0, answers: [])).responseCode == 3)
        #expect(
            try DNSWire.parse(Self.response(flags: 0x8182, question: q, answerCount: 0, answers: [])).responseCode == 2)
        // Truncated, and the answer section cut mid-record: what was read is kept, nothing is invented.
        let cut = Array(Self.record(type: 1, rdata: [192, 0, 2, 1]).prefix(8))
        let truncated = try DNSWire.parse(Self.response(flags: 0x8380, question: q, answerCount: 1, answers: cut))
        #expect(truncated.truncated && truncated.answers.isEmpty)
    }

    @Test(
        "hostile messages are refused, not followed",
        arguments: [
            (
                "compression loop",
                Self.response(
                    question: Self.question("a.example", type: 1), answerCount: 1,
                    answers: Self.record(type: 5, rdata: [0xC0, 39]))
            ),
            (
                "pointer past the end",
                Self.response(
                    question: Self.question("a.example", type: 1), answerCount: 1,
                    answers: Self.record(type: 5, rdata: [0xC0, 0xFF]))
            ),
            ("label past the end", Self.response(question: [40, 0x61], answerCount: 0, answers: [])),
            (
                "record data past the end",
                Self.response(
                    question: Self.question("a.example", type: 1), answerCount: 1,
                    answers: Array(Self.record(type: 1, rdata: [192, 0, 2, 1]).dropLast(2)))
            ),
            (
                "A record of 5 bytes",
                Self.response(
                    question: Self.question("a.example", type: 1), answerCount: 1,
                    answers: Self.record(type: 1, rdata: [192, 0, 2, 1, 9]))
            ),
            (
                "a query, not a response",
                Self.response(flags: 0x0100, question: Self.question("a.example", type: 1), answerCount: 0, answers: [])
            ),
            ("header only", [0x12, 0x34, 0x81]),
        ])
    func hostile(_ label: String, _ bytes: [UInt8]) {
        #expect(throws: DNSWire.Malformed.self, "\(label)") { try DNSWire.parse(bytes) }
    }

    @Test("a name of 255 bytes and more is refused; control bytes in labels come out escaped")
    func nameBounds() throws {
        let long = Array(repeating: "a" + String(repeating: "b", count: 62), count: 5).joined(separator: ".")
        let tooLong = Self.response(question: Self.question(long, type: 1), answerCount: 0, answers: [])
        #expect(throws: DNSWire.Malformed.self) { try DNSWire.parse(tooLong) }
        let hostile = Self.response(
            question: [5, 0x1B, 0x5B, 0x32, 0x4A, 0x2E, 0] + [0, 1, 0, 1], answerCount: 0, answers: [])
        #expect(try DNSWire.parse(hostile).question?.name == "\\027\\0912j\\046")
    }

    @Test("resolver addresses: address, address:port, [v6]:port; anything else is refused")
    func resolverAddresses() throws {
        #expect(try ResolverAddress(parsing: "192.0.2.53").description == "192.0.2.53:53")
        #expect(try ResolverAddress(parsing: "192.0.2.53:5353").port == 5353)
        #expect(try ResolverAddress(parsing: "2001:db8::53").description == "[2001:db8::53]:53")
        #expect(try ResolverAddress(parsing: "[2001:db8::53]:5353").port == 5353)
        for bad in ["ns1.example", "192.0.2.53:", "192.0.2.53:0", "[2001:db8::53]x", "[ns]:53", "300.0.0.1"] {
            #expect(throws: MailPortError.self, "\(bad)") { try ResolverAddress(parsing: bad) }
        }
        let conf =
            "# comment\nsearch example.org\nnameserver 192.0.2.1\nnameserver fe80::1%eth0\nnameserver 2001:db8::2\noptions edns0\n"
        #expect(ResolverAddress.fromResolvConf(conf).map(\.description) == ["192.0.2.1:53", "[2001:db8::2]:53"])
    }

    @Test("alias chains end, even when they loop; MX exchanges written as addresses are recognised")
    func chainsAndLiterals() {
        let loop = [
            DNSRecord(owner: "a.example", data: .cname("b.example")),
            DNSRecord(owner: "b.example", data: .cname("a.example")),
        ]
        #expect(DomainDiscovery.aliasChain(from: "a.example", in: loop) == ["a.example", "b.example"])
        #expect(DomainDiscovery.addressLiteral("192.0.2.1") == IPAddress("192.0.2.1"))
        #expect(DomainDiscovery.addressLiteral("\\091192.0.2.1\\093") == IPAddress("192.0.2.1"))
        #expect(DomainDiscovery.addressLiteral("mx.example.org") == nil)
    }
}
