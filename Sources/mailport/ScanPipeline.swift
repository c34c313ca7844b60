import Foundation
import Logging
import MailPortConfig
import MailPortCore
import MailPortDNS
import MailPortDiscovery
import MailPortProbe
import MailPortTLS
import NIOCore
import NIOPosix
import MailPortReport
import MailPortRules
import MailPortTargets

/// Everything a scan needs, resolved from the command line, the config file and the defaults, in that order.
struct ScanSettings: Sendable {
    var targets: [String]
    var excludes: [String]
    var ports: [PortSpec]
    var timeoutSeconds: Double
    var concurrency: Int
    var rate: Double?
    var seed: UInt64
    var allowLarge: Bool
    var formats: [ReportFormat]
    var outputDirectory: String
    var progress: ProgressMode
    var quiet: Bool
    var verbose: Bool
    var discoveryOnly: Bool = false
    var readTimeoutSeconds: Double = 5
    var perHost: Int = 2
    var ehloName: String = "mailport.invalid"
    var retryPauseSeconds: Double = 2
    /// Extra trust anchors for certificate verification (`--ca-file`).
    var caFile: String?
    var resolver: any HostResolver = SystemResolver()
    /// Targets declared as mail exchangers (`--mx`); they are part of `targets` too.
    var mxTargets: [String] = []
    /// Rules, profile, waivers and --fail-on, loaded before the scan starts.
    var judgement: Judgement
    /// Named target groups (config file): scanned, and recorded on each host for rules.
    var groups: [String: [String]] = [:]
    /// Retention: keep the newest N runs in the output folder.
    var keep: Int?
    /// The run's lock (default: `.mailport.lock` in the output folder).
    var lockFile: String?
    /// Logs go here (appended) instead of stderr.
    var logFile: String?
    /// This run's part of a split scan.
    var shard: Shard = .whole
    /// Mail domains to audit from DNS (`--domain`).
    var domains: [String] = []
    /// The resolver for domain mode; nil means /etc/resolv.conf.
    var dnsResolver: ResolverAddress?
    /// Raw SYN discovery (`--syn`), and where its packets leave from.
    var syn = false
    var interface: String?
    var sourceIP: IPAddress?

    /// Merges what was given with the defaults, reads the targets files and loads rules, waivers and baseline:
    /// every input problem surfaces here, before anything is scanned.
    static func resolve(_ values: OptionValues, defaultFailOn: FailThreshold = .severity(.high)) throws -> ScanSettings {
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
            throw MailPortError.invalidInput("no targets given; expected at least one target, --targets-file, --mx, --domain or targets in --config")
        }

        if values.quiet == true && values.verbose == true {
            throw MailPortError.invalidInput("quiet and verbose exclude each other; expected at most one")
        }
        let shard = try values.shard.map { try Shard($0) } ?? .whole
        if !shard.isWhole && values.seed == nil {
            throw MailPortError.invalidInput("--shard \(shard) needs --seed; expected the same seed on every shard so they share one order")
        }
        if !domains.isEmpty && !shard.isWhole {
            throw MailPortError.invalidInput("--domain cannot be combined with --shard \(shard); expected a domain audit to run whole")
        }
        let dnsResolver = try values.resolver.map { try ResolverAddress(parsing: $0) }
        let failOn = try values.failOn.map(OptionChecks.failThreshold) ?? defaultFailOn
        return ScanSettings(
            targets: targets, excludes: excludes, ports: try parsePortList(values.ports ?? ScanDefaults.ports),
            timeoutSeconds: values.timeout ?? ScanDefaults.timeout,
            concurrency: values.concurrency ?? ScanDefaults.concurrency, rate: values.rate,
            seed: values.seed ?? UInt64.random(in: 0...UInt64.max), allowLarge: values.allowLarge ?? false,
            formats: try ReportFormat.parseList(values.formats ?? ScanDefaults.formats),
            outputDirectory: values.outputDirectory ?? ScanDefaults.outputDirectory,
            progress: values.progress ?? .auto, quiet: values.quiet ?? false, verbose: values.verbose ?? false,
            discoveryOnly: values.discoveryOnly ?? false, readTimeoutSeconds: values.readTimeout ?? ScanDefaults.readTimeout,
            perHost: values.perHost ?? ScanDefaults.perHost, ehloName: values.ehloName ?? ScanDefaults.ehloName,
            retryPauseSeconds: values.retryPause ?? ScanDefaults.retryPause, caFile: values.caFile,
            mxTargets: mx,
            judgement: try Judgement.load(rules: values.rules ?? [], profile: values.profile ?? ScanDefaults.profile,
                                          waivers: values.waivers, failOn: failOn, baseline: values.baseline),
            groups: groups, keep: values.keep, lockFile: values.lockFile, logFile: values.logFile, shard: shard,
            domains: domains, dnsResolver: dnsResolver, syn: values.syn ?? false, interface: values.interface,
            sourceIP: try values.sourceIP.map { text in
                guard let address = IPAddress(text) else { throw MailPortError.invalidInput(OptionChecks.sourceIP(text)!) }
                return address
            }
        )
    }

    private static func readTargetsFile(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MailPortError.invalidInput("cannot read targets file '\(printable(path))'; expected a readable text file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MailPortError.invalidInput("targets file '\(printable(path))' is not UTF-8 text; expected one target per line")
        }
        return try readTargetTokens(fromFileContents: text, fileName: path)
    }
}

/// Wires the stages: targets → discovery → report. Each stage lives in its own library; this only passes values
/// from one to the next and decides the exit status.
struct ScanPipeline {
    var settings: ScanSettings

    func run() async throws -> Int32 {
        var settings = settings
        let logger = try makeLogger()
        // Fail on a bad output folder or CA file before the scan, not after it.
        try AtomicFile.prepareDirectory(settings.outputDirectory)
        // --syn without the privilege to send raw packets is exit 3 before anything else: no silent fallback.
        if settings.syn { try SynScanner.checkPrivileges() }
        // Cron may start a run while the last one is still going: never two at once in one folder.
        let lock = try RunLock(path: settings.lockFile ?? "\(settings.outputDirectory)/.mailport.lock")
        defer { withExtendedLifetime(lock) {} }
        let tls: OpenSSLUpgrader
        let versionProbes: [HandshakeProbe]
        let cipherClassProbes: [HandshakeProbe]
        let permissiveTLS: OpenSSLUpgrader
        do {
            let handshakeTimeout = TimeAmount.nanoseconds(Int64(settings.readTimeoutSeconds * 1e9))
            tls = try OpenSSLUpgrader(caFile: settings.caFile, handshakeTimeout: handshakeTimeout)
            versionProbes = try OpenSSLUpgrader.versionProbes(handshakeTimeout: handshakeTimeout)
            cipherClassProbes = OpenSSLUpgrader.cipherClassProbes(handshakeTimeout: handshakeTimeout)
            permissiveTLS = try OpenSSLUpgrader(permissiveWithCAFile: settings.caFile, handshakeTimeout: handshakeTimeout)
        } catch {
            throw MailPortError.invalidInput("\(error.message); expected --ca-file to name a PEM file of CA certificates")
        }

        // Stage 1b: domains to hosts through DNS; what it found joins the targets, MX names and ports.
        var domains: [DomainObservation]?
        let dnsStarted = monotonicNanoseconds()
        if !settings.domains.isEmpty {
            let found = try discoverDomains(logger: logger)
            domains = found.domains
            for name in found.addressesByName.keys.sorted() where !settings.targets.contains(name) {
                settings.targets.append(name)
            }
            settings.mxTargets += found.mxNames.filter { !settings.mxTargets.contains($0) }
            settings.ports += found.extraPorts.filter { extra in !settings.ports.contains { $0.port == extra.port } }
            settings.resolver = LayeredResolver(known: found.addressesByName, fallback: settings.resolver)
        }
        let space = settings.targets.isEmpty ? TargetSpace.empty
            : try TargetSpace(targets: settings.targets, excludes: settings.excludes, resolver: settings.resolver)
        let mxSpace = settings.mxTargets.isEmpty ? nil
            : try TargetSpace(targets: settings.mxTargets, excludes: settings.excludes, resolver: settings.resolver)
        let groupSpaces = try settings.groups.keys.sorted().map { name in
            (name, try TargetSpace(targets: settings.groups[name]!, excludes: settings.excludes, resolver: settings.resolver))
        }
        let plan = try ProbePlan(space: space, ports: settings.ports, seed: settings.seed, allowLarge: settings.allowLarge,
                                 shard: settings.shard)
        logger.info("scan planned", metadata: [
            "scan.addresses": "\(space.addresses.count)", "scan.ports": "\(settings.ports.count)",
            "scan.probes": "\(plan.count)", "scan.seed": "\(settings.seed)",
        ])

        let dnsSeconds = settings.domains.isEmpty ? nil : Self.seconds(since: dnsStarted)
        let startedAt = Date()
        let discoveryStarted = monotonicNanoseconds()
        let interruption = InterruptFlag.install()
        let progressLine = ProgressLine(mode: settings.progress, quiet: settings.quiet)
        let scanner: any PortDiscoverer = settings.syn
            ? SynScanner(
                options: SynOptions(rate: settings.rate, cooldownNanoseconds: UInt64(settings.timeoutSeconds * 1e9),
                                    interface: settings.interface, sourceIP: settings.sourceIP),
                logger: logger)
            : ConnectScanner(
                options: DiscoveryOptions(
                    concurrency: settings.concurrency, rate: settings.rate,
                    timeoutNanoseconds: UInt64(settings.timeoutSeconds * 1e9)
                ),
                logger: logger)
        let prober = makeProber(tls: tls, versionProbes: versionProbes, cipherClassProbes: cipherClassProbes,
                                permissiveTLS: permissiveTLS, logger: logger)
        // Stages 2 and 3 overlap: each open endpoint goes to the dialogs the moment discovery finds it, so the TLS
        // work of the first hosts runs while the sweep goes on. Only when the open-file limit has room for both
        // (a low `ulimit -n` runs them one after the other, as discovery then needs every descriptor).
        let dialogSockets = settings.discoveryOnly ? 0 : Self.dialogConcurrency(settings)
        // SYN discovery holds a raw socket per family and a capture handle; connect discovery one socket per probe.
        let discoverySockets = settings.syn ? 16 : settings.concurrency
        let overlap = dialogSockets > 0
            && FileDescriptorLimit.raise(toAtLeast: discoverySockets + dialogSockets + FileDescriptorLimit.reserved)
                >= discoverySockets + dialogSockets + FileDescriptorLimit.reserved
        let (arriving, handOver) = AsyncStream.makeStream(of: ProbeTarget.self)
        let names = space.names
        // With the overlap, dialogs start with discovery.
        var dialogsStarted = monotonicNanoseconds()
        async let overlapped: [ProbeTarget: DialogObservation] = overlap
            ? interruption.cancelling { await prober.probeAll(arriving: arriving, shouldStop: { interruption.isRaised }) }
            : [:]
        // The discovery loop blocks its thread; keep it off the cooperative pool.
        let discovered: (DiscoveryEnd, DiscoveryProgress, DiscoveryResults)
        do {
            discovered = try await runOnDedicatedThread {
                var collected = DiscoveryResults()
                let record: (PortObservation) -> Void = { observation in
                    collected.record(observation)
                    if overlap && observation.state == .open {
                        let address = observation.probe.address
                        handOver.yield(ProbeTarget(address: address, port: observation.probe.port, names: names[address] ?? []))
                    }
                }
                let (end, counters) = try scanner.run(probes: plan, planned: plan.count, shouldStop: { interruption.isRaised },
                                                      onProgress: { progressLine.show($0) }, onObservation: record)
                return (end, counters, collected)
            }
        } catch {
            handOver.finish()
            _ = await overlapped
            throw error
        }
        handOver.finish()
        let (end, counters, results) = discovered
        let discoverySeconds = Self.seconds(since: discoveryStarted)
        var dialogs = await overlapped
        progressLine.finish()
        if !overlap && !settings.discoveryOnly && end == .finished && !interruption.isRaised {
            let targets = results.hostsWithOpenPorts.flatMap { address in
                results.results(for: address, ports: settings.ports, complete: true).filter { $0.state == .open }.map {
                    ProbeTarget(address: address, port: $0.port, names: space.names[address] ?? [])
                }
            }
            let total = targets.count
            dialogsStarted = monotonicNanoseconds()
            dialogs = await interruption.cancelling {
                await prober.probeAll(targets, shouldStop: { interruption.isRaised }) { done in
                    progressLine.showDialogs(done: done, total: total)
                }
            }
            progressLine.finish()
        }
        let finishedAt = Date()
        let dialogsSeconds = Self.seconds(since: dialogsStarted)

        let complete = end == .finished && !interruption.isRaised
        var facts = ReportAssembly.assemble(
            settings: settings, space: space, mxSpace: mxSpace, groupSpaces: groupSpaces, results: results,
            dialogs: dialogs, counters: counters,
            complete: complete, startedAt: startedAt, finishedAt: finishedAt
        )
        // Hosts an exclusion took out are not the domain's scanned hosts.
        facts.domains = domains.map { $0.map { domain in
            var domain = domain
            domain.hosts = domain.hosts.filter { IPAddress($0).map(space.addresses.contains) ?? false }
            return domain
        } }
        // A dialog this machine could not hold (no descriptor even after waiting) audited nothing: the run says so
        // in the report, on stderr and in its exit status instead of grading hosts on what it never saw.
        let localFailures = facts.hosts.reduce(0) { $0 + $1.endpoints.filter { $0.dialog?.localFailure == true }.count }
        if localFailures > 0 {
            facts.scan.complete = false
            let reason = "\(localFailures) endpoint\(localFailures == 1 ? "" : "s") not audited for a local reason (open-file limit \(FileDescriptorLimit.current)); raise ulimit -n or lower --concurrency"
            facts.scan.incompleteReason = [facts.scan.incompleteReason, reason].compactMap { $0 }.joined(separator: "; ")
            writeToStandardError("mailport: warning: \(reason)\n")
        }
        // Stages 4 and 5: rules over the facts, waivers, grades, the verdict.
        let rulesStarted = monotonicNanoseconds()
        var report = settings.judgement.judge(facts, now: finishedAt)
        report.scan.timings = ScanReport.StageTimings(
            dnsSeconds: dnsSeconds, discoverySeconds: discoverySeconds, dialogsSeconds: dialogsSeconds,
            rulesSeconds: Self.seconds(since: rulesStarted), dialogs: dialogs.count
        )
        let reportsStarted = monotonicNanoseconds()
        let written = try ReportOutput(directory: settings.outputDirectory, formats: settings.formats, keep: settings.keep)
            .write(report, startedAt: startedAt)
        // Report writing comes after the JSON is final, so its time is logged, not recorded in the report.
        logger.info("report written", metadata: [
            "report.files": "\(written)", "stage.reportSeconds": "\(String(format: "%.3f", Self.seconds(since: reportsStarted)))",
            "stage.discoverySeconds": "\(String(format: "%.3f", discoverySeconds))",
            "stage.dialogsSeconds": "\(String(format: "%.3f", dialogsSeconds))",
        ])

        if !settings.quiet {
            let seconds = String(format: "%.1f", finishedAt.timeIntervalSince(startedAt))
            print("""
                mailport: \(counters.done) probes of \(plan.count) (\(space.addresses.count) addresses × \(settings.ports.count) ports) \
                in \(seconds) s: \(results.open) open, \(results.closed) closed, \(results.filtered) filtered\
                \(complete ? "" : " (interrupted: report is partial)")
                """)
            for domain in report.domains ?? [] {
                let counted = domain.findings.filter { !$0.waived }.count
                let status = domain.status == .ok ? "" : " (\(domain.status.rawValue))"
                print("domain \(printable(domain.name))\(status): grade \(domain.grade ?? "-"); \(domain.mx.count) MX, \(domain.srv.count) SRV, \(domain.hosts.count) hosts; \(counted) domain finding\(counted == 1 ? "" : "s")")
            }
            print(VerdictLine.describe(report))
            for path in written { print("report: \(path)") }
        }
        if !complete { return ExitStatus.interrupted }
        // The report is written, but its verdict rests on endpoints that were never audited.
        if localFailures > 0 { return ExitStatus.scanFailed }
        return report.summary.failed ? ExitStatus.findings : ExitStatus.clean
    }

    /// Seconds since a monotonic instant, to the millisecond.
    private static func seconds(since start: UInt64) -> Double {
        (Double(monotonicNanoseconds() - start) / 1e6).rounded() / 1000
    }

    /// Stage 1b: MX, SRV and well-known names of each `--domain`, from `--resolver` or /etc/resolv.conf.
    private func discoverDomains(logger: Logger) throws -> DomainDiscovery.Result {
        var servers: [ResolverAddress]
        if let resolver = settings.dnsResolver {
            servers = [resolver]
        } else {
            let contents = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
            servers = ResolverAddress.fromResolvConf(contents)
            guard !servers.isEmpty else {
                throw MailPortError.scanFailed("no nameserver in /etc/resolv.conf for --domain; expected one there or --resolver ADDRESS")
            }
        }
        let discovery = DomainDiscovery(client: DNSClient(servers: servers))
        let found = discovery.discover(settings.domains)
        for domain in found.domains {
            logger.info("domain looked up", metadata: [
                "domain": "\(domain.name)", "domain.status": "\(domain.status.rawValue)",
                "domain.mx": "\(domain.mx.count)", "domain.srv": "\(domain.srv.count)", "domain.hosts": "\(domain.hosts.count)",
            ])
        }
        return found
    }

    /// Dialogs at once: each holds one socket for seconds at a time, so never more than the open-file limit leaves
    /// beside the reserve (a low `ulimit -n` then means fewer dialogs at once, not failed ones).
    static func dialogConcurrency(_ settings: ScanSettings) -> Int {
        let room = FileDescriptorLimit.raise(toAtLeast: min(settings.concurrency, 512) + FileDescriptorLimit.reserved)
            - FileDescriptorLimit.reserved
        return max(1, min(settings.concurrency, 512, room))
    }

    /// Stage 3: the prober that talks to every open endpoint.
    private func makeProber(tls: any TLSUpgrader, versionProbes: [HandshakeProbe], cipherClassProbes: [HandshakeProbe],
                            permissiveTLS: any TLSUpgrader, logger: Logger) -> EndpointProber {
        EndpointProber(
            options: ProbeOptions(
                connectTimeoutNanoseconds: UInt64(settings.timeoutSeconds * 1e9) * 3,
                limits: DialogLimits(readTimeoutNanoseconds: UInt64(settings.readTimeoutSeconds * 1e9)),
                retryPauseNanoseconds: UInt64(settings.retryPauseSeconds * 1e9),
                concurrency: Self.dialogConcurrency(settings), perHost: settings.perHost, ehloName: settings.ehloName,
                versionProbes: versionProbes, cipherClassProbes: cipherClassProbes, permissiveTLS: permissiveTLS
            ),
            tls: tls, group: MultiThreadedEventLoopGroup.singleton, logger: logger
        )
    }

    private func makeLogger() throws -> Logger {
        let level: Logger.Level = settings.verbose ? .debug : (settings.quiet ? .error : .notice)
        let logFile = try settings.logFile.map(FileLogHandler.open)
        var logger = Logger(label: "mailport") { label in
            if let logFile { return FileLogHandler(label: label, descriptor: logFile) }
            return StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = level
        return logger
    }
}

/// Turns discovery results into the report model of the contract.
enum ReportAssembly {
    static func assemble(settings: ScanSettings, space: TargetSpace, mxSpace: TargetSpace?,
                         groupSpaces: [(String, TargetSpace)] = [], results: DiscoveryResults,
                         dialogs: [ProbeTarget: DialogObservation], counters: DiscoveryProgress, complete: Bool,
                         startedAt: Date, finishedAt: Date) -> ScanReport {
        // A shard also lists hosts that only refused: another shard may have found one of their ports open, and
        // merge needs this shard's closed ports to tell closed from filtered.
        let listed = settings.shard.isWhole ? results.hostsWithOpenPorts : results.answeringAddresses
        let hosts = listed.map { address in
            ScanReport.Host(
                address: address.description,
                names: space.names[address] ?? [],
                declaredMX: mxSpace?.addresses.contains(address) ?? false,
                groups: groupSpaces.filter { $0.1.addresses.contains(address) }.map(\.0),
                grade: nil,
                // A shard lists only what it saw answer: the pairs it did not probe belong to other shards, and merge
                // marks whatever no shard saw as filtered.
                endpoints: results.results(for: address, ports: settings.ports, complete: complete && settings.shard.isWhole).map { result in
                    let dialog = dialogs[ProbeTarget(address: address, port: result.port, names: space.names[address] ?? [])]
                    // What the dialog actually used: a STARTTLS upgrade that completed makes the transport starttls.
                    let transport: Transport = dialog?.starttls?.upgraded == true ? .starttls : result.port.service.expectedTransport
                    return ScanReport.Endpoint(
                        port: result.port.port, state: result.state, stateReason: result.reason,
                        service: result.port.service, transport: transport,
                        rttMs: result.roundTripNanoseconds.map { (Double($0) / 1e4).rounded() / 100 },
                        dialog: dialog
                    )
                }
            )
        }
        let addressCount = space.addresses.count
        var report = ScanReport(
            tool: .init(version: MailPortVersion.number),
            scan: .init(
                startedAt: ReportTime.rfc3339(startedAt), finishedAt: ReportTime.rfc3339(finishedAt),
                targets: settings.targets, excludes: settings.excludes, ports: settings.ports,
                profile: settings.judgement.engine.profile.id,
                mode: settings.syn ? "syn" : "connect", complete: complete,
                incompleteReason: complete ? nil : (counters.done < counters.planned
                    ? "interrupted after \(counters.done) of \(counters.planned) probes"
                    : "interrupted during the mail dialogs"),
                seed: settings.seed, probesPlanned: counters.planned, probesDone: counters.done, discoveryOnly: settings.discoveryOnly
            ),
            summary: .init(
                hosts: addressCount > UInt128(UInt64.max) ? UInt64.max : UInt64(addressCount),
                hostsUp: UInt64(results.hostsUp), hostsWithOpenPorts: UInt64(results.hostsWithOpenPorts.count),
                openEndpoints: results.open, closedEndpoints: results.closed, filteredEndpoints: results.filtered,
                findingsBySeverity: ["info": 0, "low": 0, "medium": 0, "high": 0, "critical": 0],
                grade: nil
            ),
            hosts: hosts
        )
        report.scan.shard = settings.shard.isWhole ? nil : settings.shard.description
        report.scan.rulesDigest = settings.judgement.engine.ruleSet.digest
        return report
    }
}


/// The one-line verdict printed after a scan (not in --quiet mode): grade, counted findings, what --fail-on made of them.
enum VerdictLine {
    static func describe(_ report: ScanReport) -> String {
        let counts = Severity.allCases.reversed().compactMap { severity -> String? in
            let count = report.summary.findingsBySeverity[severity.rawValue] ?? 0
            return count > 0 ? "\(count) \(severity.rawValue)" : nil
        }
        let findings = counts.isEmpty ? "no findings" : "findings: " + counts.joined(separator: ", ")
        let waived = report.summary.waivedFindings > 0 ? " (\(report.summary.waivedFindings) waived)" : ""
        let verdict = report.summary.failed ? "fails --fail-on \(report.summary.failOn)" : "passes --fail-on \(report.summary.failOn)"
        return "grade \(report.summary.grade ?? "-"); \(findings)\(waived); \(verdict)"
    }
}
