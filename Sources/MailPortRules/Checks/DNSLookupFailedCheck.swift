import MailPortCore

/// MP-DNS-LOOKUP-FAILED: lookups that ended without an answer (SERVFAIL, REFUSED, timeout, malformed), one finding
/// listing them all; the facts they would have given stay unknown.
struct DNSLookupFailedCheck: DomainCheck {
    let id = "MP-DNS-LOOKUP-FAILED"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        let failed = context.domain.lookups.filter(\.outcome.isFailure)
        guard !failed.isEmpty else { return [] }
        let listed = failed.prefix(12).map { "\($0.type) \($0.name): \($0.outcome.rawValue)" }
        let more = failed.count > 12 ? " and \(failed.count - 12) more" : ""
        return ["\(context.domain.name): \(listed.joined(separator: "; "))\(more)"]
    }
}
