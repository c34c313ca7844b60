/// MP-STARTTLS-MISSING: a plaintext-start port whose capabilities were read in full lists no STARTTLS/STLS.
/// Not judged when the capabilities are unknown (EHLO refused, dialog cut short, a 421): no verdict from
/// missing facts.
struct StartTLSMissingCheck: EndpointCheck {
    let id = "MP-STARTTLS-MISSING"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard endpoint.plaintextCapabilitiesKnown, endpoint.dialog?.starttls?.offered != true else { return nil }
        let command = endpoint.service == .pop3 ? "STLS" : "STARTTLS"
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label) does not offer \(command); the session can only run in plaintext")
    }
}
