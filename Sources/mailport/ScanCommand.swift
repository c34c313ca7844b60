import ArgumentParser
import Foundation
import MailPortConfig
import MailPortCore
import MailPortScan

/// Options every scanning command shares (`scan`, and `demo`, which scans its own lab). Options are optional so
/// that the command line can override a config file: nil means "not given here". Names, help and checks come from
/// `ScanOptions.all`.
struct OutputOptions: ParsableArguments {
    @Option(spec: "format") var format: String?
    @Option(spec: "output-dir") var outputDir: String?
    @Option(spec: "output") var output: String?
    @Option(spec: "progress") var progress: ProgressMode?
    @Flag(spec: "quiet") var quiet = false
    @Flag(spec: "verbose") var verbose = false
    @Option(spec: "log-file") var logFile: String?
    @Option(spec: "keep") var keep: Int?
    @Option(spec: "lock-file") var lockFile: String?

    func validate() throws {
        let given = try validateGivenOptions(self)
        if given.quiet == true && given.verbose == true {
            throw ValidationError("--quiet and --verbose exclude each other; expected at most one")
        }
        if given.output != nil, given.outputDirectory != nil || given.keep != nil {
            throw ValidationError(
                "--output writes one file, not a folder; expected no --output-dir or --keep with it")
        }
    }
}

/// How the mail dialogs after discovery behave.
struct DialogOptions: ParsableArguments {
    @Flag(spec: "discovery-only") var discoveryOnly = false
    @Option(spec: "read-timeout") var readTimeout: Double?
    @Option(spec: "greeting-timeout") var greetingTimeout: Double?
    @Option(spec: "per-host") var perHost: Int?
    @Option(spec: "ehlo-name") var ehloName: String?
    @Option(spec: "ca-file") var caFile: String?
    @Option(spec: "retry-pause") var retryPause: Double?

    func validate() throws { _ = try validateGivenOptions(self) }
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
            (--config); the command line overrides it. A host name that does not resolve is a warning and an \
            entry of scan.targetErrors in the report; the other targets are scanned.

            Examples:
              mailport scan 192.0.2.0/24
              mailport scan mail.example.org --ports 25,587,993,2525=submission --fail-on medium
              mailport scan --domain example.org --domain example.net --format json,html
              sudo mailport scan 10.0.0.0/16 --syn --rate 50000
              mailport scan --targets-file hosts.txt --exclude 192.0.2.1 --format json,html,sarif --output-dir /var/lib/mailport
              mailport scan --config /etc/mailport/audit.yaml --quiet
              mailport scan -iL hosts.txt -p 25,587 --format json -o - | jq .summary
            """
    )

    @Argument(spec: "targets") var targets: [String] = []
    @Option(spec: "config") var config: String?
    @Option(spec: "domain") var domain: [String] = []
    @Option(spec: "resolver") var resolver: String?
    @Option(spec: "targets-file") var targetsFile: String?
    @Option(spec: "exclude") var exclude: [String] = []
    @Option(spec: "exclude-file") var excludeFile: String?
    @Option(spec: "ports") var ports: String?
    @Option(spec: "timeout") var timeout: Double?
    @Option(spec: "concurrency") var concurrency: Int?
    @Option(spec: "rate") var rate: Double?
    @Flag(spec: "syn") var syn = false
    @Option(spec: "interface") var interface: String?
    @Option(spec: "source-ip") var sourceIp: String?
    @Option(spec: "seed") var seed: UInt64?
    @Flag(spec: "allow-large") var allowLarge = false
    @Option(spec: "shard") var shard: String?

    @OptionGroup var dialogs: DialogOptions

    @OptionGroup var judging: RuleOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        let given = try validateGivenOptions(self)
        let targeted = [given.targets, given.mx, given.domains].contains { $0 != nil }
        if !targeted && given.targetsFile == nil && given.configFile == nil {
            throw ValidationError(
                "no targets given; expected at least one target, --targets-file, --mx, --domain or --config")
        }
    }

    /// The command line over the config file over the defaults, with every input problem found.
    func resolvedSettings() throws -> ScanSettings {
        var values = givenOptions(self)
        if let config = values.configFile { values = values.overriding(try ConfigFile.load(config)) }
        return try ScanSettings.resolve(values)
    }

    func run() async throws {
        let settings = try resolvedSettings()
        let status = try await ScanRunner.run(settings)
        if status != ExitStatus.clean { throw ExitCode(status) }
    }
}
