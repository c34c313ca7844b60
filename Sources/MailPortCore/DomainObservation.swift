/// What DNS said about a mail domain (`scan --domain`): its MX and RFC 6186 SRV records, the usual mail host names,
/// and every lookup's outcome. Facts only; the domain rules judge them and the report groups hosts under it.
public struct DomainObservation: Codable, Sendable, Equatable {
    public var name: String
    /// The domain's own existence as the MX lookup saw it: `ok`, `nxdomain`, or a failure (`servfail`, `refused`,
    /// `timeout`, `malformed`) that leaves it unknown.
    public var status: LookupOutcome
    public var mx: [MXRecord]
    /// RFC 7505 null MX (`MX 0 .`): the domain says it accepts no mail.
    public var nullMX: Bool
    public var srv: [SRVRecord]
    /// `mail.`, `smtp.`, `imap.`, `pop.` names of the domain that resolved.
    public var wellKnownNames: [NamedAddresses]
    /// Every query asked for the domain and how it ended.
    public var lookups: [Lookup]
    /// Addresses of the hosts found for the domain (they are listed in `hosts` of the report).
    public var hosts: [String]
    /// MTA-STS (RFC 8461): the `_mta-sts` record and the policy fetched over HTTPS. Absent in reports made before
    /// MailPort checked it.
    public var mtaSTS: MTASTSObservation?
    /// TLS-RPT (RFC 8460): the `_smtp._tls` record.
    public var tlsRPT: TLSRPTObservation?
    /// Whether the resolver validates DNSSEC and whether it authenticated the MX answer.
    public var dnssec: DNSSECObservation?
    /// Worst of the domain's own findings and its hosts' grades.
    public var grade: Grade?
    public var findings: [ScanReport.Finding]

    public init(
        name: String, status: LookupOutcome, mx: [MXRecord] = [], nullMX: Bool = false, srv: [SRVRecord] = [],
        wellKnownNames: [NamedAddresses] = [], lookups: [Lookup] = [], hosts: [String] = [],
        grade: Grade? = nil, findings: [ScanReport.Finding] = []
    ) {
        self.name = name
        self.status = status
        self.mx = mx
        self.nullMX = nullMX
        self.srv = srv
        self.wellKnownNames = wellKnownNames
        self.lookups = lookups
        self.hosts = hosts
        self.grade = grade
        self.findings = findings
    }

    public enum LookupOutcome: String, Codable, Sendable, Equatable {
        /// An answer with records.
        case ok
        /// The name exists but has no record of the type asked (NOERROR, empty answer).
        case nodata
        case nxdomain
        case servfail
        case refused
        case timeout
        /// An answer that could not be parsed, or did not match the question.
        case malformed

        /// The lookup failed: nothing can be concluded from it.
        public var isFailure: Bool { ![.ok, .nodata, .nxdomain].contains(self) }
    }

    public struct Lookup: Codable, Sendable, Equatable {
        public var name: String
        /// `MX`, `SRV`, `TXT`, `A`, `AAAA`.
        public var type: String
        public var outcome: LookupOutcome
        /// Extra words: the CNAME chain followed, the transport used (`tcp` after a truncated UDP answer).
        public var detail: String?

        public init(name: String, type: String, outcome: LookupOutcome, detail: String? = nil) {
            self.name = name
            self.type = type
            self.outcome = outcome
            self.detail = detail
        }
    }

    public struct MXRecord: Codable, Sendable, Equatable {
        public var preference: UInt16
        public var exchange: String
        /// The exchange is an alias: RFC 2181 §10.3 forbids MX targets that are CNAMEs. The alias's target.
        public var cname: String?
        /// The exchange is written as an address (`192.0.2.1`, `[192.0.2.1]`), which RFC 5321 §5.1 does not allow.
        public var addressLiteral: Bool
        public var addresses: [String]
        /// How the address lookups of the exchange ended (a failure leaves `addresses` incomplete).
        public var resolution: LookupOutcome
        /// DANE: the exchange's `_25._tcp` TLSA records. Absent for address literals and in older reports.
        public var tlsa: TLSAObservation?

        public init(
            preference: UInt16, exchange: String, cname: String? = nil, addressLiteral: Bool = false,
            addresses: [String] = [], resolution: LookupOutcome = .ok
        ) {
            self.preference = preference
            self.exchange = exchange
            self.cname = cname
            self.addressLiteral = addressLiteral
            self.addresses = addresses
            self.resolution = resolution
        }
    }

    public struct SRVRecord: Codable, Sendable, Equatable {
        /// The RFC 6186/8314 service label without underscores: `submission`, `submissions`, `imap`, `imaps`,
        /// `pop3`, `pop3s`.
        public var service: String
        public var priority: UInt16
        public var weight: UInt16
        public var port: UInt16
        /// `.` means "not offered" (RFC 2782).
        public var target: String
        public var addresses: [String]
        public var resolution: LookupOutcome

        public init(
            service: String, priority: UInt16, weight: UInt16, port: UInt16, target: String,
            addresses: [String] = [], resolution: LookupOutcome = .ok
        ) {
            self.service = service
            self.priority = priority
            self.weight = weight
            self.port = port
            self.target = target
            self.addresses = addresses
            self.resolution = resolution
        }

        /// RFC 2782: a target of "." says the service is decidedly not available at this domain.
        public var declaresUnavailable: Bool { target == "." }
    }

    public struct NamedAddresses: Codable, Sendable, Equatable {
        public var name: String
        public var addresses: [String]

        public init(name: String, addresses: [String]) {
            self.name = name
            self.addresses = addresses
        }
    }
}

extension ScanReport {
    /// Where a domain finding is listed (reports and diffs): `domain example.org`.
    public static func domainLocation(_ name: String) -> String { "domain \(name)" }
}
