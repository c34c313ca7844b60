import MailPortCore

/// MP-MX-MISSING: the domain exists, the MX lookup answered, and there is no MX (a null MX is an answer, not a gap).
struct DomainMXMissingCheck: DomainCheck {
    let id = "MP-MX-MISSING"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        let domain = context.domain
        guard domain.status == .ok, domain.mx.isEmpty, !domain.nullMX,
            context.lookup(domain.name, "MX") == .nodata
        else { return [] }
        let apex = domain.wellKnownNames.first { $0.name == domain.name }
        let fallback =
            apex.map { "senders fall back to its address records (\($0.addresses.prefix(4).joined(separator: ", ")))" }
            ?? "and it has no address records either, so mail to it cannot be delivered"
        return ["\(domain.name): no MX record; \(fallback)"]
    }
}
