import MailPortCore

/// MP-DNS-LOOKUP-FAILED: lookups that ended without an answer (SERVFAIL, REFUSED, timeout, malformed), one finding
/// listing them all; the facts they would have given stay unknown.
struct DNSLookupFailedCheck: DomainCheck {
    let id = "MP-DNS-LOOKUP-FAILED"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        let failed = context.domain.lookups.filter(\.outcome.isFailure)
        guard !failed.isEmpty else { return [] }
        // A dead or broken zone fails every question the same way: say so once.
        let outcomes = Set(failed.map(\.outcome))
        if failed.count == context.domain.lookups.count, failed.count > 1, outcomes.count == 1 {
            return [
                "\(context.domain.name): all \(failed.count) lookups (MX, SRV, TXT, A, AAAA) ended in \(failed[0].outcome.rawValue)"
            ]
        }
        let listed = failed.prefix(12).map { "\($0.type) \($0.name): \($0.outcome.rawValue)" }
        let more = failed.count > 12 ? " and \(failed.count - 12) more" : ""
        return ["\(context.domain.name): \(listed.joined(separator: "; "))\(more)"]
    }
}
