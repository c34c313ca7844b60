/// MP-PROTOCOL-VIOLATION: the server broke the protocol's grammar or a bound (over-long lines, endless replies,
/// binary data); MailPort cut its input there.
struct ProtocolViolationCheck: EndpointCheck {
    let id = "MP-PROTOCOL-VIOLATION"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let violations = endpoint.dialog?.violations, !violations.isEmpty else { return nil }
        let listed = violations.prefix(5).map { "\($0.kind.rawValue): \(quoted($0.detail, limit: 80))" }
        let more = violations.count > 5 ? " and \(violations.count - 5) more" : ""
        return Hit(port: endpoint.port, evidence: "\(endpoint.label): " + listed.joined(separator: "; ") + more)
    }
}
