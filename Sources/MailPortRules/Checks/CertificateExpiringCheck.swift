/// MP-CERT-EXPIRING: the leaf is still valid but expires within `days`.
struct CertificateExpiringCheck: EndpointCheck {
    let id = "MP-CERT-EXPIRING"
    var parameterKinds: [String: ParameterKind] { ["days": .integer(1...3650)] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let leaf = endpoint.tls?.certificate, let left = daysLeft(leaf, now: endpoint.host.now) else {
            return nil
        }
        let days = parameters.integer("days", default: 30)
        guard left >= 0, left < days else { return nil }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label): the certificate expires \(leaf.notAfter), in \(left) days (threshold \(days))"
        )
    }
}
