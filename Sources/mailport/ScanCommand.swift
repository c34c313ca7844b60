import ArgumentParser
import Foundation
import MailPortCore
import MailPortReport
import MailPortTargets

/// Options every scanning command shares (`scan`, and `demo`, which scans its own lab).
struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "Report formats, comma-separated: json, html, sarif, junit, md, prom.")
    var format: String = ReportFormat.defaults.map(\.rawValue).joined(separator: ",")

    @Option(name: .customLong("output-dir"), help: "Folder for the reports; created if missing.")
    var outputDirectory: String = "Reports"

    @Option(help: ArgumentHelp("Progress line on stderr: auto (when stderr is a terminal), always or never.", valueName: "when"))
    var progress: ProgressMode = .auto

    @Flag(help: "Print nothing but errors (for cron: mail only problems).")
    var quiet = false

    @Flag(help: "Structured logs on stderr.")
    var verbose = false

    func validate() throws {
        do {
            _ = try ReportFormat.parseList(format)
        } catch {
            throw ValidationError(error.message)
        }
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other; expected at most one") }
    }
}

/// How the mail dialogs after discovery behave.
struct DialogOptions: ParsableArguments {
    @Flag(name: .customLong("discovery-only"), help: "Stop after layer-4 discovery (states only, no dialogs).")
    var discoveryOnly = false

    @Option(name: .customLong("read-timeout"), help: ArgumentHelp("Longest wait for a server's next line, in seconds.", valueName: "seconds"))
    var readTimeout: Double = 5

    @Option(name: .customLong("per-host"), help: "Dialogs at once with one address (mail servers answer bursts with 421).")
    var perHost: Int = 2

    @Option(name: .customLong("ehlo-name"), help: "Name sent with EHLO/HELO.")
    var ehloName: String = "mailport.invalid"

    @Option(name: .customLong("ca-file"), help: "Extra trust anchors (PEM) for certificate verification, e.g. a private CA.")
    var caFile: String?

    @Option(name: .customLong("retry-pause"), help: ArgumentHelp("Pause before retrying a busy, reset or timed-out dialog, in seconds.", valueName: "seconds"))
    var retryPause: Double = 2

    func validate() throws {
        guard readTimeout.isFinite, readTimeout > 0, readTimeout <= 300 else {
            throw ValidationError("invalid --read-timeout '\(readTimeout)'; expected seconds above 0 and at most 300")
        }
        guard (1...64).contains(perHost) else {
            throw ValidationError("invalid --per-host '\(perHost)'; expected 1 to 64")
        }
        guard retryPause.isFinite, (0...600).contains(retryPause) else {
            throw ValidationError("invalid --retry-pause '\(retryPause)'; expected 0 to 600 seconds")
        }
        let allowed = ehloName.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "[")
                || byte == UInt8(ascii: "]") || byte == UInt8(ascii: ":")
        }
        guard allowed, !ehloName.isEmpty, ehloName.utf8.count <= 255 else {
            throw ValidationError("invalid --ehlo-name '\(printable(ehloName))'; expected a domain name or address literal")
        }
    }

    func apply(to settings: ScanSettings) -> ScanSettings {
        var settings = settings
        settings.discoveryOnly = discoveryOnly
        settings.readTimeoutSeconds = readTimeout
        settings.perHost = perHost
        settings.ehloName = ehloName
        settings.retryPauseSeconds = retryPause
        settings.caFile = caFile
        return settings
    }
}

enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find open mail ports across addresses, ranges and host names.",
        discussion: """
            Targets: IPv4/IPv6 addresses, CIDR blocks (192.0.2.0/24, 2001:db8::/120), ranges (192.0.2.10-192.0.2.20 \
            or 192.0.2.10-20) and host names (A and AAAA are both scanned). Probes are visited in a seeded random \
            order so no subnet takes a burst; --seed repeats an order.

            Examples:
              mailport scan 192.0.2.0/24
              mailport scan mail.example.org --ports 25,587,993,2525=submission
              mailport scan --targets-file hosts.txt --exclude 192.0.2.1 --format json --output-dir /var/lib/mailport
            """
    )

    @Argument(help: "Addresses, CIDR blocks, ranges or host names to scan.")
    var targets: [String] = []

    @Option(name: .customLong("targets-file"), help: "File with more targets, one or more per line; # comments.")
    var targetsFile: String?

    @Option(help: "Target to leave out (repeatable); same forms as targets.")
    var exclude: [String] = []

    @Option(name: .customLong("exclude-file"), help: "File of targets to leave out.")
    var excludeFile: String?

    @Option(help: "Ports to scan: standard mail ports and PORT=SERVICE entries (e.g. 2525=submission).")
    var ports: String = PortSpec.defaults.map { String($0.port) }.joined(separator: ",")

    @Option(help: ArgumentHelp("Connect timeout bound in seconds; the timeout adapts to round-trip times below it.", valueName: "seconds"))
    var timeout: Double = 1.0

    @Option(help: "Connections in flight at once (clamped below the open-file limit).")
    var concurrency: Int = 2048

    @Option(help: "New connections per second (default: no limit beyond --concurrency).")
    var rate: Double?

    @Option(help: "Seed of the probe order (default: random, recorded in the report).")
    var seed: UInt64?

    @Flag(name: .customLong("allow-large"), help: "Allow scans of more than 2^20 probes.")
    var allowLarge = false

    @OptionGroup var dialogs: DialogOptions

    @OptionGroup var judging: RuleOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        for token in targets + exclude {
            do { _ = try TargetSpec.parse(token) } catch { throw ValidationError(error.message) }
        }
        do { _ = try parsePortList(ports) } catch { throw ValidationError(error.message) }
        guard timeout.isFinite, timeout > 0, timeout <= 300 else {
            throw ValidationError("invalid --timeout '\(timeout)'; expected seconds above 0 and at most 300")
        }
        guard (1...1_000_000).contains(concurrency) else {
            throw ValidationError("invalid --concurrency '\(concurrency)'; expected 1 to 1000000")
        }
        if let rate, !(rate.isFinite && rate > 0 && rate <= 10_000_000) {
            throw ValidationError("invalid --rate '\(rate)'; expected connections per second above 0 and at most 10000000")
        }
        if targets.isEmpty && targetsFile == nil && judging.mx.isEmpty {
            throw ValidationError("no targets given; expected at least one target, --targets-file or --mx")
        }
    }

    func run() async throws {
        var allTargets = targets
        if let targetsFile { allTargets += try readTokens(from: targetsFile) }
        allTargets += judging.mx.filter { !allTargets.contains($0) }
        var allExcludes = exclude
        if let excludeFile { allExcludes += try readTokens(from: excludeFile) }
        let settings = ScanSettings(
            targets: allTargets, excludes: allExcludes, ports: try parsePortList(ports),
            timeoutSeconds: timeout, concurrency: concurrency, rate: rate,
            seed: seed ?? UInt64.random(in: 0...UInt64.max), allowLarge: allowLarge,
            formats: try ReportFormat.parseList(output.format), outputDirectory: output.outputDirectory,
            progress: output.progress, quiet: output.quiet, verbose: output.verbose,
            mxTargets: judging.mx, judgement: try judging.makeJudgement()
        )
        let status = try await ScanPipeline(settings: dialogs.apply(to: settings)).run()
        if status != ExitStatus.clean { throw ExitCode(status) }
    }

    private func readTokens(from path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MailPortError.invalidInput("cannot read targets file '\(printable(path))'; expected a readable text file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MailPortError.invalidInput("targets file '\(printable(path))' is not UTF-8 text; expected one target per line")
        }
        return try readTargetTokens(fromFileContents: text, fileName: path)
    }
}
