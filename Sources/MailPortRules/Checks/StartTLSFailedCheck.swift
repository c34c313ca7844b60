/// MP-STARTTLS-FAILED: STARTTLS/STLS is advertised, but the server refuses it, or the handshake fails for a
/// client with today's defaults (even if a lax client gets through).
struct StartTLSFailedCheck: EndpointCheck {
    let id = "MP-STARTTLS-FAILED"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard endpoint.spokeExpectedProtocol, let starttls = endpoint.dialog?.starttls, starttls.offered else {
            return nil
        }
        if starttls.accepted == false {
            return Hit(
                port: endpoint.port,
                evidence:
                    "\(endpoint.label) advertises STARTTLS but refused it: \(quoted(starttls.reply ?? "no reply"))")
        }
        guard starttls.upgraded == false else { return nil }
        var evidence =
            "\(endpoint.label): the TLS handshake after STARTTLS failed: \(quoted(starttls.error ?? "unknown error"))"
        if endpoint.tls?.legacyHandshake == true {
            evidence += " (only a lax client with legacy settings gets through)"
        }
        return Hit(port: endpoint.port, evidence: evidence)
    }
}
