/// MP-PORT-143: IMAP on its plaintext port.
struct PortIMAPCheck: EndpointCheck {
    let id = "MP-PORT-143"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        openPortHit(endpoint, service: .imap, what: "IMAP starts in plaintext")
    }
}
