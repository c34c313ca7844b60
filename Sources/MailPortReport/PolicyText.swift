import MailPortCore

/// One line each for a domain's transport policies, as the HTML and Markdown reports show them. Texts from DNS and
/// the policy server are raw here; each writer escapes them for its format.
enum PolicyText {
    /// The MTA-STS state in words, or nil for a report made before MailPort checked it.
    static func mtaSTS(_ domain: DomainObservation) -> String? {
        guard let sts = domain.mtaSTS else { return nil }
        if sts.lookup.isFailure { return "unknown: the _mta-sts lookup ended in \(sts.lookup.rawValue)" }
        if sts.records.isEmpty { return "none published" }
        if !sts.recordProblems.isEmpty { return "record not valid: " + sts.recordProblems.joined(separator: "; ") }
        guard let policy = sts.policy else { return "record id \(sts.id ?? "?"), policy not fetched" }
        guard policy.outcome == .fetched else {
            return "policy not available (\(policy.outcome.rawValue)): \(policy.detail ?? "")"
        }
        if !policy.problems.isEmpty { return "policy not valid: " + policy.problems.joined(separator: "; ") }
        let maxAge = policy.maxAge.map { "max_age \($0)" } ?? "no max_age"
        let mx = policy.mx.isEmpty ? "" : ", mx " + policy.mx.joined(separator: ", ")
        return "mode \(policy.mode?.rawValue ?? "?"), \(maxAge)\(mx) (id \(sts.id ?? "?"))"
    }

    /// The TLS-RPT state in words, or nil for a report made before MailPort checked it.
    static func tlsRPT(_ domain: DomainObservation) -> String? {
        guard let rpt = domain.tlsRPT else { return nil }
        if rpt.lookup.isFailure { return "unknown: the _smtp._tls lookup ended in \(rpt.lookup.rawValue)" }
        if rpt.records.isEmpty { return "none published" }
        if !rpt.problems.isEmpty { return "record not valid: " + rpt.problems.joined(separator: "; ") }
        return "reports to " + rpt.rua.joined(separator: ", ")
    }

    /// DANE in words: whether it could be judged, and each MX's TLSA set. nil for a report made before MailPort
    /// checked it. Whether the records match port 25 is in the findings.
    static func dane(_ domain: DomainObservation) -> String? {
        guard let dnssec = domain.dnssec else { return nil }
        guard dnssec.resolverValidates else { return "unknown: the resolver does not validate DNSSEC" }
        let sets = domain.mx.compactMap { mx -> String? in
            guard let tlsa = mx.tlsa else { return nil }
            if tlsa.lookup.isFailure { return "\(mx.exchange): lookup \(tlsa.lookup.rawValue)" }
            if tlsa.records.isEmpty { return "\(mx.exchange): no TLSA" }
            let records = tlsa.records.prefix(3).map(\.text).joined(separator: ", ")
            return "\(mx.exchange): \(records)\(tlsa.authenticated ? "" : " (not DNSSEC-authenticated)")"
        }
        let signed = dnssec.mxAuthenticated ? "MX signed" : "MX not signed"
        return sets.isEmpty ? signed : signed + "; " + sets.joined(separator: "; ")
    }
}
