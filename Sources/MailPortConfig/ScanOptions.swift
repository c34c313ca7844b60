import MailPortCore
import MailPortYAML

/// Every scan option, each declared once. The command line takes its names and help from here (an `@Option(spec:)`
/// property in the executable per entry; a test pairs them both ways), the config file its keys (in this order
/// in the unknown-key message), `OptionValues.overriding` its merge and both routes their checks.
public enum ScanOptions {
    public static let all: [OptionSpec] = [
        .list(
            "targets", \.targets, form: .positional, entry: OptionChecks.target,
            help: "Addresses, CIDR blocks, ranges or host names to scan."),
        .value(
            "targets-file", \.targetsFile, .path,
            help: "File with more targets, one or more per line; # comments.", valueName: "file"
        ).singleDash("iL"),
        .list(
            "exclude", \.exclude, entry: OptionChecks.target,
            help: "Target to leave out (repeatable); same forms as targets.", valueName: "target"),
        .value("exclude-file", \.excludeFile, .path, help: "File of targets to leave out.", valueName: "file"),
        .value(
            "ports", \.ports, .commaList, check: .message(OptionChecks.ports),
            help:
                "Ports: standard mail ports and PORT=SERVICE entries, e.g. 2525=submission (default: \(ScanDefaults.ports)).",
            valueName: "list"
        ).short("p"),
        .value(
            "timeout", \.timeout, .number, check: .expected(OptionChecks.timeout),
            help:
                "Connect timeout bound in seconds (with --syn, the cool-down's); below it the wait adapts to round-trip times (default: \(ScanDefaults.timeout)).",
            valueName: "seconds"),
        .value(
            "concurrency", \.concurrency, .wholeNumber, check: .expected(OptionChecks.concurrency),
            help:
                "Connections in flight at most: discovery starts with fewer and adds more while answers keep their timing; clamped below the open-file limit (default: \(ScanDefaults.concurrency)).",
            valueName: "n"),
        .value(
            "rate", \.rate, .number, check: .expected(OptionChecks.rate),
            help: "New connections per second (default: no limit beyond --concurrency).", valueName: "n"),
        .value(
            "seed", \.seed, .seed, help: "Seed of the probe order (default: random, recorded in the report).",
            valueName: "n"),
        .flag("allow-large", \.allowLarge, help: "Allow scans of more than 2^20 probes."),
        .flag("discovery-only", \.discoveryOnly, help: "Stop after layer-4 discovery (states only, no dialogs)."),
        .value(
            "read-timeout", \.readTimeout, .number, check: .expected(OptionChecks.timeout),
            help: "Longest wait for a server's next line, in seconds (default: \(ScanDefaults.readTimeout)).",
            valueName: "seconds"),
        .value(
            "greeting-timeout", \.greetingTimeout, .number, check: .expected(OptionChecks.timeout),
            help:
                "Longest wait for a greeting's lines, in seconds: servers such as postscreen hold their greeting and drop clients that speak early (default: \(ScanDefaults.greetingTimeout)).",
            valueName: "seconds"),
        .value(
            "per-host", \.perHost, .wholeNumber, check: .expected(OptionChecks.perHost),
            help:
                "Dialogs at once with one address; mail servers answer bursts with 421 (default: \(ScanDefaults.perHost)).",
            valueName: "n"),
        .value(
            "ehlo-name", \.ehloName, .text, check: .expected(OptionChecks.ehloName),
            help: "Name sent with EHLO/HELO (default: \(ScanDefaults.ehloName)).", valueName: "name"),
        .value(
            "ca-file", \.caFile, .path,
            help: "Extra trust anchors (PEM) for certificate verification, e.g. a private CA.", valueName: "file"),
        .value(
            "retry-pause", \.retryPause, .number, check: .expected(OptionChecks.retryPause),
            help:
                "Pause before retrying a busy, reset or timed-out dialog, in seconds (default: \(ScanDefaults.retryPause)).",
            valueName: "seconds"),
        .list(
            "rules", \.rules, .paths,
            help: "A rules file or folder layered on the built-in rules (repeatable); see Rules/README.md.",
            valueName: "path"),
        .value(
            "profile", \.profile, .text,
            help:
                "Rule profile: baseline, rfc8314, mx, or one a rules file defines (default: \(ScanDefaults.profile)).",
            valueName: "name"),
        .value(
            "waivers", \.waivers, .path,
            help: "YAML file of accepted findings (host or CIDR, port, rule, reason, expiry date).", valueName: "file"),
        .value(
            "fail-on", \.failOn, .text, check: .expected(OptionChecks.failOn),
            help:
                "Exit with status 1 when a finding at or above this counts: info|low|medium|high|critical|never (default: high; demo: never).",
            valueName: "severity"),
        .list(
            "mx", \.mx, entry: OptionChecks.target,
            help: "A target that is a mail exchanger (repeatable; scanned too): port 25 is expected there.",
            valueName: "target"),
        .value(
            "baseline", \.baseline, .path,
            help: "An earlier JSON report: mark each finding new or unchanged and list resolved ones.",
            valueName: "file"),
        .value(
            "format", \.formats, .commaList, check: .message(OptionChecks.formats), configKeys: ["format", "formats"],
            help:
                "Report formats, comma-separated: json, html, sarif, junit, md, prom (default: \(ScanDefaults.formats)).",
            valueName: "list"),
        .value(
            "output-dir", \.outputDirectory, .path,
            help: "Folder for the reports; created if missing (default: \(ScanDefaults.outputDirectory)).",
            valueName: "dir"),
        .commandLineOnly(
            "output", \.output,
            help:
                "Write the one --format given to this file instead of the output folder; - is standard output (nothing else is printed there; no folder, lock or retention unless --lock-file).",
            valueName: "file"
        ).short("o"),
        .value(
            "progress", \.progress, .choice,
            help: "Progress line on stderr: auto (when stderr is a terminal), always or never.", valueName: "when"),
        .flag(
            "quiet", \.quiet,
            help:
                "Print nothing but errors and warnings, and one line on stderr when the verdict fails (for cron: mail only problems)."
        ).short("q"),
        .flag("verbose", \.verbose, help: "Structured logs on stderr (or --log-file).").short("v"),
        .configOnly(
            "groups", \.groups,
            help: "Named target groups: scanned, and recorded on each host for rules (host.groups).",
            read: readGroups),
        .value(
            "keep", \.keep, .wholeNumber, check: .expected(OptionChecks.keep),
            help: "Keep only the newest N runs' reports in the output folder (default: keep all).", valueName: "n"),
        .value(
            "lock-file", \.lockFile, .path,
            help: "Lock held during the run so two runs never overlap (default: <output-dir>/.mailport.lock).",
            valueName: "file"),
        .value("log-file", \.logFile, .path, help: "Append logs to this file instead of stderr.", valueName: "file"),
        .value(
            "shard", \.shard, .rawText, check: .message(OptionChecks.shard),
            help:
                "Scan part I of N (0-based) of the seeded order; with the same --seed, shards 0…N-1 cover every host×port once. Join the reports with mailport merge.",
            valueName: "I/N"),
        .list(
            "domain", \.domains, configKey: "domains", entry: OptionChecks.domain,
            help:
                "Mail domain to audit from DNS (repeatable): its MX hosts (port 25, judged as MX), RFC 6186 SRV targets and mail./smtp./imap./pop. names are scanned, and the domain itself is judged (MX and SRV records).",
            valueName: "domain"),
        .value(
            "resolver", \.resolver, .text, check: .message(OptionChecks.resolver),
            help: "Resolver for --domain lookups, ADDRESS[:PORT] (default: the nameservers in /etc/resolv.conf).",
            valueName: "address"),
        .flag(
            "syn", \.syn,
            help:
                "Discover with raw SYN packets captured through libpcap instead of connects (needs root or CAP_NET_RAW; --rate is packets per second; without it the rate starts at \(Int(ScanDefaults.synRate)), grows while answers keep coming, up to \(Int(ScanDefaults.synRateCeiling)), and falls on loss)."
        ),
        .value(
            "interface", \.interface, .text, check: .message(OptionChecks.interface),
            help:
                "With --syn: capture on this interface and send from its address (default: the routing table's choice, capture on all).",
            valueName: "name"),
        .value(
            "source-ip", \.sourceIP, .text, check: .message(OptionChecks.sourceIP),
            help: "With --syn: the source address of the SYN packets (an address of this machine).",
            valueName: "address"),
        .commandLineOnly(
            "config", \.configFile,
            help: "YAML file with any of these options under their long names, plus targets, groups and keep.",
            valueName: "file"),
    ]

    /// The option with this long name. Looked up in an index: the argument parser builds each command's property
    /// wrappers (and so calls this) many times per parse, and a walk over the table was most of a parse's time.
    public static func named(_ name: String) -> OptionSpec? { byName[name] }

    private static let byName = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    /// Every key a config file may hold, in table order.
    public static let configKeys = all.flatMap(\.configKeys)

    /// The first problem with the options the command line gave, in table order (one line naming the option).
    public static func commandLineProblem(_ values: OptionValues) -> String? {
        all.lazy.compactMap { $0.problem(commandLine: values) }.first
    }

    /// `groups:` maps a name (a word) to a list of targets.
    private static func readGroups(_ node: YAMLNode) throws -> [String: [String]] {
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
        return groups
    }
}
