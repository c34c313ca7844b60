import Foundation
import MailPortCore
import MailPortTargets
import MailPortYAML

/// `--config FILE`: any scan option under its long name, plus `targets:`, `formats:`, named target `groups:`,
/// `keep:` (retention) and `lock-file:`/`log-file:` (for cron). Strict: an unknown key or a bad value is an error
/// with file and line. Relative paths in the file are relative to the file's folder, so a crontab entry works from
/// any working directory.
public enum ConfigFile {
    static let keys = [
        "targets", "targets-file", "exclude", "exclude-file", "ports", "timeout", "concurrency", "rate", "seed",
        "allow-large", "discovery-only", "read-timeout", "greeting-timeout", "per-host", "ehlo-name", "ca-file", "retry-pause", "rules",
        "profile", "waivers", "fail-on", "mx", "baseline", "format", "formats", "output-dir", "progress", "quiet",
        "verbose", "groups", "keep", "lock-file", "log-file", "shard", "domains", "resolver", "syn", "interface", "source-ip",
    ]

    public static func load(_ file: String) throws -> OptionValues {
        try parse(try YAMLNode.load(path: file), file: file)
    }

    /// Reads an already parsed config document; `file` places relative paths.
    public static func parse(_ root: YAMLNode, file: String) throws -> OptionValues {
        let fields = try root.mapping("the config file", allowed: keys)
        let folder = (file as NSString).deletingLastPathComponent
        func relative(_ value: String) -> String {
            value.hasPrefix("/") || folder.isEmpty ? value : (folder as NSString).appendingPathComponent(value)
        }
        func text(_ key: String) throws -> String? { try fields[key]?.nonEmptyString("'\(key)'") }
        func path(_ key: String) throws -> String? { try text(key).map(relative) }
        func checked<T>(_ key: String, _ value: T?, _ check: (T) -> String?) throws -> T? {
            guard let value, let node = fields[key] else { return value }
            if let expected = check(value) {
                throw node.error("invalid \(key) '\(printable(node.scalarText ?? "\(value)"))'; expected \(expected)")
            }
            return value
        }
        func number(_ key: String) throws -> Double? {
            guard let node = fields[key] else { return nil }
            guard let text = node.scalarText, let value = Double(text) else {
                throw node.error("invalid \(key) '\(printable(node.scalarText ?? "a list"))'; expected a number")
            }
            return value
        }
        func integer(_ key: String) throws -> Int? {
            guard let node = fields[key] else { return nil }
            guard let text = node.scalarText, let value = Int(text) else {
                throw node.error("invalid \(key) '\(printable(node.scalarText ?? "a list"))'; expected a whole number")
            }
            return value
        }
        func targets(_ key: String) throws -> [String]? {
            guard let node = fields[key] else { return nil }
            let tokens = try node.stringList("'\(key)'")
            for token in tokens {
                if let problem = OptionChecks.target(token) { throw node.error(problem) }
            }
            return tokens
        }
        func commaList(_ key: String) throws -> String? {
            guard let node = fields[key] else { return nil }
            return try node.stringList("'\(key)'").joined(separator: ",")
        }

        var values = OptionValues()
        values.targets = try targets("targets")
        values.targetsFile = try path("targets-file")
        values.exclude = try targets("exclude")
        values.excludeFile = try path("exclude-file")
        values.ports = try checked("ports", try commaList("ports"), OptionChecks.ports)
        values.timeout = try checked("timeout", try number("timeout"), OptionChecks.timeout)
        values.concurrency = try checked("concurrency", try integer("concurrency"), OptionChecks.concurrency)
        values.rate = try checked("rate", try number("rate"), OptionChecks.rate)
        if let seed = fields["seed"] {
            guard let value = seed.scalarText.flatMap(UInt64.init) else {
                throw seed.error("invalid seed '\(printable(seed.scalarText ?? "a list"))'; expected a whole number from 0 to 18446744073709551615")
            }
            values.seed = value
        }
        values.allowLarge = try fields["allow-large"]?.bool("'allow-large'")
        values.discoveryOnly = try fields["discovery-only"]?.bool("'discovery-only'")
        values.readTimeout = try checked("read-timeout", try number("read-timeout"), OptionChecks.timeout)
        values.greetingTimeout = try checked("greeting-timeout", try number("greeting-timeout"), OptionChecks.timeout)
        values.perHost = try checked("per-host", try integer("per-host"), OptionChecks.perHost)
        values.ehloName = try checked("ehlo-name", try text("ehlo-name"), OptionChecks.ehloName)
        values.caFile = try path("ca-file")
        values.retryPause = try checked("retry-pause", try number("retry-pause"), OptionChecks.retryPause)
        values.rules = try fields["rules"].map { try $0.stringList("'rules'").map(relative) }
        values.profile = try text("profile")
        values.waivers = try path("waivers")
        values.failOn = try checked("fail-on", try text("fail-on"), OptionChecks.failOn)
        values.mx = try targets("mx")
        if let node = fields["domains"] {
            let names = try node.stringList("'domains'")
            for name in names {
                if let problem = OptionChecks.domain(name) { throw node.error(problem) }
            }
            values.domains = names
        }
        values.syn = try fields["syn"]?.bool("'syn'")
        values.interface = try text("interface")
        if let interface = values.interface, let problem = OptionChecks.interface(interface) { throw fields["interface"]!.error(problem) }
        values.sourceIP = try text("source-ip")
        if let source = values.sourceIP, let problem = OptionChecks.sourceIP(source) { throw fields["source-ip"]!.error(problem) }
        values.resolver = try text("resolver")
        if let resolver = values.resolver, let problem = OptionChecks.resolver(resolver) {
            throw fields["resolver"]!.error(problem)
        }
        values.baseline = try path("baseline")
        if fields["format"] != nil && fields["formats"] != nil {
            throw fields["formats"]!.error("both 'format' and 'formats'; expected one of them")
        }
        values.formats = try checked(fields["format"] != nil ? "format" : "formats",
                                     try commaList("format") ?? commaList("formats"), OptionChecks.formats)
        values.outputDirectory = try path("output-dir")
        if let node = fields["progress"] {
            guard let mode = node.scalarText.flatMap(ProgressMode.init(rawValue:)) else {
                throw node.error("invalid progress '\(printable(node.scalarText ?? "a list"))'; expected auto, always or never")
            }
            values.progress = mode
        }
        values.quiet = try fields["quiet"]?.bool("'quiet'")
        values.verbose = try fields["verbose"]?.bool("'verbose'")
        if let node = fields["groups"] {
            var groups: [String: [String]] = [:]
            for (name, keyNode, list) in try node.pairs("'groups'") {
                guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                    throw keyNode.error("invalid group name '\(printable(name))'; expected a word without spaces")
                }
                let tokens = try list.stringList("group '\(name)'")
                for token in tokens {
                    if let problem = OptionChecks.target(token) { throw list.error(problem) }
                }
                groups[name] = tokens
            }
            values.groups = groups
        }
        values.keep = try checked("keep", try integer("keep"), OptionChecks.keep)
        values.lockFile = try path("lock-file")
        values.logFile = try path("log-file")
        if let node = fields["shard"] {
            let text = try node.string("'shard'")
            do { _ = try Shard(text) } catch { throw node.error(error.message) }
            values.shard = text
        }
        return values
    }
}
