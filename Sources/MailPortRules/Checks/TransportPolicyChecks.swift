import Foundation
import MailPortCore

// The transport policy rules (Rules/rules/policy.yaml): MTA-STS and TLS-RPT as domain mode found them, held against
// the MX records and what port 25 of each MX served. A lookup that failed says nothing (MP-DNS-LOOKUP-FAILED covers
// it); a policy that could not be fetched is judged by one rule only, never as "missing".

extension DomainContext {
    /// The domain takes mail: it exists and has MX records that are not a null MX.
    var receivesMail: Bool {
        domain.status == .ok && !domain.nullMX && !domain.mx.isEmpty
    }

    /// Port 25 of each address of an MX that the scan found open, with where to say it is (`DOMAIN MX NAME at A:25`).
    func port25(of mx: DomainObservation.MXRecord) -> [(at: String, smtp: EndpointContext)] {
        mx.addresses.compactMap { address in
            guard let host = hosts[address],
                let endpoint = host.endpoints.first(where: { $0.port == 25 && $0.state == .open })
            else { return nil }
            return (
                "\(domain.name) MX \(mx.exchange) at \(ScanReport.location(address, 25))",
                EndpointContext(endpoint: endpoint, host: HostContext(host: host, isMX: true, now: Date()))
            )
        }
    }

    /// A usable MTA-STS policy in testing or enforce mode: the one the MX cross-checks apply to.
    var activePolicy: MTASTSPolicyFetch? {
        guard let policy = domain.mtaSTS?.policy, policy.usable, policy.mode == .enforce || policy.mode == .testing
        else { return nil }
        return policy
    }
}

/// What a sender that insists on TLS (MTA-STS, DANE) meets on port 25 before it looks at a certificate.
enum RequiredTLS {
    case unknown
    /// No STARTTLS, STARTTLS refused, or a handshake a standard client cannot complete.
    case refused(String)
    /// TLS came up; the certificate facts are there to check.
    case established(TLSObservation)

    init(_ smtp: EndpointContext) {
        guard smtp.spokeExpectedProtocol, let dialog = smtp.dialog else {
            self = .unknown
            return
        }
        guard let starttls = dialog.starttls, starttls.offered else {
            self = smtp.plaintextCapabilitiesKnown ? .refused("no STARTTLS offered") : .unknown
            return
        }
        if starttls.accepted == false {
            self = .refused("STARTTLS refused: \(quoted(starttls.reply ?? "no reply"))")
        } else if starttls.upgraded == false || smtp.tls?.legacyHandshake == true {
            self = .refused("the TLS handshake failed: \(quoted(starttls.error ?? "unknown error"))")
        } else if let tls = smtp.tls, tls.certificate != nil, !tls.chain.isEmpty {
            self = .established(tls)
        } else {
            self = .unknown
        }
    }
}

/// MP-MTASTS-MISSING: a domain that receives mail, has no `_mta-sts` record at all, and no DANE on every MX.
struct MTASTSMissingCheck: DomainCheck {
    let id = "MP-MTASTS-MISSING"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard context.receivesMail, let sts = context.domain.mtaSTS, [.nxdomain, .nodata, .ok].contains(sts.lookup),
            sts.records.isEmpty
        else { return [] }
        // DANE on every MX does the same job (RFC 7672): the profile expects one of the two.
        let dane = context.daneMX.filter { !$0.tlsa.usableRecords.isEmpty }
        if dane.count == context.domain.mx.count { return [] }
        return [
            "\(context.domain.name) has \(context.domain.mx.count) MX record(s) and no v=STSv1 record at _mta-sts.\(context.domain.name) (\(sts.lookup.rawValue)): senders use STARTTLS only opportunistically"
        ]
    }
}

/// MP-MTASTS-RECORD-INVALID: v=STSv1 records that do not make exactly one valid record.
struct MTASTSRecordInvalidCheck: DomainCheck {
    let id = "MP-MTASTS-RECORD-INVALID"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard let sts = context.domain.mtaSTS, !sts.recordProblems.isEmpty else { return [] }
        let records = sts.records.prefix(3).map { quoted($0, limit: 120) }.joined(separator: ", ")
        return [
            "_mta-sts.\(context.domain.name): \(sts.recordProblems.joined(separator: "; ")) (records: \(records)); senders assume no policy"
        ]
    }
}

/// MP-MTASTS-POLICY-UNAVAILABLE: the record announces a policy that the HTTPS fetch did not give.
struct MTASTSPolicyUnavailableCheck: DomainCheck {
    let id = "MP-MTASTS-POLICY-UNAVAILABLE"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard let policy = context.domain.mtaSTS?.policy, policy.outcome != .fetched else { return [] }
        let from = policy.address.map { " (from \($0))" } ?? ""
        return [
            "\(policy.url)\(from): \(policy.outcome.rawValue): \(quoted(policy.detail ?? "no detail", limit: 200))"
        ]
    }
}

/// MP-MTASTS-POLICY-INVALID: the fetched policy file has syntax or value problems.
struct MTASTSPolicyInvalidCheck: DomainCheck {
    let id = "MP-MTASTS-POLICY-INVALID"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard let policy = context.domain.mtaSTS?.policy, policy.outcome == .fetched, !policy.problems.isEmpty else {
            return []
        }
        return ["\(policy.url): \(quoted(policy.problems.joined(separator: "; "), limit: 400))"]
    }
}

/// MP-MTASTS-NOT-ENFORCED: a valid policy in testing or none mode.
struct MTASTSNotEnforcedCheck: DomainCheck {
    let id = "MP-MTASTS-NOT-ENFORCED"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard let policy = context.domain.mtaSTS?.policy, policy.usable, let mode = policy.mode, mode != .enforce
        else { return [] }
        let effect =
            mode == .testing
            ? "senders report TLS failures but deliver anyway" : "the policy is withdrawn; senders forget it"
        return ["\(policy.url) says mode: \(mode.rawValue): \(effect)"]
    }
}

/// MP-MTASTS-MAX-AGE-SHORT: a valid policy cached for less than `min-seconds`.
struct MTASTSMaxAgeShortCheck: DomainCheck {
    let id = "MP-MTASTS-MAX-AGE-SHORT"
    var parameterKinds: [String: ParameterKind] { ["min-seconds": .integer(1...31_557_600)] }

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        let minimum = parameters.integer("min-seconds", default: 86400)
        guard let policy = context.domain.mtaSTS?.policy, policy.usable, policy.mode != MTASTSPolicyFetch.Mode.none,
            let maxAge = policy.maxAge, maxAge < minimum
        else { return [] }
        return ["\(policy.url): max_age \(maxAge) seconds, below \(minimum)"]
    }
}

/// MP-MTASTS-MX-NOT-COVERED: an MX name that matches none of an active policy's `mx` patterns.
struct MTASTSMXNotCoveredCheck: DomainCheck {
    let id = "MP-MTASTS-MX-NOT-COVERED"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard let policy = context.activePolicy else { return [] }
        return context.domain.mx.compactMap { mx in
            guard !policy.mx.contains(where: { MTASTSPolicyFetch.pattern($0, matches: mx.exchange) }) else {
                return nil
            }
            let patterns = policy.mx.prefix(6).joined(separator: ", ")
            return
                "\(context.domain.name) MX \(mx.exchange) matches none of the policy's mx patterns (\(quoted(patterns, limit: 200))), mode \(policy.mode?.rawValue ?? "?")"
        }
    }
}

/// MP-MTASTS-MX-CERT-INVALID: port 25 of an MX covered by an active policy, audited in full, served no certificate a
/// policy-applying sender accepts: no STARTTLS, a failed handshake, a chain that does not verify, or a certificate
/// that does not cover the MX name. MX hosts whose port 25 was not audited (closed, cut short) are not judged here.
struct MTASTSMXCertificateInvalidCheck: DomainCheck {
    let id = "MP-MTASTS-MX-CERT-INVALID"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard let policy = context.activePolicy else { return [] }
        var hits: [String] = []
        for mx in context.domain.mx where !mx.addressLiteral {
            guard policy.mx.contains(where: { MTASTSPolicyFetch.pattern($0, matches: mx.exchange) }) else { continue }
            for (at, smtp) in context.port25(of: mx) {
                if let problem = Self.problem(smtp, name: mx.exchange) {
                    hits.append("\(at): \(problem) (policy mode \(policy.mode?.rawValue ?? "?"))")
                }
            }
        }
        return hits
    }

    /// What an MTA-STS sender would refuse on this endpoint, or nil when it would deliver (or nothing is known).
    static func problem(_ smtp: EndpointContext, name: String) -> String? {
        let tls: TLSObservation
        switch RequiredTLS(smtp) {
        case .unknown: return nil
        case .refused(let problem): return problem
        case .established(let established): tls = established
        }
        if !tls.chainVerified {
            return "the certificate does not verify (\(quoted(tls.verifyError ?? "unknown error")))"
        }
        if tls.nameMatches[name] == false {
            let sans = tls.certificate.map { $0.sans.prefix(6).joined(separator: ", ") } ?? ""
            return "the certificate (SANs \(quoted(sans.isEmpty ? "none" : sans, limit: 200))) does not cover \(name)"
        }
        return nil
    }
}

/// MP-TLSRPT-MISSING: a domain that receives mail and has no v=TLSRPTv1 record.
struct TLSRPTMissingCheck: DomainCheck {
    let id = "MP-TLSRPT-MISSING"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard context.receivesMail, let rpt = context.domain.tlsRPT, [.nxdomain, .nodata, .ok].contains(rpt.lookup),
            rpt.records.isEmpty
        else { return [] }
        return ["\(context.domain.name) has no v=TLSRPTv1 record at _smtp._tls.\(context.domain.name)"]
    }
}

/// MP-TLSRPT-INVALID: v=TLSRPTv1 records that do not make exactly one valid record.
struct TLSRPTInvalidCheck: DomainCheck {
    let id = "MP-TLSRPT-INVALID"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard let rpt = context.domain.tlsRPT, !rpt.problems.isEmpty else { return [] }
        return ["_smtp._tls.\(context.domain.name): \(quoted(rpt.problems.joined(separator: "; "), limit: 400))"]
    }
}

// DANE for SMTP (RFC 7672): TLSA records mean something only when a validating resolver authenticated them. Without
// a validating resolver none of these rules fires; the report says the resolver does not validate.

extension DomainContext {
    var resolverValidates: Bool { domain.dnssec?.resolverValidates == true }

    /// MX records with a DNSSEC-authenticated TLSA set that holds records (what DANE senders act on).
    var daneMX: [(mx: DomainObservation.MXRecord, tlsa: TLSAObservation)] {
        guard resolverValidates else { return [] }
        return domain.mx.compactMap { mx in
            guard let tlsa = mx.tlsa, tlsa.authenticated, tlsa.lookup == .ok, !tlsa.records.isEmpty else { return nil }
            return (mx, tlsa)
        }
    }
}

/// MP-DANE-TLSA-MISMATCH: an MX publishes authenticated, usable TLSA records, and what its port 25 served matches none
/// of them (or it offered no STARTTLS, or the handshake failed): DANE senders will not deliver there.
struct DANETLSAMismatchCheck: DomainCheck {
    let id = "MP-DANE-TLSA-MISMATCH"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        var hits: [String] = []
        for (mx, tlsa) in context.daneMX where !tlsa.usableRecords.isEmpty {
            for (at, smtp) in context.port25(of: mx) {
                let records = tlsa.usableRecords.prefix(4).map(\.text).joined(separator: ", ")
                if let problem = Self.problem(smtp, usable: tlsa.usableRecords, name: mx.exchange) {
                    hits.append("\(at): \(problem); TLSA \(records)")
                }
            }
        }
        return hits
    }

    static func problem(_ smtp: EndpointContext, usable: [TLSARecord], name: String) -> String? {
        let tls: TLSObservation
        switch RequiredTLS(smtp) {
        case .unknown: return nil
        case .refused(let problem): return problem + ", which DANE requires"
        case .established(let established): tls = established
        }
        var unknown = false
        var trustAnchorWithoutName = false
        for record in usable {
            switch record.matchesChain(tls.chain) {
            case true?:
                // DANE-TA also checks the name (RFC 7672 §3.2.2); DANE-EE does not.
                if record.usage == 3 || tls.nameMatches[name] != false { return nil }
                trustAnchorWithoutName = true
            case nil: unknown = true
            case false?: break
            }
        }
        if unknown { return nil }
        if trustAnchorWithoutName {
            return "a DANE-TA record matches the chain, but the certificate does not cover \(name)"
        }
        let leaf = tls.chain[0]
        return
            "no usable TLSA record matches the chain it sent (leaf SHA-256 \(leaf.sha256.prefix(16))…, SPKI SHA-256 \((leaf.spkiSHA256 ?? "?").prefix(16))…)"
    }
}

/// MP-DANE-TLSA-UNSIGNED: TLSA records that the validating resolver did not authenticate: senders ignore them.
struct DANETLSAUnsignedCheck: DomainCheck {
    let id = "MP-DANE-TLSA-UNSIGNED"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard context.resolverValidates else { return [] }
        return context.domain.mx.compactMap { mx in
            guard let tlsa = mx.tlsa, tlsa.lookup == .ok, !tlsa.records.isEmpty, !tlsa.authenticated else {
                return nil
            }
            return
                "\(tlsa.name): \(tlsa.records.count) TLSA record(s) without DNSSEC authentication (the validating resolver set no AD bit); DANE senders ignore them"
        }
    }
}

/// MP-DANE-TLSA-UNUSABLE: an authenticated TLSA set with no record an SMTP client may use.
struct DANETLSAUnusableCheck: DomainCheck {
    let id = "MP-DANE-TLSA-UNUSABLE"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        context.daneMX.compactMap { mx, tlsa in
            guard tlsa.usableRecords.isEmpty else { return nil }
            let records = tlsa.records.prefix(4).map(\.text).joined(separator: ", ")
            return
                "\(tlsa.name): no usable record (\(records)); SMTP uses only DANE-TA(2) and DANE-EE(3) with selector 0/1 and matching type 0/1/2"
        }
    }
}

/// MP-DANE-MISSING: the MX answer is DNSSEC-signed but an MX has no TLSA records: DANE is one step away.
struct DANEMissingCheck: DomainCheck {
    let id = "MP-DANE-MISSING"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard context.resolverValidates, context.domain.dnssec?.mxAuthenticated == true, context.receivesMail else {
            return []
        }
        return context.domain.mx.compactMap { mx in
            guard let tlsa = mx.tlsa, [.nodata, .nxdomain].contains(tlsa.lookup) else { return nil }
            return "\(context.domain.name)'s MX answer is DNSSEC-signed, but \(tlsa.name) has no TLSA record"
        }
    }
}

/// MP-MX-REFUSES-DOMAIN: port 25 of an MX refused `RCPT TO:<postmaster@DOMAIN>` for the domain it is an MX of:
/// mail for the domain is turned away there (RFC 5321 §4.5.1 requires postmaster).
struct MXRefusesDomainCheck: DomainCheck {
    let id = "MP-MX-REFUSES-DOMAIN"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        var hits: [String] = []
        for mx in context.domain.mx where !mx.addressLiteral {
            for (at, smtp) in context.port25(of: mx) {
                guard
                    let answer = smtp.dialog?.smtpChecks?.ownDomains?.first(where: {
                        $0.question == "own domain \(context.domain.name)"
                    }), answer.outcome == .refused
                else { continue }
                hits.append("\(at): \(answer.command) answered \(quoted(answer.reply))")
            }
        }
        return hits
    }
}
