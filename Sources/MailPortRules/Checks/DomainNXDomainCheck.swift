import MailPortCore

/// MP-DOMAIN-NXDOMAIN: the resolver says the domain itself does not exist.
struct DomainNXDomainCheck: DomainCheck {
    let id = "MP-DOMAIN-NXDOMAIN"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        guard context.domain.status == .nxdomain else { return [] }
        return ["\(context.domain.name): the resolver answered NXDOMAIN (no such domain)"]
    }
}
