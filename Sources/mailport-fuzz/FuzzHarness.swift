import MailPortConfig
import MailPortCore
import MailPortDNS
import MailPortPattern
import MailPortPolicy
import MailPortProbe
import MailPortRules
import MailPortTargets
import MailPortYAML

/// One harness per parser that takes hostile or user-written input. A harness must never crash, hang or grow
/// without bound; anything else it does (throwing, rejecting) is fine.
enum FuzzHarness {
    static let targets = ["targets", "smtp", "imap", "pop3", "rules", "config", "dns", "pattern", "policy"]

    static let builtinRules = try? RuleLoader.builtin()

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "targets": targetsHarness(bytes)
        case "smtp", "imap", "pop3": replyHarness(target, bytes)
        case "rules": rulesHarness(bytes)
        case "config": configHarness(bytes)
        case "dns": dnsHarness(bytes)
        case "pattern": patternHarness(bytes)
        case "policy": policyHarness(bytes)
        default: break
        }
    }

    /// An MTA-STS policy body as the fetch hands it over (at most the 64 KiB it reads), and its lines as MTA-STS and
    /// TLS-RPT TXT records; every problem text stays bounded and printable, so a hostile policy is inert in reports.
    static func policyHarness(_ bytes: [UInt8]) {
        var fetch = MTASTSPolicyFetch(url: "https://mta-sts.example.org/.well-known/mta-sts.txt", outcome: .fetched)
        MTASTSPolicyParser.parse(Array(bytes.prefix(PolicyFetcher.bodyLimit)), into: &fetch)
        precondition(fetch.problems.count <= 17 && fetch.mx.count <= 64, "policy facts grew without bound")
        precondition(
            fetch.problems.allSatisfy { $0.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F } },
            "a control character reached a problem text")
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        let sts = PolicyRecords.mtaSTS(lookup: .ok, texts: lines)
        let rpt = PolicyRecords.tlsRPT(lookup: .ok, texts: lines)
        precondition(sts.records.count <= 8 && rpt.records.count <= 8 && rpt.rua.count <= 8, "records unbounded")
        for pattern in fetch.mx { _ = MTASTSPolicyFetch.pattern(pattern, matches: "mx.example.org") }
    }

    /// A rules file as --rules reads it (alone, and as the waivers file the loader checks against the rule set).
    static func rulesHarness(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let ruleSet = try? RuleLoader.load(layers: [[("fuzz.yaml", text)]]) {
            for profile in ruleSet.profiles.keys { _ = try? ruleSet.resolve(profile: profile) }
        }
        if let builtin = builtinRules, let node = try? YAMLNode.parse(text, file: "fuzz.yaml") {
            _ = try? WaiverLoader.parse(node, ruleSet: builtin)
        }
    }

    /// A regular expression and a text to search (split at the first line feed), as rules compile and run them: the
    /// pattern is refused or compiled, and no search takes more than 2 × program size × (length + 1) steps. The text
    /// is also searched repeated to 2,000 characters, where backtracking engines blow up on short fuzz inputs.
    static func patternHarness(_ bytes: [UInt8]) {
        let input = String(decoding: bytes, as: UTF8.self)
        let parts = input.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        guard let pattern = try? Pattern(String(parts[0])) else { return }
        _ = pattern.warnings
        // About 4 million steps at most per input, so a large program on a long text stays within -timeout.
        let longest = max(64, 2_000_000 / pattern.programSize)
        let subject = String(String.UnicodeScalarView((parts.count > 1 ? parts[1] : "").unicodeScalars.prefix(longest)))
        var texts = [subject]
        let length = subject.unicodeScalars.count
        if length > 0, length < 2_000, 2_000 <= longest {
            texts.append(String(repeating: subject, count: 2_000 / length + 1))
        }
        for text in texts {
            let count = text.unicodeScalars.count
            let bound = 2 * pattern.programSize * (count + 1)
            do {
                let (match, steps) = try pattern.search(text, stepLimit: bound)
                let anywhere = try pattern.matches(text, stepLimit: bound)
                precondition(steps <= bound && anywhere == (match != nil), "search and matches disagree on \(pattern)")
                if let range = match?.scalarRange { precondition(range.upperBound <= count, "a match past the end") }
            } catch {
                preconditionFailure("the search of \(pattern) broke its bound of \(bound) steps: \(error)")
            }
        }
    }

    /// A DNS response as the resolver client reads it, then the domain stage's reading of its records.
    static func dnsHarness(_ bytes: [UInt8]) {
        guard let response = try? DNSWire.parse(bytes) else { return }
        for record in response.answers {
            if case .mx(_, let exchange) = record.data { _ = DomainDiscovery.addressLiteral(exchange) }
        }
        _ = DomainDiscovery.aliasChain(from: response.question?.name ?? ".", in: response.answers)
    }

    /// A config file as --config reads it.
    static func configHarness(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let node = try? YAMLNode.parse(text, file: "/fuzz/config.yaml") else { return }
        _ = try? ConfigFile.parse(node, file: "/fuzz/config.yaml")
    }

    /// Target tokens and targets files, as `scan` and `--targets-file` read them.
    static func targetsHarness(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? readTargetTokens(fromFileContents: text, fileName: "fuzz")
        for token in text.split(whereSeparator: { $0 == "\n" || $0 == " " }).prefix(64) {
            if let spec = try? TargetSpec.parse(String(token)), case .hostname = spec {} else { continue }
        }
        _ = try? TargetSpace(
            targets: text.split(separator: "\n").prefix(8).map(String.init), resolver: StaticResolver([:]))
    }

    /// Server replies through the line buffer and the protocol's reply parser, split where the input says.
    static func replyHarness(_ target: String, _ bytes: [UInt8]) {
        var lines = LineBuffer(maxLineLength: 512)
        var smtp = SMTPReplyParser(maxLines: 50)
        var imap = IMAPResponseParser(tag: "mp1", maxLines: 50)
        var pop3 = POP3ReplyParser(multiLine: (bytes.first ?? 0) & 1 == 1, maxLines: 50)
        // The first byte picks a chunk size, so the fuzzer explores how replies are split across reads.
        let chunk = max(1, Int(bytes.first ?? 7))
        var offset = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            lines.append(bytes[offset..<end])
            offset = end
            while let line = lines.nextLine() {
                _ = identifyProtocol(line)
                switch target {
                case "smtp":
                    if case .needMore = smtp.feed(line) {} else { smtp = SMTPReplyParser(maxLines: 50) }
                case "imap":
                    if case .needMore = imap.feed(line) {} else { imap = IMAPResponseParser(tag: "mp1", maxLines: 50) }
                default:
                    if case .needMore = pop3.feed(line) {
                    } else {
                        pop3 = POP3ReplyParser(multiLine: true, maxLines: 50)
                    }
                }
            }
        }
    }
}
