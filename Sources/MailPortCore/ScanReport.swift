/// This release of MailPort, as reports record it (`tool.version`).
public enum MailPortVersion {
    public static let number = "0.1.0"
}

/// The JSON report of the contract (PRODUCT.md, "JSON report"), versioned by `schemaVersion` and described by
/// `Reports/schema/mailport-report.schema.json`. Field names are the contract's; add fields, never rename them.
public struct ScanReport: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = "1.0"

    public var schemaVersion: String
    public var tool: Tool
    public var scan: Scan
    public var summary: Summary
    /// Hosts with open ports (a shard: every host that answered), in address order. In memory, or on disk for a
    /// large run (see `HostList`).
    public var hosts: HostList
    /// What each rule that fired is about (title, description, remediation, references), from the rule set in
    /// force, so a report re-rendered later (HTML, SARIF) needs no rule files. Keyed by rule id.
    public var rules: [String: RuleDescription]
    /// Every waiver that was loaded, with whether it is in force and how many findings it covered.
    public var waivers: [WaiverState]
    /// With `--baseline`: the earlier report compared against, and the findings that are gone since.
    public var baseline: BaselineComparison?
    /// With `--domain`: each mail domain, what DNS said about it, its own findings and the addresses of its hosts.
    public var domains: [DomainObservation]?

    public init(
        schemaVersion: String = ScanReport.currentSchemaVersion, tool: Tool, scan: Scan, summary: Summary,
        hosts: [Host], rules: [String: RuleDescription] = [:], waivers: [WaiverState] = []
    ) {
        self.schemaVersion = schemaVersion
        self.tool = tool
        self.scan = scan
        self.summary = summary
        self.hosts = HostList(hosts)
        self.rules = rules
        self.waivers = waivers
    }

    private enum CodingKeys: String, CodingKey {
        case schemaVersion, tool, scan, summary, hosts, rules, waivers, baseline, domains
    }

    /// Reports written before rules existed have neither `rules` nor `waivers`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try container.decode(String.self, forKey: .schemaVersion)
        tool = try container.decode(Tool.self, forKey: .tool)
        scan = try container.decode(Scan.self, forKey: .scan)
        summary = try container.decode(Summary.self, forKey: .summary)
        hosts = try container.decode(HostList.self, forKey: .hosts)
        rules = try container.decodeIfPresent([String: RuleDescription].self, forKey: .rules) ?? [:]
        waivers = try container.decodeIfPresent([WaiverState].self, forKey: .waivers) ?? []
        baseline = try container.decodeIfPresent(BaselineComparison.self, forKey: .baseline)
        domains = try container.decodeIfPresent([DomainObservation].self, forKey: .domains)
    }

    /// The result of `--baseline`.
    public struct BaselineComparison: Codable, Sendable, Equatable {
        /// The earlier report's file and scan start.
        public var file: String
        public var startedAt: String
        public var newFindings: Int
        public var unchangedFindings: Int
        /// Findings of the earlier report that are gone, on addresses this scan covered.
        public var resolved: [ResolvedFinding]

        public init(
            file: String, startedAt: String, newFindings: Int, unchangedFindings: Int, resolved: [ResolvedFinding]
        ) {
            self.file = file
            self.startedAt = startedAt
            self.newFindings = newFindings
            self.unchangedFindings = unchangedFindings
            self.resolved = resolved
        }
    }

    /// Seconds spent in each stage of a scan.
    public struct StageTimings: Codable, Sendable, Equatable {
        /// Domain mode's DNS lookups.
        public var dnsSeconds: Double?
        public var discoverySeconds: Double
        /// Mail dialogs, STARTTLS, TLS handshakes and protocol/cipher probes, certificate reading.
        public var dialogsSeconds: Double
        /// Building the hosts from what was seen and judging them (a run judges each host as it is built).
        public var rulesSeconds: Double
        /// Endpoints talked to.
        public var dialogs: Int

        public init(
            dnsSeconds: Double? = nil, discoverySeconds: Double, dialogsSeconds: Double, rulesSeconds: Double,
            dialogs: Int
        ) {
            self.dnsSeconds = dnsSeconds
            self.discoverySeconds = discoverySeconds
            self.dialogsSeconds = dialogsSeconds
            self.rulesSeconds = rulesSeconds
            self.dialogs = dialogs
        }
    }

    /// A target given but not scanned, and why.
    public struct TargetError: Codable, Sendable, Equatable {
        public var target: String
        public var error: String

        public init(target: String, error: String) {
            self.target = target
            self.error = error
        }
    }

    public struct ResolvedFinding: Codable, Sendable, Equatable {
        public var address: String
        public var port: UInt16
        public var rule: String
        public var severity: Severity
        public var title: String

        public init(address: String, port: UInt16, rule: String, severity: Severity, title: String) {
            self.address = address
            self.port = port
            self.rule = rule
            self.severity = severity
            self.title = title
        }
    }

    public struct Tool: Codable, Sendable, Equatable {
        public var name: String
        public var version: String

        public init(name: String = "mailport", version: String) {
            self.name = name
            self.version = version
        }
    }

    public struct Scan: Codable, Sendable, Equatable {
        /// RFC 3339 UTC timestamps.
        public var startedAt: String
        public var finishedAt: String
        /// The target tokens as the user gave them (after config and files were read).
        public var targets: [String]
        public var excludes: [String]
        public var ports: [PortSpec]
        public var profile: String
        /// `connect` (full TCP handshakes) or `syn` (raw packets).
        public var mode: ScanMode
        /// False when the scan was interrupted or stopped early; the report then holds what was seen so far.
        public var complete: Bool
        public var incompleteReason: String?
        /// Seed of the probe order, so a run can be repeated (and shards matched) exactly.
        public var seed: UInt64
        public var probesPlanned: UInt64
        public var probesDone: UInt64
        /// Whether dialogs, TLS and rules ran (false with --discovery-only and in builds without those stages).
        public var discoveryOnly: Bool
        /// `--shard I/N` when this report is one shard of a split scan (nil for a whole or merged scan).
        public var shard: String?
        /// Merged from this many shard reports (`mailport merge`).
        public var mergedShards: Int?
        /// Digest of the rule files the findings were judged with.
        public var rulesDigest: String?
        /// Where the run's time went, stage by stage (for tuning and benchmarks; absent in merged reports).
        public var timings: StageTimings?
        /// Wall time of the scan to the millisecond (the time stamps hold whole seconds); absent in merged reports
        /// and in reports written before it existed, where the time stamps give the span.
        public var durationSeconds: Double?
        /// Targets that could not be scanned (a host name that does not resolve): skipped with a warning, the rest
        /// scanned. Absent when there were none.
        public var targetErrors: [TargetError]?

        public init(
            startedAt: String, finishedAt: String, targets: [String], excludes: [String], ports: [PortSpec],
            profile: String, mode: ScanMode, complete: Bool, incompleteReason: String?, seed: UInt64,
            probesPlanned: UInt64, probesDone: UInt64, discoveryOnly: Bool
        ) {
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.targets = targets
            self.excludes = excludes
            self.ports = ports
            self.profile = profile
            self.mode = mode
            self.complete = complete
            self.incompleteReason = incompleteReason
            self.seed = seed
            self.probesPlanned = probesPlanned
            self.probesDone = probesDone
            self.discoveryOnly = discoveryOnly
        }
    }

    public struct Summary: Codable, Sendable, Equatable {
        /// Addresses in the target space (after exclusions).
        public var hosts: UInt64
        /// Addresses that answered on at least one port (open or closed).
        public var hostsUp: UInt64
        /// Addresses with at least one open port (the ones listed under `hosts`).
        public var hostsWithOpenPorts: UInt64
        public var openEndpoints: UInt64
        public var closedEndpoints: UInt64
        public var filteredEndpoints: UInt64
        /// Findings that count (not waived), by severity; every severity is present.
        public var findingsBySeverity: [String: Int]
        /// Findings covered by an active waiver (kept in the report, not counted above).
        public var waivedFindings: Int = 0
        /// Overall grade (worst host); null when rules did not run or no host had an open port.
        public var grade: Grade?
        /// The `--fail-on` threshold the verdict used, and whether a counted finding met it (exit status 1).
        public var failOn: FailThreshold = .severity(.high)
        public var failed: Bool = false

        public init(
            hosts: UInt64, hostsUp: UInt64, hostsWithOpenPorts: UInt64, openEndpoints: UInt64,
            closedEndpoints: UInt64, filteredEndpoints: UInt64, findingsBySeverity: [String: Int],
            grade: Grade?
        ) {
            self.hosts = hosts
            self.hostsUp = hostsUp
            self.hostsWithOpenPorts = hostsWithOpenPorts
            self.openEndpoints = openEndpoints
            self.closedEndpoints = closedEndpoints
            self.filteredEndpoints = filteredEndpoints
            self.findingsBySeverity = findingsBySeverity
            self.grade = grade
        }

        private enum CodingKeys: String, CodingKey {
            case hosts, hostsUp, hostsWithOpenPorts, openEndpoints, closedEndpoints, filteredEndpoints
            case findingsBySeverity, waivedFindings, grade, failOn, failed
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            hosts = try container.decode(UInt64.self, forKey: .hosts)
            hostsUp = try container.decode(UInt64.self, forKey: .hostsUp)
            hostsWithOpenPorts = try container.decode(UInt64.self, forKey: .hostsWithOpenPorts)
            openEndpoints = try container.decode(UInt64.self, forKey: .openEndpoints)
            closedEndpoints = try container.decode(UInt64.self, forKey: .closedEndpoints)
            filteredEndpoints = try container.decode(UInt64.self, forKey: .filteredEndpoints)
            findingsBySeverity = try container.decode([String: Int].self, forKey: .findingsBySeverity)
            waivedFindings = try container.decodeIfPresent(Int.self, forKey: .waivedFindings) ?? 0
            grade = try container.decodeIfPresent(Grade.self, forKey: .grade)
            failOn = try container.decodeIfPresent(FailThreshold.self, forKey: .failOn) ?? .severity(.high)
            failed = try container.decodeIfPresent(Bool.self, forKey: .failed) ?? false
        }

        /// Written by hand so an absent grade appears as `null` (the contract's field is always present).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(hosts, forKey: .hosts)
            try container.encode(hostsUp, forKey: .hostsUp)
            try container.encode(hostsWithOpenPorts, forKey: .hostsWithOpenPorts)
            try container.encode(openEndpoints, forKey: .openEndpoints)
            try container.encode(closedEndpoints, forKey: .closedEndpoints)
            try container.encode(filteredEndpoints, forKey: .filteredEndpoints)
            try container.encode(findingsBySeverity, forKey: .findingsBySeverity)
            try container.encode(waivedFindings, forKey: .waivedFindings)
            try container.encode(grade, forKey: .grade)
            try container.encode(failOn, forKey: .failOn)
            try container.encode(failed, forKey: .failed)
        }
    }

    public struct Host: Codable, Sendable, Equatable {
        public var address: String
        /// Every name the address was given by (hostnames on the command line, later DNS); used for certificate
        /// name checks.
        public var names: [String]
        /// Declared a mail exchanger (`--mx`, later DNS MX records): port 25 is expected there.
        public var declaredMX: Bool
        /// Named target groups of the config file that include this address.
        public var groups: [String]
        public var grade: Grade?
        public var endpoints: [Endpoint]

        public init(
            address: String, names: [String], declaredMX: Bool = false, groups: [String] = [], grade: Grade?,
            endpoints: [Endpoint]
        ) {
            self.address = address
            self.names = names
            self.declaredMX = declaredMX
            self.groups = groups
            self.grade = grade
            self.endpoints = endpoints
        }

        private enum CodingKeys: String, CodingKey {
            case address, names, declaredMX, groups, grade, endpoints
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            address = try container.decode(String.self, forKey: .address)
            names = try container.decode([String].self, forKey: .names)
            declaredMX = try container.decodeIfPresent(Bool.self, forKey: .declaredMX) ?? false
            groups = try container.decodeIfPresent([String].self, forKey: .groups) ?? []
            grade = try container.decodeIfPresent(Grade.self, forKey: .grade)
            endpoints = try container.decode([Endpoint].self, forKey: .endpoints)
        }

        /// Written by hand so an absent grade appears as `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(address, forKey: .address)
            try container.encode(names, forKey: .names)
            try container.encode(declaredMX, forKey: .declaredMX)
            if !groups.isEmpty { try container.encode(groups, forKey: .groups) }
            try container.encode(grade, forKey: .grade)
            try container.encode(endpoints, forKey: .endpoints)
        }
    }

    public struct Endpoint: Codable, Sendable, Equatable {
        public var port: UInt16
        public var state: PortState
        public var stateReason: StateReason
        public var service: MailService
        public var transport: Transport
        /// Connect round-trip time in milliseconds, when the host answered.
        public var rttMs: Double?
        /// What the mail dialog showed (banner, capabilities, starttls, transcript, …); its fields are written
        /// beside the others, as the contract lists them. Nil when no dialog ran (closed port, --discovery-only,
        /// or an implicit-TLS port in a build without the TLS stage).
        public var dialog: DialogObservation?
        public var findings: [Finding]

        public init(
            port: UInt16, state: PortState, stateReason: StateReason, service: MailService,
            transport: Transport, rttMs: Double?, dialog: DialogObservation? = nil, findings: [Finding] = []
        ) {
            self.port = port
            self.state = state
            self.stateReason = stateReason
            self.service = service
            self.transport = transport
            self.rttMs = rttMs
            self.dialog = dialog
            self.findings = findings
        }

        private enum CodingKeys: String, CodingKey {
            case port, state, stateReason, service, transport, rttMs, findings
            case identifiedAs  // present exactly when a dialog ran
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            port = try container.decode(UInt16.self, forKey: .port)
            state = try container.decode(PortState.self, forKey: .state)
            stateReason = try container.decode(StateReason.self, forKey: .stateReason)
            service = try container.decode(MailService.self, forKey: .service)
            transport = try container.decode(Transport.self, forKey: .transport)
            rttMs = try container.decodeIfPresent(Double.self, forKey: .rttMs)
            findings = try container.decode([Finding].self, forKey: .findings)
            dialog = container.contains(.identifiedAs) ? try DialogObservation(from: decoder) : nil
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(port, forKey: .port)
            try container.encode(state, forKey: .state)
            try container.encode(stateReason, forKey: .stateReason)
            try container.encode(service, forKey: .service)
            try container.encode(transport, forKey: .transport)
            try container.encodeIfPresent(rttMs, forKey: .rttMs)
            try container.encode(findings, forKey: .findings)
            try dialog?.encode(to: encoder)
        }
    }

    public struct Finding: Codable, Sendable, Equatable {
        public var rule: String
        public var severity: Severity
        public var title: String
        /// The facts that made the rule fire, in words (may quote the server: untrusted text).
        public var evidence: String
        /// An active waiver covers this finding: it stays visible but counts toward neither grade nor `--fail-on`.
        public var waived: Bool
        public var waiverReason: String?
        public var waiverExpires: String?
        /// With `--baseline`: `new` or `unchanged`.
        public var status: BaselineStatus?

        public init(
            rule: String, severity: Severity, title: String, evidence: String, waived: Bool = false,
            waiverReason: String? = nil, waiverExpires: String? = nil, status: BaselineStatus? = nil
        ) {
            self.rule = rule
            self.severity = severity
            self.title = title
            self.evidence = evidence
            self.waived = waived
            self.waiverReason = waiverReason
            self.waiverExpires = waiverExpires
            self.status = status
        }

        private enum CodingKeys: String, CodingKey {
            case rule, severity, title, evidence, waived, waiverReason, waiverExpires, status
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            rule = try container.decode(String.self, forKey: .rule)
            severity = try container.decode(Severity.self, forKey: .severity)
            title = try container.decode(String.self, forKey: .title)
            evidence = try container.decode(String.self, forKey: .evidence)
            waived = try container.decodeIfPresent(Bool.self, forKey: .waived) ?? false
            waiverReason = try container.decodeIfPresent(String.self, forKey: .waiverReason)
            waiverExpires = try container.decodeIfPresent(String.self, forKey: .waiverExpires)
            status = try container.decodeIfPresent(BaselineStatus.self, forKey: .status)
        }
    }

    /// A rule's metadata as the report carries it.
    public struct RuleDescription: Codable, Sendable, Equatable {
        public var title: String
        public var description: String
        /// The severity the rule set gives it before profile adjustments.
        public var severity: Severity
        /// How to fix it: general advice, then settings per server software (postfix, dovecot, exim).
        public var remediation: [String: String]
        public var references: [String]

        public init(
            title: String, description: String, severity: Severity, remediation: [String: String],
            references: [String]
        ) {
            self.title = title
            self.description = description
            self.severity = severity
            self.remediation = remediation
            self.references = references
        }
    }

    /// One waiver from `--waivers` and what became of it.
    public struct WaiverState: Codable, Sendable, Equatable {
        /// The host (address, CIDR or name) as written in the waivers file.
        public var host: String
        public var port: UInt16?
        public var rule: String
        public var reason: String
        /// YYYY-MM-DD; the waiver holds through that day (UTC).
        public var expires: String
        /// `active`, or `expired` (then it covers nothing and is itself a finding where it would have applied).
        public var status: Status
        /// Findings it matched in this scan.
        public var matched: Int

        public init(
            host: String, port: UInt16?, rule: String, reason: String, expires: String, status: Status,
            matched: Int
        ) {
            self.host = host
            self.port = port
            self.rule = rule
            self.reason = reason
            self.expires = expires
            self.status = status
            self.matched = matched
        }
    }
}

extension ScanReport {
    /// An endpoint as reports and diffs name it: `192.0.2.1:25`, `[2001:db8::1]:25`; port 0 (a domain's finding in a
    /// baseline comparison) is the name alone.
    public static func location(_ address: String, _ port: UInt16) -> String {
        if port == 0 { return address }
        return address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
