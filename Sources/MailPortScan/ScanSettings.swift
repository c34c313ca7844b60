import Foundation
import MailPortConfig
import MailPortCore
import MailPortDNS
import MailPortReport
import MailPortTargets

/// Everything a scan needs, resolved from the command line, the config file and the defaults, in that order.
public struct ScanSettings: Sendable {
    public var targets: [String]
    public var excludes: [String]
    public var ports: [PortSpec]
    /// The connect timeout's upper bound (`--timeout`).
    public var timeout: Duration
    public var concurrency: Int
    public var rate: Double?
    public var seed: UInt64
    public var allowLarge: Bool
    public var formats: [ReportFormat]
    public var outputDirectory: String
    /// `--output`: the one format to a file or standard output instead of the folder (nil: the folder).
    public var output: ReportDestination?
    public var progress: ProgressMode
    public var quiet: Bool
    public var verbose: Bool
    public var discoveryOnly: Bool = false
    /// The wait for a server's next line (`--read-timeout`), and for each TLS handshake.
    public var readTimeout: Duration = .seconds(ScanDefaults.readTimeout)
    /// The wait for a greeting's lines (`--greeting-timeout`): longer than the read timeout, for postscreen and
    /// greet_pause.
    public var greetingTimeout: Duration = .seconds(ScanDefaults.greetingTimeout)
    public var perHost: Int = ScanDefaults.perHost
    public var ehloName: String = ScanDefaults.ehloName
    /// The pause before a busy, reset or timed-out dialog is tried again (`--retry-pause`).
    public var retryPause: Duration = .seconds(ScanDefaults.retryPause)
    /// Extra trust anchors for certificate verification (`--ca-file`).
    public var caFile: String?
    public var resolver: any HostResolver = SystemResolver()
    /// Targets declared as mail exchangers (`--mx`); they are part of `targets` too.
    public var mxTargets: [String] = []
    /// Rules, profile, waivers and --fail-on, loaded before the scan starts.
    public var judgement: Judgement
    /// Named target groups (config file): scanned, and recorded on each host for rules.
    public var groups: [String: [String]] = [:]
    /// Retention: keep the newest N runs in the output folder.
    public var keep: Int?
    /// The run's lock (default: `.mailport.lock` in the output folder).
    public var lockFile: String?
    /// Logs go here (appended) instead of stderr.
    public var logFile: String?
    /// This run's part of a split scan.
    public var shard: Shard = .whole
    /// Mail domains to audit from DNS (`--domain`).
    public var domains: [String] = []
    /// The resolver for domain mode; nil means /etc/resolv.conf.
    public var dnsResolver: ResolverAddress?
    /// Raw SYN discovery (`--syn`), and where its packets leave from.
    public var syn = false
    public var interface: String?
    public var sourceIP: IPAddress?
    /// A run with more open endpoints than this keeps its judged hosts on disk (`HostList`) rather than in memory.
    /// The environment's `MAILPORT_SPOOL_ABOVE` sets it (tests spool every run with 0, benchmarks compare).
    public var spoolAboveEndpoints: UInt64 = ScanSettings.defaultSpoolAboveEndpoints

    /// About 50 MB of hosts in memory (a judged endpoint holds about 25 KB): below it, spooling costs more than it
    /// saves.
    public static let defaultSpoolAboveEndpoints: UInt64 = 2000

    /// Merges what was given with the defaults, reads the targets files and loads rules, waivers and baseline:
    /// every input problem surfaces here, before anything is scanned.
    public static func resolve(
        _ values: OptionValues, defaultFailOn: FailThreshold = .severity(.high)
    ) throws -> ScanSettings {
        var targets = values.targets ?? []
        if let file = values.targetsFile { targets += try readTargetsFile(file) }
        var excludes = values.exclude ?? []
        if let file = values.excludeFile { excludes += try readTargetsFile(file) }
        let mx = values.mx ?? []
        let groups = values.groups ?? [:]
        for extra in mx + groups.keys.sorted().flatMap({ groups[$0]! }) where !targets.contains(extra) {
            targets.append(extra)
        }
        let domains = values.domains ?? []
        guard !targets.isEmpty || !domains.isEmpty else {
            throw MailPortError.invalidInput(
                "no targets given; expected at least one target, --targets-file, --mx, --domain or targets in --config")
        }

        if values.quiet == true && values.verbose == true {
            throw MailPortError.invalidInput("quiet and verbose exclude each other; expected at most one")
        }
        if let problem = ReportDestination.problem(output: values.output, formats: values.formats) {
            throw MailPortError.invalidInput(problem)
        }
        let shard = try values.shard.map { try Shard($0) } ?? .whole
        if !shard.isWhole && values.seed == nil {
            throw MailPortError.invalidInput(
                "--shard \(shard) needs --seed; expected the same seed on every shard so they share one order")
        }
        if !domains.isEmpty && !shard.isWhole {
            throw MailPortError.invalidInput(
                "--domain cannot be combined with --shard \(shard); expected a domain audit to run whole")
        }
        let dnsResolver = try values.resolver.map { try ResolverAddress(parsing: $0) }
        let failOn = try values.failOn.map(OptionChecks.failThreshold) ?? defaultFailOn
        var settings = ScanSettings(
            targets: targets, excludes: excludes, ports: try parsePortList(values.ports ?? ScanDefaults.ports),
            timeout: .seconds(values.timeout ?? ScanDefaults.timeout),
            concurrency: values.concurrency ?? ScanDefaults.concurrency, rate: values.rate,
            seed: values.seed ?? UInt64.random(in: 0...UInt64.max), allowLarge: values.allowLarge ?? false,
            formats: try ReportFormat.parseList(values.formats ?? ScanDefaults.formats),
            outputDirectory: values.outputDirectory ?? ScanDefaults.outputDirectory,
            output: values.output.map(ReportDestination.init),
            progress: values.progress ?? .auto, quiet: values.quiet ?? false, verbose: values.verbose ?? false,
            discoveryOnly: values.discoveryOnly ?? false,
            readTimeout: .seconds(values.readTimeout ?? ScanDefaults.readTimeout),
            greetingTimeout: .seconds(values.greetingTimeout ?? ScanDefaults.greetingTimeout),
            perHost: values.perHost ?? ScanDefaults.perHost, ehloName: values.ehloName ?? ScanDefaults.ehloName,
            retryPause: .seconds(values.retryPause ?? ScanDefaults.retryPause), caFile: values.caFile,
            mxTargets: mx,
            judgement: try Judgement.load(
                rules: values.rules ?? [], profile: values.profile ?? ScanDefaults.profile,
                waivers: values.waivers, failOn: failOn, baseline: values.baseline),
            groups: groups, keep: values.keep, lockFile: values.lockFile, logFile: values.logFile, shard: shard,
            domains: domains, dnsResolver: dnsResolver, syn: values.syn ?? false, interface: values.interface,
            sourceIP: try values.sourceIP.map { text in
                guard let address = IPAddress(text) else {
                    throw MailPortError.invalidInput(OptionChecks.sourceIP(text)!)
                }
                return address
            }
        )
        if let text = ProcessInfo.processInfo.environment["MAILPORT_SPOOL_ABOVE"] {
            guard let value = UInt64(text) else {
                throw MailPortError.invalidInput(
                    "MAILPORT_SPOOL_ABOVE '\(printable(text))' is not a count; expected open endpoints, 0 or more")
            }
            settings.spoolAboveEndpoints = value
        }
        return settings
    }

    private static func readTargetsFile(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MailPortError.invalidInput(
                "cannot read targets file '\(printable(path))'; expected a readable text file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MailPortError.invalidInput(
                "targets file '\(printable(path))' is not UTF-8 text; expected one target per line")
        }
        return try readTargetTokens(fromFileContents: text, fileName: path)
    }
}

extension Duration {
    /// To the nearest nanosecond, for the discovery, dialog and NIO APIs that count them.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(seconds) * 1_000_000_000 + UInt64((attoseconds + 500_000_000) / 1_000_000_000)
    }
}
