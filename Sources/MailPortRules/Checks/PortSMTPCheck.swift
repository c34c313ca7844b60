/// MP-PORT-25: the relay/MX port answers. Expected on a declared MX (the baseline profile turns it into info
/// there); elsewhere it is an exposed relay surface.
struct PortSMTPCheck: EndpointCheck {
    let id = "MP-PORT-25"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        openPortHit(endpoint, service: .smtp, what: endpoint.host.isMX ? "declared MX" : "SMTP relay port")
    }
}
