/// MP-SERVICE-UNRESPONSIVE: the port accepts TCP connections but sends no greeting within the read timeout.
struct ServiceUnresponsiveCheck: EndpointCheck {
    let id = "MP-SERVICE-UNRESPONSIVE"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let dialog = endpoint.dialog, dialog.unresponsive else { return nil }
        return Hit(
            port: endpoint.port,
            evidence:
                "\(endpoint.label) accepted the connection but sent no greeting (\(dialog.incompleteReason ?? "timeout"))"
        )
    }
}
