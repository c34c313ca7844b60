/// The JSON report of the contract (PRODUCT.md, "JSON report"), versioned by `schemaVersion` and described by
/// `Reports/schema/mailport-report.schema.json`. Field names are the contract's; add fields, never rename them.
public struct ScanReport: Codable, Sendable, Equatable {
    public static let currentSchemaVersion = "1.0"

    public var schemaVersion: String
    public var tool: Tool
    public var scan: Scan
    public var summary: Summary
    public var hosts: [Host]

    public init(schemaVersion: String = ScanReport.currentSchemaVersion, tool: Tool, scan: Scan, summary: Summary,
                hosts: [Host]) {
        self.schemaVersion = schemaVersion
        self.tool = tool
        self.scan = scan
        self.summary = summary
        self.hosts = hosts
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
        public var mode: String
        /// False when the scan was interrupted or stopped early; the report then holds what was seen so far.
        public var complete: Bool
        public var incompleteReason: String?
        /// Seed of the probe order, so a run can be repeated (and shards matched) exactly.
        public var seed: UInt64
        public var probesPlanned: UInt64
        public var probesDone: UInt64
        /// Whether dialogs, TLS and rules ran (false with --discovery-only and in builds without those stages).
        public var discoveryOnly: Bool

        public init(startedAt: String, finishedAt: String, targets: [String], excludes: [String], ports: [PortSpec],
                    profile: String, mode: String, complete: Bool, incompleteReason: String?, seed: UInt64,
                    probesPlanned: UInt64, probesDone: UInt64, discoveryOnly: Bool) {
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
        public var findingsBySeverity: [String: Int]
        /// Overall grade (worst host); null until rules have been evaluated.
        public var grade: String?

        public init(hosts: UInt64, hostsUp: UInt64, hostsWithOpenPorts: UInt64, openEndpoints: UInt64,
                    closedEndpoints: UInt64, filteredEndpoints: UInt64, findingsBySeverity: [String: Int],
                    grade: String?) {
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
            case findingsBySeverity, grade
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
            try container.encode(grade, forKey: .grade)
        }
    }

    public struct Host: Codable, Sendable, Equatable {
        public var address: String
        /// Every name the address was given by (hostnames on the command line, later DNS); used for certificate
        /// name checks.
        public var names: [String]
        public var grade: String?
        public var endpoints: [Endpoint]

        public init(address: String, names: [String], grade: String?, endpoints: [Endpoint]) {
            self.address = address
            self.names = names
            self.grade = grade
            self.endpoints = endpoints
        }

        private enum CodingKeys: String, CodingKey {
            case address, names, grade, endpoints
        }

        /// Written by hand so an absent grade appears as `null`.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(address, forKey: .address)
            try container.encode(names, forKey: .names)
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

        public init(port: UInt16, state: PortState, stateReason: StateReason, service: MailService,
                    transport: Transport, rttMs: Double?, dialog: DialogObservation? = nil, findings: [Finding] = []) {
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
        public var severity: String
        public var title: String
        public var evidence: String

        public init(rule: String, severity: String, title: String, evidence: String) {
            self.rule = rule
            self.severity = severity
            self.title = title
            self.evidence = evidence
        }
    }
}
