/// MP-STARTTLS-INJECTION: a NOOP pipelined in the same segment as STARTTLS was answered inside TLS, so an attacker
/// on the path can inject commands that run in the protected session (CVE-2011-0411 class).
struct StartTLSInjectionCheck: EndpointCheck {
    let id = "MP-STARTTLS-INJECTION"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard endpoint.dialog?.starttls?.injectionAnsweredInsideTLS == true else { return nil }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label) answered, inside TLS, a command sent in plaintext together with STARTTLS")
    }
}
