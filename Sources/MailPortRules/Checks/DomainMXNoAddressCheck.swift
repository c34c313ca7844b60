import MailPortCore

/// MP-MX-NO-ADDRESS: an MX exchange whose address lookups answered, with nothing (a failed lookup proves nothing).
struct DomainMXNoAddressCheck: DomainCheck {
    let id = "MP-MX-NO-ADDRESS"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        context.domain.mx.filter { !$0.addressLiteral && $0.addresses.isEmpty && !$0.resolution.isFailure }.map { mx in
            let why = mx.resolution == .nxdomain ? "does not exist (NXDOMAIN)" : "has no A or AAAA record"
            return "\(context.domain.name) MX \(mx.preference) \(mx.exchange) \(why)"
        }
    }
}
