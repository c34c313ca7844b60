import MailPortCore

/// MP-SRV-CLEARTEXT-ONLY: `_submission`, `_imap` or `_pop3` advertised (with a real target) while the implicit-TLS
/// sibling is absent or declared unavailable (RFC 8314 §5.1).
struct DomainSRVCleartextOnlyCheck: DomainCheck {
    let id = "MP-SRV-CLEARTEXT-ONLY"
    static let siblings = [("submission", "submissions"), ("imap", "imaps"), ("pop3", "pop3s")]

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        let domain = context.domain
        return Self.siblings.compactMap { cleartext, tls in
            guard let offered = domain.srv.first(where: { $0.service == cleartext && !$0.declaresUnavailable }) else {
                return nil
            }
            // Unknown is not absent: a failed SRV lookup for the sibling concludes nothing.
            guard context.lookup("_\(tls)._tcp.\(domain.name)", "SRV")?.isFailure == false else { return nil }
            guard !domain.srv.contains(where: { $0.service == tls && !$0.declaresUnavailable }) else { return nil }
            return "_\(cleartext)._tcp.\(domain.name) → \(offered.target):\(offered.port), but no _\(tls)._tcp record"
        }
    }
}
