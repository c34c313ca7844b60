import ArgumentParser
import Foundation
import MailPortConfig
import MailPortCore
import MailPortDiscovery
import MailPortReport
import MailPortScan
import MailPortTargets

/// Options every scanning command shares (`scan`, and `demo`, which scans its own lab). Options are optional so
/// that the command line can override a config file: nil means "not given here".
struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Report formats, comma-separated: json, html, sarif, junit, md, prom (default: \(ScanDefaults.formats)).", valueName: "list"))
    var format: String?

    @Option(name: .customLong("output-dir"), help: ArgumentHelp("Folder for the reports; created if missing (default: \(ScanDefaults.outputDirectory)).", valueName: "dir"))
    var outputDirectory: String?

    @Option(help: ArgumentHelp("Progress line on stderr: auto (when stderr is a terminal), always or never.", valueName: "when"))
    var progress: ProgressMode?

    @Flag(help: "Print nothing but errors (for cron: mail only problems).")
    var quiet = false

    @Flag(help: "Structured logs on stderr (or --log-file).")
    var verbose = false

    @Option(name: .customLong("log-file"), help: ArgumentHelp("Append logs to this file instead of stderr.", valueName: "file"))
    var logFile: String?

    @Option(help: ArgumentHelp("Keep only the newest N runs' reports in the output folder (default: keep all).", valueName: "n"))
    var keep: Int?

    @Option(name: .customLong("lock-file"), help: ArgumentHelp("Lock held during the run so two runs never overlap (default: <output-dir>/.mailport.lock).", valueName: "file"))
    var lockFile: String?

    func validate() throws {
        if let format, let problem = OptionChecks.formats(format) { throw ValidationError(problem) }
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other; expected at most one") }
        if let keep, let expected = OptionChecks.keep(keep) { throw ValidationError("invalid --keep '\(keep)'; expected \(expected)") }
    }

    func values(into values: inout OptionValues) {
        values.formats = format
        values.outputDirectory = outputDirectory
        values.progress = progress
        values.quiet = quiet ? true : nil
        values.verbose = verbose ? true : nil
        values.logFile = logFile
        values.keep = keep
        values.lockFile = lockFile
    }
}

/// How the mail dialogs after discovery behave.
struct DialogOptions: ParsableArguments {
    @Flag(name: .customLong("discovery-only"), help: "Stop after layer-4 discovery (states only, no dialogs).")
    var discoveryOnly = false

    @Option(name: .customLong("read-timeout"), help: ArgumentHelp("Longest wait for a server's next line, in seconds (default: \(ScanDefaults.readTimeout)).", valueName: "seconds"))
    var readTimeout: Double?

    @Option(name: .customLong("greeting-timeout"), help: ArgumentHelp("Longest wait for a greeting's lines, in seconds: servers such as postscreen hold their greeting and drop clients that speak early (default: \(ScanDefaults.greetingTimeout)).", valueName: "seconds"))
    var greetingTimeout: Double?

    @Option(name: .customLong("per-host"), help: ArgumentHelp("Dialogs at once with one address; mail servers answer bursts with 421 (default: \(ScanDefaults.perHost)).", valueName: "n"))
    var perHost: Int?

    @Option(name: .customLong("ehlo-name"), help: ArgumentHelp("Name sent with EHLO/HELO (default: \(ScanDefaults.ehloName)).", valueName: "name"))
    var ehloName: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("Extra trust anchors (PEM) for certificate verification, e.g. a private CA.", valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("retry-pause"), help: ArgumentHelp("Pause before retrying a busy, reset or timed-out dialog, in seconds (default: \(ScanDefaults.retryPause)).", valueName: "seconds"))
    var retryPause: Double?

    func validate() throws {
        if let readTimeout, let expected = OptionChecks.timeout(readTimeout) {
            throw ValidationError("invalid --read-timeout '\(readTimeout)'; expected \(expected)")
        }
        if let greetingTimeout, let expected = OptionChecks.timeout(greetingTimeout) {
            throw ValidationError("invalid --greeting-timeout '\(greetingTimeout)'; expected \(expected)")
        }
        if let perHost, let expected = OptionChecks.perHost(perHost) {
            throw ValidationError("invalid --per-host '\(perHost)'; expected \(expected)")
        }
        if let retryPause, let expected = OptionChecks.retryPause(retryPause) {
            throw ValidationError("invalid --retry-pause '\(retryPause)'; expected \(expected)")
        }
        if let ehloName, let expected = OptionChecks.ehloName(ehloName) {
            throw ValidationError("invalid --ehlo-name '\(printable(ehloName))'; expected \(expected)")
        }
    }

    func values(into values: inout OptionValues) {
        values.discoveryOnly = discoveryOnly ? true : nil
        values.readTimeout = readTimeout
        values.greetingTimeout = greetingTimeout
        values.perHost = perHost
        values.ehloName = ehloName
        values.caFile = caFile
        values.retryPause = retryPause
    }
}

extension ProgressMode: ExpressibleByArgument {}

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find open mail ports across addresses, ranges and host names, and audit them.",
        discussion: """
            Targets: IPv4/IPv6 addresses, CIDR blocks (192.0.2.0/24, 2001:db8::/120), ranges (192.0.2.10-192.0.2.20 \
            or 192.0.2.10-20) and host names (A and AAAA are both scanned). Probes are visited in a seeded random \
            order so no subnet takes a burst; --seed repeats an order. Options can also come from a YAML file \
            (--config); the command line overrides it.

            Examples:
              mailport scan 192.0.2.0/24
              mailport scan mail.example.org --ports 25,587,993,2525=submission --fail-on medium
              mailport scan --domain example.org --domain example.net --format json,html
              sudo mailport scan 10.0.0.0/16 --syn --rate 50000
              mailport scan --targets-file hosts.txt --exclude 192.0.2.1 --format json,html,sarif --output-dir /var/lib/mailport
              mailport scan --config /etc/mailport/audit.yaml --quiet
            """
    )

    @Argument(help: "Addresses, CIDR blocks, ranges or host names to scan.")
    var targets: [String] = []

    @Option(help: ArgumentHelp("YAML file with any of these options under their long names, plus targets, groups and keep.", valueName: "file"))
    var config: String?

    @Option(name: .customLong("domain"), help: ArgumentHelp("Mail domain to audit from DNS (repeatable): its MX hosts (port 25, judged as MX), RFC 6186 SRV targets and mail./smtp./imap./pop. names are scanned, and the domain itself is judged (MX and SRV records).", valueName: "domain"))
    var domains: [String] = []

    @Option(help: ArgumentHelp("Resolver for --domain lookups, ADDRESS[:PORT] (default: the nameservers in /etc/resolv.conf).", valueName: "address"))
    var resolver: String?

    @Option(name: .customLong("targets-file"), help: ArgumentHelp("File with more targets, one or more per line; # comments.", valueName: "file"))
    var targetsFile: String?

    @Option(help: ArgumentHelp("Target to leave out (repeatable); same forms as targets.", valueName: "target"))
    var exclude: [String] = []

    @Option(name: .customLong("exclude-file"), help: ArgumentHelp("File of targets to leave out.", valueName: "file"))
    var excludeFile: String?

    @Option(help: ArgumentHelp("Ports: standard mail ports and PORT=SERVICE entries, e.g. 2525=submission (default: \(ScanDefaults.ports)).", valueName: "list"))
    var ports: String?

    @Option(help: ArgumentHelp("Connect timeout bound in seconds; the timeout adapts to round-trip times below it (default: \(ScanDefaults.timeout)).", valueName: "seconds"))
    var timeout: Double?

    @Option(help: ArgumentHelp("Connections in flight at once, clamped below the open-file limit (default: \(ScanDefaults.concurrency)).", valueName: "n"))
    var concurrency: Int?

    @Option(help: ArgumentHelp("New connections per second (default: no limit beyond --concurrency).", valueName: "n"))
    var rate: Double?

    @Flag(help: "Discover with raw SYN packets captured through libpcap instead of connects (needs root or CAP_NET_RAW; --rate is packets per second, default \(Int(SynOptions.defaultRate))).")
    var syn = false

    @Option(help: ArgumentHelp("With --syn: capture on this interface and send from its address (default: the routing table's choice, capture on all).", valueName: "name"))
    var interface: String?

    @Option(name: .customLong("source-ip"), help: ArgumentHelp("With --syn: the source address of the SYN packets (an address of this machine).", valueName: "address"))
    var sourceIP: String?

    @Option(help: ArgumentHelp("Seed of the probe order (default: random, recorded in the report).", valueName: "n"))
    var seed: UInt64?

    @Flag(name: .customLong("allow-large"), help: "Allow scans of more than 2^20 probes.")
    var allowLarge = false

    @Option(help: ArgumentHelp("Scan part I of N (0-based) of the seeded order; with the same --seed, shards 0…N-1 cover every host×port once. Join the reports with mailport merge.", valueName: "I/N"))
    var shard: String?

    @OptionGroup var dialogs: DialogOptions

    @OptionGroup var judging: RuleOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        for token in targets + exclude {
            if let problem = OptionChecks.target(token) { throw ValidationError(problem) }
        }
        if let ports, let problem = OptionChecks.ports(ports) { throw ValidationError(problem) }
        if let timeout, let expected = OptionChecks.timeout(timeout) {
            throw ValidationError("invalid --timeout '\(timeout)'; expected \(expected)")
        }
        if let concurrency, let expected = OptionChecks.concurrency(concurrency) {
            throw ValidationError("invalid --concurrency '\(concurrency)'; expected \(expected)")
        }
        if let shard {
            do { _ = try Shard(shard) } catch { throw ValidationError(error.message) }
        }
        if let rate, let expected = OptionChecks.rate(rate) {
            throw ValidationError("invalid --rate '\(rate)'; expected \(expected)")
        }
        for domain in domains {
            if let problem = OptionChecks.domain(domain) { throw ValidationError(problem) }
        }
        if let resolver, let problem = OptionChecks.resolver(resolver) { throw ValidationError(problem) }
        if let interface, let problem = OptionChecks.interface(interface) { throw ValidationError(problem) }
        if let sourceIP, let problem = OptionChecks.sourceIP(sourceIP) { throw ValidationError(problem) }
        if targets.isEmpty && targetsFile == nil && judging.mx.isEmpty && domains.isEmpty && config == nil {
            throw ValidationError("no targets given; expected at least one target, --targets-file, --mx, --domain or --config")
        }
    }

    /// What the command line gave (nil where it gave nothing).
    var commandLineValues: OptionValues {
        var values = OptionValues()
        values.targets = targets.isEmpty ? nil : targets
        values.targetsFile = targetsFile
        values.exclude = exclude.isEmpty ? nil : exclude
        values.excludeFile = excludeFile
        values.ports = ports
        values.timeout = timeout
        values.concurrency = concurrency
        values.rate = rate
        values.seed = seed
        values.allowLarge = allowLarge ? true : nil
        values.shard = shard
        values.domains = domains.isEmpty ? nil : domains
        values.resolver = resolver
        values.syn = syn ? true : nil
        values.interface = interface
        values.sourceIP = sourceIP
        dialogs.values(into: &values)
        judging.values(into: &values)
        output.values(into: &values)
        return values
    }

    func run() async throws {
        var values = commandLineValues
        if let config { values = values.overriding(try ConfigFile.load(config)) }
        let settings = try ScanSettings.resolve(values)
        let status = try await ScanRunner.run(settings)
        if status != ExitStatus.clean { throw ExitCode(status) }
    }
}
