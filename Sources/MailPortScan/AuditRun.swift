import Foundation
import Logging
import MailPortConfig
import MailPortCore
import MailPortDNS
import MailPortDiscovery
import MailPortPolicy
import MailPortProbe
import MailPortReport
import MailPortRules
import MailPortTLS
import MailPortTargets
import NIOCore
import NIOPosix

/// What a run tells its caller while it goes: progress for a progress line, warnings for a person. The library never
/// prints; the command line decides what reaches the terminal.
public struct ScanEvents: Sendable {
    /// Discovery's counters, about four times a second (from the discovery thread).
    public var discoveryProgress: @Sendable (DiscoveryProgress) -> Void
    /// Dialogs done of the dialogs planned, when dialogs run after discovery rather than beside it.
    public var dialogsProgress: @Sendable (_ done: Int, _ total: Int) -> Void
    /// A stage that reported progress has ended (a progress line clears itself).
    public var progressEnded: @Sendable () -> Void
    /// Something a person should know although the run goes on (a local failure, say).
    public var warning: @Sendable (String) -> Void

    public init(
        discoveryProgress: @escaping @Sendable (DiscoveryProgress) -> Void = { _ in },
        dialogsProgress: @escaping @Sendable (Int, Int) -> Void = { _, _ in },
        progressEnded: @escaping @Sendable () -> Void = {},
        warning: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.discoveryProgress = discoveryProgress
        self.dialogsProgress = dialogsProgress
        self.progressEnded = progressEnded
        self.warning = warning
    }
}

/// How a run ended: the judged report, the files written, and the exit status of the contract.
public struct ScanOutcome: Sendable {
    public var report: ScanReport
    /// The timestamped report files, one per format (or the `--output` file).
    public var files: [String]
    /// With `-o -`: the report's bytes, for the caller to write to standard output (the library never prints).
    public var standardOutput: [UInt8]? = nil
    public var exitStatus: Int32
    /// Endpoints not audited for a reason on this machine (see `DialogObservation.localFailure`).
    public var localFailures: Int
}

/// One audit, stage by stage: plan → discover (with dialogs beside it) → assemble → judge → write. Everything it
/// needs is injected (settings, logger, a stop signal, an event sink); it returns an outcome value and never prints,
/// installs signal handlers or exits. The command line and the tests drive the same code.
public struct AuditRun {
    public var settings: ScanSettings
    public var logger: Logger
    /// Polled throughout: when it turns true (SIGINT, a caller's deadline) the run stops, cancels dialogs in flight
    /// and writes a partial report marked incomplete.
    public var shouldStop: @Sendable () -> Bool
    public var events: ScanEvents

    public init(
        settings: ScanSettings, logger: Logger, shouldStop: @escaping @Sendable () -> Bool = { false },
        events: ScanEvents = ScanEvents()
    ) {
        self.settings = settings
        self.logger = logger
        self.shouldStop = shouldStop
        self.events = events
    }

    /// The TLS layers of the dialogs stage, built once per run.
    struct TLSLayers {
        var standard: OpenSSLUpgrader
        var legacyVersionQuestions: [HandshakeProbe]
        var weakCipherQuestion: WeakCipherQuestion
        var permissive: OpenSSLUpgrader
    }

    /// What stage 1 decided: the addresses, the MX and group subsets, and the probes in their seeded order.
    struct Plan {
        var settings: ScanSettings
        var space: TargetSpace
        var mxSpace: TargetSpace?
        var groupSpaces: [(String, TargetSpace)]
        var probes: ProbePlan
        var domains: [DomainObservation]?
        /// Addresses of each domain's `mta-sts.DOMAIN`, for the policy fetch.
        var policyHosts: [String: [IPAddress]] = [:]
        var dnsSeconds: Double?
        /// Target names that did not resolve: skipped, warned about, recorded in the report.
        var targetErrors: [ScanReport.TargetError] = []
    }

    /// What stages 2 and 3 saw.
    struct Observed {
        var end: DiscoveryEnd
        var counters: DiscoveryProgress
        var results: DiscoveryResults
        /// Every dialog observation, on disk as each endpoint finished.
        var dialogs: RunSpool
        var startedAt: Date
        var finishedAt: Date
        var discoverySeconds: Double
        var dialogsSeconds: Double
    }

    /// What a run has checked and decided before it sends a packet; holding it holds the run lock.
    struct Prepared {
        /// Nil with `--output` and no `--lock-file`: there is no output folder to guard.
        var lock: RunLock?
        var tls: TLSLayers
        var plan: Plan
    }

    /// Every check and decision before the first packet: the output folder, the privileges `--syn` needs, the lock,
    /// the TLS layers, the plan. Bad input fails here, so the bad-input tests stop here too (in-process, nothing is
    /// ever sent). With `--domain`, planning asks DNS.
    func prepare() throws -> Prepared {
        // Fail on a bad output folder or CA file before the scan, not after it. With --output there is no folder:
        // a file's folder must exist (nothing is created for it), standard output needs nothing.
        switch settings.output {
        case nil: try AtomicFile.prepareDirectory(settings.outputDirectory)
        case .file(let path): try Self.checkOutputFile(path)
        case .standardOutput: break
        }
        // --syn without the privilege to send raw packets is exit 3 before anything else: no silent fallback.
        if settings.syn {
            try SynScanner.checkSourceIP(settings.sourceIP)
            try SynScanner.checkPrivileges()
        }
        // Cron may start a run while the last one is still going: never two at once in one folder.
        // With --output the lock is taken only where --lock-file names it: a lock file in a folder the run does not
        // write would be a file written where none was asked for (a read-only root, a pipe into jq).
        let lockPath =
            settings.output == nil
            ? settings.lockFile ?? "\(settings.outputDirectory)/.mailport.lock" : settings.lockFile
        let lock = try lockPath.map { try RunLock(path: $0) }
        return Prepared(lock: lock, tls: try makeTLSLayers(), plan: try makePlan())
    }

    public func run() async throws -> ScanOutcome {
        let prepared = try prepare()
        defer { withExtendedLifetime(prepared.lock) {} }
        let tls = prepared.tls
        var plan = prepared.plan
        // Stage 1c beside stages 2 and 3: the MTA-STS policies come from web servers, not from the scanned hosts.
        let (domains, policyHosts, caFile, logger) = (plan.domains, plan.policyHosts, settings.caFile, logger)
        let policyTimeout = TimeAmount.nanoseconds(Int64(settings.readTimeout.nanoseconds) * 2)
        async let domainsWithPolicies = Self.fetchPolicies(
            domains, hosts: policyHosts, caFile: caFile, timeout: policyTimeout, logger: logger)
        let observed = try await discoverAndTalk(plan, tls: tls)
        plan.domains = try await domainsWithPolicies
        // Stages 4 and 5: rules over the facts, waivers, grades, the verdict. Each host is judged as it is
        // assembled, before it goes to the spool: judging afterwards read every host back and wrote it again.
        let rulesStarted = monotonicNanoseconds()
        let judgement = plan.settings.judgement
        let (assembled, judged) = assemble(
            plan, observed, judging: judgement.startJudging(now: observed.finishedAt, domains: plan.domains ?? []))
        var facts = assembled
        var judging = judged.judging
        let localFailures = judged.localFailures
        markLocalFailures(&facts, count: localFailures)
        var report = judgement.finish(&judging, facts, warning: events.warning)
        report.scan.timings = ScanReport.StageTimings(
            dnsSeconds: plan.dnsSeconds, discoverySeconds: observed.discoverySeconds,
            dialogsSeconds: observed.dialogsSeconds,
            rulesSeconds: Self.seconds(since: rulesStarted), dialogs: observed.dialogs.dialogCount
        )
        var files: [String] = []
        var standardOutput: [UInt8]?
        switch settings.output {
        case nil:
            files = try write(
                report, startedAt: observed.startedAt, discoverySeconds: observed.discoverySeconds,
                dialogsSeconds: observed.dialogsSeconds)
        case .standardOutput:
            standardOutput = try settings.formats[0].render(report, previousPrometheus: nil)
        case .file(let path):
            let format = settings.formats[0]
            try AtomicFile.commit([
                try AtomicFile.stage(for: path) { sink throws(MailPortError) in
                    try format.render(report, into: sink, previousPrometheus: nil)
                }
            ])
            files = [path]
        }
        // Told once the run is written: the spool may have failed while rules or writers wrote hosts back.
        if let warning = observed.dialogs.warning(
            openEndpoints: observed.results.open, spoolAbove: settings.spoolAboveEndpoints)
        {
            events.warning(warning)
        }
        let interrupted = observed.end != .finished || shouldStop()
        let status: Int32
        if interrupted {
            status = ExitStatus.interrupted
        } else if localFailures > 0 {
            // The report is written, but its verdict rests on endpoints that were never audited.
            status = ExitStatus.scanFailed
        } else {
            status = report.summary.failed ? ExitStatus.findings : ExitStatus.clean
        }
        return ScanOutcome(
            report: report, files: files, standardOutput: standardOutput, exitStatus: status,
            localFailures: localFailures)
    }

    /// `--output FILE`: its folder must already be there (the run creates no folder for one file) and the name
    /// must not be a folder.
    static func checkOutputFile(_ path: String) throws {
        var isFolder: ObjCBool = false
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty,
            !(FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) && isFolder.boolValue)
        {
            throw MailPortError.invalidInput(
                "cannot write --output '\(printable(path))': no folder '\(printable(folder))'; expected a file in an existing folder, or - for standard output"
            )
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw MailPortError.invalidInput(
                "--output '\(printable(path))' is a folder; expected a file name (--output-dir writes into a folder)")
        }
    }

    /// The TLS layers: the standard client, the combined legacy-version and weak-cipher questions, and a lax one.
    func makeTLSLayers() throws -> TLSLayers {
        do {
            let handshakeTimeout = TimeAmount.nanoseconds(Int64(settings.readTimeout.nanoseconds))
            return TLSLayers(
                standard: try OpenSSLUpgrader(caFile: settings.caFile, handshakeTimeout: handshakeTimeout),
                legacyVersionQuestions: ClientHelloProbe.legacyVersionQuestions(timeout: handshakeTimeout),
                weakCipherQuestion: WeakCipherQuestion(timeout: handshakeTimeout),
                permissive: try OpenSSLUpgrader(
                    permissiveWithCAFile: settings.caFile, handshakeTimeout: handshakeTimeout))
        } catch {
            throw MailPortError.invalidInput(
                "\(error.message); expected --ca-file to name a PEM file of CA certificates")
        }
    }

    /// Stage 1 (and 1b): domains to hosts through DNS, then targets to the seeded probe order.
    func makePlan() throws -> Plan {
        var settings = settings
        var domains: [DomainObservation]?
        var policyHosts: [String: [IPAddress]] = [:]
        let dnsStarted = monotonicNanoseconds()
        if !settings.domains.isEmpty {
            // What DNS found joins the targets, MX names and ports.
            let found = try discoverDomains()
            let parsed = TransportPolicyStage.records(
                found.domains, texts: found.policyTexts, tlsa: found.tlsaAnswers)
            // TLSA records mean nothing without DNSSEC validation: say so rather than judge them silently as unsigned.
            let withTLSA = parsed.filter { domain in domain.mx.contains { $0.tlsa?.records.isEmpty == false } }
            if let first = withTLSA.first, first.dnssec?.resolverValidates != true {
                events.warning(
                    "the resolver does not validate DNSSEC (no AD bit on the root zone), so the TLSA records of \(first.name)\(withTLSA.count > 1 ? " and \(withTLSA.count - 1) more" : "") cannot be judged; use --resolver with a validating resolver on a trusted path for DANE"
                )
            }
            domains = parsed
            policyHosts = found.policyHosts
            for name in found.addressesByName.keys.sorted() where !settings.targets.contains(name) {
                settings.targets.append(name)
            }
            settings.mxTargets += found.mxNames.filter { !settings.mxTargets.contains($0) }
            settings.ports += found.extraPorts.filter { extra in !settings.ports.contains { $0.port == extra.port } }
            settings.resolver = LayeredResolver(known: found.addressesByName, fallback: settings.resolver)
        }
        // A name that does not resolve is skipped (a warning, and scan.targetErrors in the report) rather than the
        // end of a nightly audit; only when nothing at all is left to scan is it bad input.
        let space =
            settings.targets.isEmpty
            ? TargetSpace.empty
            : try TargetSpace(
                targets: settings.targets, excludes: settings.excludes, resolver: settings.resolver,
                skippingUnresolved: true)
        let targetErrors = space.unresolved
        if !targetErrors.isEmpty && space.addresses.isEmpty && settings.domains.isEmpty {
            let first = targetErrors[0]
            let others = targetErrors.count > 1 ? " (and \(targetErrors.count - 1) more names)" : ""
            throw MailPortError.invalidInput(
                "nothing to scan: \(first.error)\(others); expected at least one target that resolves")
        }
        for failure in targetErrors {
            events.warning("\(failure.error); skipped, recorded in the report (scan.targetErrors)")
        }
        logger.debug("targets unresolved", metadata: ["scan.targetErrors": "\(targetErrors.count)"])
        // MX and group names are targets too: a name that failed above fails here the same way, already recorded.
        let mxSpace =
            settings.mxTargets.isEmpty
            ? nil
            : try TargetSpace(
                targets: settings.mxTargets, excludes: settings.excludes, resolver: settings.resolver,
                skippingUnresolved: true)
        let groupSpaces = try settings.groups.keys.sorted().map { name in
            (
                name,
                try TargetSpace(
                    targets: settings.groups[name]!, excludes: settings.excludes, resolver: settings.resolver,
                    skippingUnresolved: true)
            )
        }
        let probes = try ProbePlan(
            space: space, ports: settings.ports, seed: settings.seed, allowLarge: settings.allowLarge,
            shard: settings.shard)
        logger.info(
            "scan planned",
            metadata: [
                "scan.addresses": "\(space.addresses.count)", "scan.ports": "\(settings.ports.count)",
                "scan.probes": "\(probes.count)", "scan.seed": "\(settings.seed)",
            ])
        return Plan(
            settings: settings, space: space, mxSpace: mxSpace, groupSpaces: groupSpaces, probes: probes,
            domains: domains, policyHosts: policyHosts,
            dnsSeconds: settings.domains.isEmpty ? nil : Self.seconds(since: dnsStarted), targetErrors: targetErrors)
    }

    /// Stages 2 and 3: discovery, and the dialogs with every open endpoint. They overlap (each open endpoint goes to
    /// the dialogs the moment discovery finds it, so the TLS work of the first hosts runs while the sweep goes on)
    /// when the open-file limit has room for both; a low `ulimit -n` runs them one after the other, as discovery
    /// then needs every descriptor.
    func discoverAndTalk(_ plan: Plan, tls: TLSLayers) async throws -> Observed {
        let settings = plan.settings
        let spool = RunSpool(settings: settings)
        let store: @Sendable (ProbeTarget, DialogObservation) -> Void = { target, observation in
            // Keyed by address and port only: the report's endpoints are found by what discovery saw, whatever
            // names or service mapping the dialog's target carried.
            spool.store(observation, for: EndpointKey(address: target.address, port: target.port.port))
        }
        let startedAt = Date()
        let discoveryStarted = monotonicNanoseconds()
        let shouldStop = self.shouldStop
        let events = self.events
        let prober = makeProber(settings, tls: tls)
        let dialogSockets = settings.discoveryOnly ? 0 : Self.dialogConcurrency(settings)
        // SYN discovery holds a raw socket per family and a capture handle; connect discovery one socket per probe,
        // up to its window's ceiling (`--concurrency`).
        let discoverySockets = settings.syn ? 16 : settings.concurrency
        let room =
            dialogSockets > 0
            ? FileDescriptorLimit.raise(toAtLeast: discoverySockets + dialogSockets + FileDescriptorLimit.reserved)
                - dialogSockets - FileDescriptorLimit.reserved : 0
        // The ceiling is high by default and the window rarely reaches it, so connect discovery gives up part of it
        // to let the dialogs overlap, as long as it keeps room for `overlapDiscoveryRoom` connects.
        let overlap =
            dialogSockets > 0
            && (room >= discoverySockets || (!settings.syn && room >= min(discoverySockets, Self.overlapDiscoveryRoom)))
        let connectCeiling = overlap ? min(settings.concurrency, room) : settings.concurrency
        let scanner: any PortDiscoverer =
            settings.syn
            ? SynScanner(
                options: SynOptions(
                    rate: settings.rate ?? ScanDefaults.synRate, adaptiveRate: settings.rate == nil,
                    rateCeiling: ScanDefaults.synRateCeiling,
                    cooldownNanoseconds: settings.timeout.nanoseconds,
                    interface: settings.interface, sourceIP: settings.sourceIP),
                logger: logger)
            : ConnectScanner(
                options: DiscoveryOptions(
                    concurrency: connectCeiling, rate: settings.rate,
                    timeoutNanoseconds: settings.timeout.nanoseconds
                ),
                logger: logger)
        let (arriving, handOver) = AsyncStream.makeStream(of: ProbeTarget.self)
        let names = plan.space.names
        // Each MX address and the domains it serves: port 25 there is asked whether it takes their mail.
        let mailDomains = Self.mailDomains(plan.domains ?? [])
        var dialogsStarted = monotonicNanoseconds()
        async let overlapped: Void =
            overlap
            ? cancelling(when: shouldStop) {
                await prober.probeEach(arriving: arriving, shouldStop: shouldStop, finished: store)
            } : ()
        let probes = plan.probes
        // The discovery loop blocks its thread; keep it off the cooperative pool.
        let discovered: (DiscoveryEnd, DiscoveryProgress, DiscoveryResults)
        do {
            discovered = try await runOnDedicatedThread {
                var collected = DiscoveryResults()
                let record: (PortObservation) -> Void = { observation in
                    collected.record(observation)
                    if overlap && observation.state == .open {
                        let address = observation.probe.address
                        handOver.yield(
                            ProbeTarget(
                                address: address, port: observation.probe.port, names: names[address] ?? [],
                                mailDomains: mailDomains[address] ?? []))
                    }
                }
                let (end, counters) = try scanner.run(
                    probes: probes, planned: probes.count, shouldStop: shouldStop,
                    onProgress: events.discoveryProgress, onObservation: record)
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
        await overlapped
        events.progressEnded()
        if !overlap && !settings.discoveryOnly && end == .finished && !shouldStop() {
            let targets = results.hostsWithOpenPorts.flatMap { address in
                results.results(for: address, ports: settings.ports, complete: true).filter { $0.state == .open }.map {
                    ProbeTarget(
                        address: address, port: $0.port, names: names[address] ?? [],
                        mailDomains: mailDomains[address] ?? [])
                }
            }
            let total = targets.count
            dialogsStarted = monotonicNanoseconds()
            await cancelling(when: shouldStop) {
                var done = 0
                await prober.probeEach(arriving: EndpointProber.stream(targets), shouldStop: shouldStop) {
                    store($0, $1)
                    done += 1
                    events.dialogsProgress(done, total)
                }
            }
            events.progressEnded()
        }
        return Observed(
            end: end, counters: counters, results: results, dialogs: spool, startedAt: startedAt,
            finishedAt: Date(), discoverySeconds: discoverySeconds,
            dialogsSeconds: Self.seconds(since: dialogsStarted))
    }

    /// What judging the hosts as they are made gathers: the rules' tallies, and the endpoints this machine could
    /// not audit.
    struct HostsJudged: Sendable {
        var judging: RuleEngine.HostJudging
        var localFailures = 0
    }

    /// The report model from what was seen, each host judged as it is made (on all cores; see
    /// `ReportAssembly.assemble`).
    func assemble(
        _ plan: Plan, _ observed: Observed, judging: RuleEngine.HostJudging
    ) -> (ScanReport, HostsJudged) {
        let complete = observed.end == .finished && !shouldStop()
        let dialogs = observed.dialogs
        let (assembled, judged) = ReportAssembly.assemble(
            settings: plan.settings, space: plan.space, mxSpace: plan.mxSpace, groupSpaces: plan.groupSpaces,
            results: observed.results, dialog: { dialogs.dialog(for: $0) }, counters: observed.counters,
            complete: complete, startedAt: observed.startedAt, finishedAt: observed.finishedAt,
            hosts: observed.results.open > settings.spoolAboveEndpoints
                ? HostList(spooledIn: observed.dialogs.spool) : HostList(),
            finisher: HostsJudged(judging: judging),
            finish: { judged, host in
                judged.localFailures += host.endpoints.filter { $0.dialog?.localFailure == true }.count
                return judged.judging.judge(host)
            },
            merge: { judged, later in
                judged.judging.merge(later.judging)
                judged.localFailures += later.localFailures
            }
        )
        var facts = assembled
        facts.scan.targetErrors = plan.targetErrors.isEmpty ? nil : plan.targetErrors
        // Hosts an exclusion took out are not the domain's scanned hosts.
        facts.domains = plan.domains.map {
            $0.map { domain in
                var domain = domain
                domain.hosts = domain.hosts.filter { IPAddress($0).map(plan.space.addresses.contains) ?? false }
                return domain
            }
        }
        return (facts, judged)
    }

    /// A dialog this machine could not hold (no descriptor even after waiting) audited nothing: the run says so in
    /// the report and through a warning instead of grading hosts on what it never saw. `count` is how many there
    /// were (counted as the hosts were assembled).
    func markLocalFailures(_ facts: inout ScanReport, count: Int) {
        guard count > 0 else { return }
        facts.scan.complete = false
        let reason =
            "\(count) endpoint\(count == 1 ? "" : "s") not audited for a local reason (open-file limit \(FileDescriptorLimit.current)); raise ulimit -n or lower --concurrency"
        facts.scan.incompleteReason = [facts.scan.incompleteReason, reason].compactMap { $0 }.joined(separator: "; ")
        events.warning(reason)
    }

    /// The last stage: every format, retention, the run index.
    func write(
        _ report: ScanReport, startedAt: Date, discoverySeconds: Double, dialogsSeconds: Double
    ) throws -> [String] {
        let reportsStarted = monotonicNanoseconds()
        let written = try ReportOutput(
            directory: settings.outputDirectory, formats: settings.formats, keep: settings.keep
        )
        .write(report, startedAt: startedAt)
        // Report writing comes after the JSON is final, so its time is logged, not recorded in the report.
        logger.info(
            "report written",
            metadata: [
                "report.files": "\(written)",
                "stage.reportSeconds": "\(String(format: "%.3f", Self.seconds(since: reportsStarted)))",
                "stage.discoverySeconds": "\(String(format: "%.3f", discoverySeconds))",
                "stage.dialogsSeconds": "\(String(format: "%.3f", dialogsSeconds))",
            ])
        return written
    }

    /// Seconds since a monotonic instant, to the millisecond.
    static func seconds(since start: UInt64) -> Double {
        (Double(monotonicNanoseconds() - start) / 1e6).rounded() / 1000
    }

    /// Stage 1b: MX, SRV and well-known names of each `--domain`, from `--resolver` or /etc/resolv.conf.
    func discoverDomains() throws -> DomainDiscovery.Result {
        var servers: [ResolverAddress]
        if let resolver = settings.dnsResolver {
            servers = [resolver]
        } else {
            let contents = BoundedFile.text("/etc/resolv.conf", limit: 1 << 20) ?? ""
            servers = ResolverAddress.fromResolvConf(contents)
            guard !servers.isEmpty else {
                throw MailPortError.scanFailed(
                    "no nameserver in /etc/resolv.conf for --domain; expected one there or --resolver ADDRESS")
            }
        }
        let discovery = DomainDiscovery(client: DNSClient(servers: servers))
        let found = discovery.discover(settings.domains)
        for domain in found.domains {
            logger.info(
                "domain looked up",
                metadata: [
                    "domain": "\(domain.name)", "domain.status": "\(domain.status.rawValue)",
                    "domain.mx": "\(domain.mx.count)", "domain.srv": "\(domain.srv.count)",
                    "domain.hosts": "\(domain.hosts.count)",
                ])
        }
        return found
    }

    /// Each MX address and the domains it is an MX of.
    static func mailDomains(_ domains: [DomainObservation]) -> [IPAddress: [String]] {
        var mailDomains: [IPAddress: [String]] = [:]
        for domain in domains {
            for mx in domain.mx where !mx.addressLiteral {
                for address in mx.addresses.compactMap(IPAddress.init)
                where mailDomains[address]?.contains(domain.name) != true {
                    mailDomains[address, default: []].append(domain.name)
                }
            }
        }
        return mailDomains
    }

    /// Stage 1c: the MTA-STS policy of every domain that announces one, fetched over HTTPS within twice the read
    /// timeout (connect, handshake and answer together).
    static func fetchPolicies(
        _ domains: [DomainObservation]?, hosts: [String: [IPAddress]], caFile: String?, timeout: TimeAmount,
        logger: Logger
    ) async throws -> [DomainObservation]? {
        guard let domains else { return nil }
        guard domains.contains(where: { $0.mtaSTS?.announced == true }) else { return domains }
        let fetcher: PolicyFetcher
        do {
            fetcher = try PolicyFetcher(caFile: caFile, timeout: timeout)
        } catch {
            throw MailPortError.invalidInput(
                "\(error.message); expected --ca-file to name a PEM file of CA certificates")
        }
        let result = await TransportPolicyStage.fetchPolicies(domains, hosts: hosts, fetcher: fetcher)
        for domain in result {
            guard let policy = domain.mtaSTS?.policy else { continue }
            logger.info(
                "MTA-STS policy fetched",
                metadata: [
                    "domain": "\(domain.name)", "policy.outcome": "\(policy.outcome.rawValue)",
                    "policy.mode": "\(policy.mode?.rawValue ?? "-")",
                ])
        }
        return result
    }

    /// Connects discovery keeps room for when it shrinks its ceiling so the dialogs can overlap it: the fixed
    /// concurrency it ran with before its window adapted.
    static let overlapDiscoveryRoom = 2048

    /// Dialogs at once: each holds one socket for seconds at a time, so never more than the open-file limit leaves
    /// beside the reserve (a low `ulimit -n` then means fewer dialogs at once, not failed ones).
    static func dialogConcurrency(_ settings: ScanSettings) -> Int {
        let room =
            FileDescriptorLimit.raise(toAtLeast: min(settings.concurrency, 512) + FileDescriptorLimit.reserved)
            - FileDescriptorLimit.reserved
        return max(1, min(settings.concurrency, 512, room))
    }

    /// Stage 3: the prober that talks to every open endpoint.
    func makeProber(_ settings: ScanSettings, tls: TLSLayers) -> EndpointProber {
        EndpointProber(
            options: ProbeOptions(
                connectTimeoutNanoseconds: settings.timeout.nanoseconds * 3,
                limits: DialogLimits(
                    readTimeoutNanoseconds: settings.readTimeout.nanoseconds,
                    greetingTimeoutNanoseconds: settings.greetingTimeout.nanoseconds),
                retryPauseNanoseconds: settings.retryPause.nanoseconds,
                concurrency: Self.dialogConcurrency(settings), perHost: settings.perHost, ehloName: settings.ehloName,
                legacyVersionQuestions: tls.legacyVersionQuestions, weakCipherQuestion: tls.weakCipherQuestion,
                permissiveTLS: tls.permissive
            ),
            tls: tls.standard, group: MultiThreadedEventLoopGroup.singleton, logger: logger
        )
    }
}

/// One endpoint as the report knows it: an address and a port number.
public struct EndpointKey: Hashable, Sendable {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }
}
