/// What a mail domain publishes to tell sending servers to insist on TLS (RFC 8461 MTA-STS) and where to report TLS
/// failures (RFC 8460 TLS-RPT), as domain mode found it. Facts only: whether a testing-mode policy or an MX outside
/// the policy is a problem is for the domain rules, which also hold the policy against the certificates the MX hosts
/// served on port 25. Every text here came from DNS or an HTTPS server: hostile, bounded, escaped by the writers.
public struct MTASTSObservation: Codable, Sendable, Equatable {
    /// How the `_mta-sts.DOMAIN` TXT lookup ended.
    public var lookup: DomainObservation.LookupOutcome
    /// The TXT records that begin with `v=STSv1` (RFC 8461 §3.1 discards the others), at most 8 of 512 characters.
    public var records: [String]
    /// The policy id of the one valid record.
    public var id: String?
    /// Why the record set does not announce a policy: several records, a bad version, no or a bad id. Empty when
    /// exactly one valid record was published (or none).
    public var recordProblems: [String]
    /// The HTTPS fetch of the policy, made when exactly one valid record was published.
    public var policy: MTASTSPolicyFetch?

    public init(
        lookup: DomainObservation.LookupOutcome, records: [String] = [], id: String? = nil,
        recordProblems: [String] = [], policy: MTASTSPolicyFetch? = nil
    ) {
        self.lookup = lookup
        self.records = records
        self.id = id
        self.recordProblems = recordProblems
        self.policy = policy
    }

    /// A valid record was published: senders will look for the policy.
    public var announced: Bool { records.count == 1 && recordProblems.isEmpty && id != nil }
}

/// The policy file at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` and its fields.
public struct MTASTSPolicyFetch: Codable, Sendable, Equatable {
    public var url: String
    /// The address it was fetched from, when the policy host resolved.
    public var address: String?
    public var outcome: Outcome
    /// What went wrong, in words: the HTTP status, the redirect's target, the certificate's problem, the media type.
    public var detail: String?
    /// Body bytes read.
    public var size: Int?
    /// The fields, when the file was fetched (`outcome == .fetched`); absent ones stay nil.
    public var version: String?
    public var mode: Mode?
    public var maxAge: Int?
    /// The `mx` patterns in order (`mx.example.org`, `*.example.org`).
    public var mx: [String]
    /// What is wrong with the file's syntax or values (a missing field, an unknown mode, max_age out of range).
    public var problems: [String]

    public init(
        url: String, address: String? = nil, outcome: Outcome, detail: String? = nil, size: Int? = nil,
        version: String? = nil, mode: Mode? = nil, maxAge: Int? = nil, mx: [String] = [], problems: [String] = []
    ) {
        self.url = url
        self.address = address
        self.outcome = outcome
        self.detail = detail
        self.size = size
        self.version = version
        self.mode = mode
        self.maxAge = maxAge
        self.mx = mx
        self.problems = problems
    }

    public enum Outcome: String, Codable, Sendable, Equatable {
        /// HTTP 200, `text/plain`, within the size limit, over a certificate valid for the policy host.
        case fetched
        /// `mta-sts.DOMAIN` has no address.
        case noAddress
        /// No TCP connection to port 443.
        case connectFailed
        /// The TLS handshake failed.
        case tlsFailed
        /// The certificate does not verify to a trusted root or does not cover `mta-sts.DOMAIN`: senders must not
        /// use the policy (RFC 8461 §3.3).
        case certificateInvalid
        /// A 3xx answer: senders must not follow redirects (RFC 8461 §3.3).
        case redirected
        /// An HTTP status other than 200 and 3xx.
        case httpError
        /// A media type other than `text/plain`.
        case wrongContentType
        /// The body is larger than the limit (64 KiB).
        case tooLarge
        /// The server did not answer in time.
        case timeout
        /// Not HTTP/1.x, or a response that could not be parsed.
        case malformed
    }

    public enum Mode: String, Codable, Sendable, Equatable {
        case enforce, testing, none
    }

    /// The policy can be used: fetched, with a mode, and no syntax problem.
    public var usable: Bool { outcome == .fetched && problems.isEmpty && mode != nil }

    /// RFC 8461 §4.1: does an MX host name match one of the patterns? A pattern `*.example.org` matches exactly one
    /// label in place of the asterisk (`mx.example.org`, not `a.mx.example.org` nor `example.org`). Case-insensitive,
    /// trailing dots ignored.
    public static func pattern(_ pattern: String, matches host: String) -> Bool {
        func clean(_ text: String) -> String {
            var lowered = text.lowercased()
            while lowered.hasSuffix(".") { lowered.removeLast() }
            return lowered
        }
        let (pattern, host) = (clean(pattern), clean(host))
        guard !pattern.isEmpty, !host.isEmpty else { return false }
        if pattern.hasPrefix("*.") {
            let suffix = pattern.dropFirst(1)
            guard host.hasSuffix(suffix) else { return false }
            let label = host.dropLast(suffix.count)
            return !label.isEmpty && !label.contains(".")
        }
        return pattern == host
    }
}

/// The `_smtp._tls.DOMAIN` TXT record (RFC 8460 §3): where sending servers report TLS failures.
public struct TLSRPTObservation: Codable, Sendable, Equatable {
    public var lookup: DomainObservation.LookupOutcome
    /// The TXT records that begin with `v=TLSRPTv1`, at most 8 of 512 characters.
    public var records: [String]
    /// The `rua` URIs of the one valid record (`mailto:` or `https:`).
    public var rua: [String]
    /// Why the record set is not usable: several records, a bad field, no `rua`, a URI of another scheme.
    public var problems: [String]

    public init(
        lookup: DomainObservation.LookupOutcome, records: [String] = [], rua: [String] = [], problems: [String] = []
    ) {
        self.lookup = lookup
        self.records = records
        self.rua = rua
        self.problems = problems
    }
}

/// DNSSEC as domain mode could see it through the configured resolver. The AD bit means something only from a
/// validating resolver over a trusted path (RFC 6698 §4.1): MailPort asks the resolver for the root zone's SOA, which
/// is signed, and a resolver that does not set AD there does not validate, so nothing here can be concluded.
public struct DNSSECObservation: Codable, Sendable, Equatable {
    /// The resolver set AD on the root zone's SOA: it validates.
    public var resolverValidates: Bool
    /// The resolver set AD on the domain's MX answer.
    public var mxAuthenticated: Bool

    public init(resolverValidates: Bool, mxAuthenticated: Bool) {
        self.resolverValidates = resolverValidates
        self.mxAuthenticated = mxAuthenticated
    }
}

/// The `_25._tcp.EXCHANGE` TLSA lookup of one MX (RFC 7672 §2.2).
public struct TLSAObservation: Codable, Sendable, Equatable {
    public var name: String
    public var lookup: DomainObservation.LookupOutcome
    /// The resolver set AD on the answer: DNSSEC-authenticated (when `resolverValidates`).
    public var authenticated: Bool
    /// At most 16 records.
    public var records: [TLSARecord]

    public init(
        name: String, lookup: DomainObservation.LookupOutcome, authenticated: Bool, records: [TLSARecord] = []
    ) {
        self.name = name
        self.lookup = lookup
        self.authenticated = authenticated
        self.records = records
    }

    /// Records an SMTP client may use (RFC 7672 §3.1.3): DANE-TA(2) and DANE-EE(3) with a known selector and
    /// matching type. PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP.
    public var usableRecords: [TLSARecord] { records.filter(\.usable) }
}

/// One TLSA record: `usage selector matchingType data`.
public struct TLSARecord: Codable, Sendable, Equatable {
    public var usage: Int
    public var selector: Int
    public var matchingType: Int
    /// The certificate association data, lower-case hex (at most 4,096 bytes of it).
    public var data: String
    /// What the certificate facts are compared with: the data itself for SHA-256 (1) and SHA-512 (2), the SHA-256 of
    /// the data for an exact match (0; equal data have equal digests). Absent when it could not be computed.
    public var digest: String?

    public init(usage: Int, selector: Int, matchingType: Int, data: String, digest: String? = nil) {
        self.usage = usage
        self.selector = selector
        self.matchingType = matchingType
        self.data = data
        self.digest = digest
    }

    public var usable: Bool {
        [2, 3].contains(usage) && [0, 1].contains(selector) && [0, 1, 2].contains(matchingType)
    }

    /// "3 1 1 0a1b2c…", for evidence and reports.
    public var text: String { "\(usage) \(selector) \(matchingType) \(data.prefix(16))\(data.count > 16 ? "…" : "")" }

    /// Does this record match the certificate? nil when the certificate facts lack the digest it needs (a report
    /// from before MailPort recorded them).
    public func matches(_ certificate: CertificateFacts) -> Bool? {
        guard let digest, !digest.isEmpty else { return nil }
        let candidate: String?
        switch (selector, matchingType) {
        case (0, 0), (0, 1): candidate = certificate.sha256
        case (0, 2): candidate = certificate.sha512
        case (1, 0), (1, 1): candidate = certificate.spkiSHA256
        case (1, 2): candidate = certificate.spkiSHA512
        default: return false
        }
        guard let candidate else { return nil }
        return candidate == digest
    }

    /// RFC 7672 §3.1: DANE-EE(3) matches the leaf alone (no name or expiry check); DANE-TA(2) matches a certificate
    /// the server sent above the leaf (the name of the leaf is then checked by the caller). nil when unknown.
    public func matchesChain(_ chain: [CertificateFacts]) -> Bool? {
        guard usable, let leaf = chain.first else { return false }
        if usage == 3 { return matches(leaf) }
        var unknown = false
        for certificate in chain.dropFirst() {
            switch matches(certificate) {
            case true?: return true
            case nil: unknown = true
            case false?: break
            }
        }
        return unknown ? nil : false
    }
}
