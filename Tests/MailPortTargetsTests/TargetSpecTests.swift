import MailPortCore
import Testing

@testable import MailPortTargets

@Suite("Target tokens")
struct TargetSpecTests {
    static let good: [(String, TargetSpec)] = [
        ("192.0.2.1", .address(.v4(0xc000_0201))),
        (" 192.0.2.1\t", .address(.v4(0xc000_0201))),
        ("0.0.0.0", .address(.v4(0))),
        ("192.0.2.0/24", .network(.v4(0xc000_0200), prefixLength: 24)),
        ("192.0.2.77/24", .network(.v4(0xc000_0200), prefixLength: 24)),
        ("192.0.2.9/32", .network(.v4(0xc000_0209), prefixLength: 32)),
        ("10.1.2.3/0", .network(.v4(0), prefixLength: 0)),
        ("192.0.2.250-192.0.3.5", .range(.v4(0xc000_02fa), .v4(0xc000_0305))),
        ("192.0.2.10-20", .range(.v4(0xc000_020a), .v4(0xc000_0214))),
        ("192.0.2.7-7", .range(.v4(0xc000_0207), .v4(0xc000_0207))),
        ("::1", .address(.v6(1))),
        ("::", .address(.v6(0))),
        ("2001:db8::1", .address(.v6(UInt128(0x2001_0db8) << 96 | 1))),
        ("2001:DB8:0:0:0:0:0:1", .address(.v6(UInt128(0x2001_0db8) << 96 | 1))),
        ("::ffff:192.0.2.1", .address(.v6(UInt128(0xffff) << 32 | 0xc000_0201))),
        ("2001:db8::/32", .network(.v6(UInt128(0x2001_0db8) << 96), prefixLength: 32)),
        ("2001:db8::5/126", .network(.v6(UInt128(0x2001_0db8) << 96 | 4), prefixLength: 126)),
        ("2001:db8::1/128", .network(.v6(UInt128(0x2001_0db8) << 96 | 1), prefixLength: 128)),
        (
            "2001:db8::1-2001:db8::ff",
            .range(.v6(UInt128(0x2001_0db8) << 96 | 1), .v6(UInt128(0x2001_0db8) << 96 | 0xff))
        ),
        ("mail.example.org", .hostname("mail.example.org")),
        ("MX1.Example.ORG.", .hostname("mx1.example.org")),
        ("abc-def.example", .hostname("abc-def.example")),
        ("localhost", .hostname("localhost")),
    ]

    @Test("accepts every documented form", arguments: good)
    func parsesGoodTokens(token: String, expected: TargetSpec) throws {
        #expect(try TargetSpec.parse(token) == expected)
    }

    static let bad: [(String, String)] = [
        ("10.0.0.0/33", "prefix length must be 0 to 32"),
        ("::/129", "prefix length must be 0 to 128"),
        ("192.0.2.0/", "prefix length"),
        ("192.0.2.0/-1", "prefix length"),
        ("192.0.2.0/24x", "prefix length"),
        ("300.1.1.0/24", "before the '/' is not an IP address"),
        ("192.0.2.20-10", "range is reversed"),
        ("192.0.3.1-192.0.2.1", "range is reversed"),
        ("192.0.2.1-300", "above 255"),
        ("192.0.2.1-::1", "different families"),
        ("192.0.2.1-x", "neither an address nor a last octet"),
        ("256.1.1.1", "not an address and not a valid host name"),
        ("010.0.0.1", "not an address and not a valid host name"),
        ("1.2.3", "not an address and not a valid host name"),
        ("", "empty"),
        ("   ", "empty"),
        ("-mail.example.org", "not a valid host name"),
        ("mail..example.org", "not a valid host name"),
        ("fe80::1%eth0", "not a valid host name"),
        ("mail.exa mple.org", "not a valid host name"),
        ("$(reboot)", "not a valid host name"),
        (String(repeating: "a", count: 64) + ".example", "not a valid host name"),
        (String(repeating: "abcdefghi.", count: 26) + "org", "too long"),
    ]

    @Test("refuses bad tokens with a message naming them and the accepted forms", arguments: bad)
    func refusesBadTokens(token: String, reason: String) {
        #expect {
            try TargetSpec.parse(token)
        } throws: { error in
            let message = (error as? MailPortError)?.message ?? ""
            return message.contains(reason) && message.contains("'\(printable(token))'") && message.contains("expected")
                && (error as? MailPortError)?.exitStatus == 2 && !message.contains("\n")
        }
    }

    @Test("terminal control characters in a bad token are shown escaped")
    func escapesControlCharacters() {
        do {
            _ = try TargetSpec.parse("evil\u{1b}[2J\u{7}")
            Issue.record("expected an error")
        } catch {
            #expect(!error.message.contains("\u{1b}"))
            #expect(error.message.contains("\\x1b[2J\\x07"))
        }
    }
}

@Suite("Target space")
struct TargetSpaceTests {
    static let counts: [([String], [String], UInt128)] = [
        (["192.0.2.0/24"], [], 256),
        (["192.0.2.9/32"], [], 1),
        (["2001:db8::1/128"], [], 1),
        (["2001:db8::/120"], [], 256),
        (["192.0.2.250-192.0.3.5"], [], 12),
        (["192.0.2.0/24", "192.0.2.128/25", "192.0.2.7"], [], 256),
        (["192.0.2.0/25", "192.0.2.128/25"], [], 256),
        (["192.0.2.0/24"], ["192.0.2.0/25", "192.0.2.100-192.0.2.200"], 55),
        (["192.0.2.0/24"], ["192.0.2.128/25", "192.0.2.0-192.0.2.127"], 0),
        (["192.0.2.0/24"], ["2001:db8::/32"], 256),
        (["192.0.2.0/24", "2001:db8::/126"], ["192.0.2.255", "2001:db8::"], 258),
        (["10.0.0.0/8"], ["10.0.0.0/9"], 1 << 23),
        (["::/0"], [], UInt128.max),
    ]

    @Test("expands lazily to the right number of addresses", arguments: counts)
    func expandsToCount(targets: [String], excludes: [String], expected: UInt128) throws {
        let space = try TargetSpace(targets: targets, excludes: excludes, resolver: StaticResolver([:]))
        #expect(space.addresses.count == expected)
        // Expansion is ranges, never lists: even ::/0 is a single range.
        #expect(space.addresses.ranges.count <= targets.count + excludes.count)
    }

    @Test("visits IPv4 before IPv6, in order, with exclusions skipped")
    func addressOrder() throws {
        let space = try TargetSpace(
            targets: ["2001:db8::/127", "192.0.2.1-3"], excludes: ["192.0.2.2"], resolver: StaticResolver([:]))
        let all = (0..<space.addresses.count).map { space.addresses.address(at: $0).description }
        #expect(all == ["192.0.2.1", "192.0.2.3", "2001:db8::", "2001:db8::1"])
    }

    @Test("host names resolve to every address and keep the name for later checks")
    func hostNamesKeepTheirNames() throws {
        let resolver = StaticResolver([
            "mail.example.org": [.v4(0xc000_0205), .v6(UInt128(0x2001_0db8) << 96 | 5)],
            "mx.example.org": [.v4(0xc000_0205)],
            "old.example.org": [.v4(0xc000_0206)],
        ])
        let space = try TargetSpace(
            targets: ["mail.example.org", "mx.example.org", "old.example.org"], excludes: ["old.example.org"],
            resolver: resolver)
        #expect(space.addresses.count == 2)
        #expect(space.names[.v4(0xc000_0205)] == ["mail.example.org", "mx.example.org"])
        #expect(space.names[.v6(UInt128(0x2001_0db8) << 96 | 5)] == ["mail.example.org"])
        #expect(space.names[.v4(0xc000_0206)] == nil)
    }

    @Test("the system resolver reads /etc/hosts for localhost (no DNS traffic)")
    func systemResolverLocalhost() throws {
        let addresses = try SystemResolver().resolve("localhost")
        #expect(addresses.contains(.v4(0x7f00_0001)))
    }

    @Test("an unknown name is an input error naming it")
    func unknownName() {
        #expect(throws: MailPortError.self) {
            try TargetSpace(targets: ["nowhere.example"], resolver: StaticResolver([:]))
        }
    }

    @Test("targets files allow comments, blank lines and several tokens per line; errors name file and line")
    func targetsFile() throws {
        let contents = "# lab\n\n192.0.2.1 192.0.2.2,192.0.2.3  # three\n  2001:db8::/126\r\n"
        #expect(
            try readTargetTokens(fromFileContents: contents, fileName: "t.txt")
                == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::/126"])
        do {
            _ = try readTargetTokens(fromFileContents: "192.0.2.1\n# ok\n10.0.0.0/33\n", fileName: "t.txt")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.hasPrefix("t.txt:3: invalid target '10.0.0.0/33'"))
        }
    }
}

@Suite("Port lists")
struct PortListTests {
    @Test("defaults and PORT=SERVICE entries")
    func goodLists() throws {
        #expect(try parsePortList("25,110,143,465,587,993,995") == PortSpec.defaults)
        #expect(
            try parsePortList("2525=submission, 10143=IMAP,465=smtps")
                == [
                    PortSpec(port: 2525, service: .submission), PortSpec(port: 10143, service: .imap),
                    PortSpec(port: 465, service: .submissions),
                ])
        #expect(try parsePortList("25=imap") == [PortSpec(port: 25, service: .imap)])
    }

    @Test(
        "bad lists name the entry",
        arguments: [
            ("0", "1 to 65535"), ("65536", "1 to 65535"), ("2525", "not a standard mail port"), ("25,25", "twice"),
            ("25=http", "unknown service 'http'"), ("", "empty entry"), ("25,", "empty entry"), ("x25", "1 to 65535"),
        ])
    func badLists(text: String, reason: String) {
        #expect {
            try parsePortList(text)
        } throws: { error in
            ((error as? MailPortError)?.message ?? "").contains(reason)
        }
    }
}

@Suite("Probe plan")
struct ProbePlanTests {
    @Test("more than 2^20 probes needs --allow-large; beyond 2^40 is refused")
    func sizeGuards() throws {
        // A /16 × 7 ports (458,752 probes) is under the guard; a /14 × 7 (1,835,008) is over it.
        let slash16 = try TargetSpace(targets: ["10.0.0.0/16"], resolver: StaticResolver([:]))
        #expect(try ProbePlan(space: slash16, ports: PortSpec.defaults, seed: 1, allowLarge: false).count == 458_752)
        let slash14 = try TargetSpace(targets: ["10.0.0.0/14"], resolver: StaticResolver([:]))
        #expect(throws: MailPortError.self) {
            try ProbePlan(space: slash14, ports: PortSpec.defaults, seed: 1, allowLarge: false)
        }
        #expect(try ProbePlan(space: slash14, ports: PortSpec.defaults, seed: 1, allowLarge: true).count == 1_835_008)
        let slash20 = try TargetSpace(targets: ["10.0.0.0/20"], resolver: StaticResolver([:]))
        #expect(try ProbePlan(space: slash20, ports: PortSpec.defaults, seed: 1, allowLarge: false).count == 28_672)
        let huge = try TargetSpace(targets: ["2001:db8::/64"], resolver: StaticResolver([:]))
        do {
            _ = try ProbePlan(space: huge, ports: PortSpec.defaults, seed: 1, allowLarge: true)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("too large"))
        }
    }

    static let spaces: [([String], [String], UInt64)] = [
        (["192.0.2.0/28"], [], 1),
        (["192.0.2.0/24", "2001:db8::/124"], ["192.0.2.64/26"], 99),
        (["198.51.100.7"], [], 12345),
    ]

    @Test("every host×port pair is visited exactly once", arguments: spaces)
    func visitsEveryPairOnce(targets: [String], excludes: [String], seed: UInt64) throws {
        let space = try TargetSpace(targets: targets, excludes: excludes, resolver: StaticResolver([:]))
        let plan = try ProbePlan(space: space, ports: PortSpec.defaults, seed: seed, allowLarge: false)
        var seen = Set<Probe>()
        for probe in plan {
            #expect(seen.insert(probe).inserted, "visited twice: \(probe)")
            #expect(space.addresses.contains(probe.address))
        }
        #expect(UInt64(seen.count) == plan.count)
        #expect(UInt128(seen.count) == space.addresses.count * 7)
    }
}
