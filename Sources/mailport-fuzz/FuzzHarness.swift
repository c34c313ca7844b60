import MailPortConfig
import MailPortCore
import MailPortDNS
import MailPortProbe
import MailPortRules
import MailPortTargets
import MailPortYAML

/// One harness per parser that takes hostile or user-written input. A harness must never crash, hang or grow
/// without bound; anything else it does (throwing, rejecting) is fine.
enum FuzzHarness {
    static let targets = ["targets", "smtp", "imap", "pop3", "rules", "config", "dns"]

    static let builtinRules = try? RuleLoader.builtin()

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "targets": targetsHarness(bytes)
        case "smtp", "imap", "pop3": replyHarness(target, bytes)
        case "rules": rulesHarness(bytes)
        case "config": configHarness(bytes)
        case "dns": dnsHarness(bytes)
        default: break
        }
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
        _ = try? TargetSpace(targets: text.split(separator: "\n").prefix(8).map(String.init), resolver: StaticResolver([:]))
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
                    if case .needMore = pop3.feed(line) {} else { pop3 = POP3ReplyParser(multiLine: true, maxLines: 50) }
                }
            }
        }
    }
}
