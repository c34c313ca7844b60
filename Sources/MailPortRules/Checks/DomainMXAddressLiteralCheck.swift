import MailPortCore

/// MP-MX-ADDRESS-LITERAL: an MX exchange written as an IP address.
struct DomainMXAddressLiteralCheck: DomainCheck {
    let id = "MP-MX-ADDRESS-LITERAL"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        context.domain.mx.filter(\.addressLiteral).map { mx in
            "\(context.domain.name) MX \(mx.preference) \(mx.exchange) names an address, not a host"
        }
    }
}
