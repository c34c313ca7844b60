/// MP-PORT-110: POP3 on its plaintext port.
struct PortPOP3Check: EndpointCheck {
    let id = "MP-PORT-110"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        openPortHit(endpoint, service: .pop3, what: "POP3 starts in plaintext")
    }
}
