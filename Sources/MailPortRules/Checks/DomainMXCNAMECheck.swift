import MailPortCore

/// MP-MX-CNAME: an MX exchange that is an alias.
struct DomainMXCNAMECheck: DomainCheck {
    let id = "MP-MX-CNAME"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        context.domain.mx.compactMap { mx in
            mx.cname.map { "\(context.domain.name) MX \(mx.preference) \(mx.exchange) is a CNAME for \($0)" }
        }
    }
}
