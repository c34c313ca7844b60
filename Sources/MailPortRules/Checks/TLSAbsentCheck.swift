import MailPortCore

/// MP-TLS-ABSENT: an implicit-TLS port (465, 993, 995) greets in plaintext mail protocol instead of TLS.
struct TLSAbsentCheck: EndpointCheck {
    let id = "MP-TLS-ABSENT"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard endpoint.service.expectedTransport == .implicitTLS, let dialog = endpoint.dialog, dialog.tls == nil,
            [.smtp, .imap, .pop3].contains(dialog.identifiedAs)
        else { return nil }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label) should start with TLS but greeted in plaintext: \(quoted(dialog.banner ?? ""))"
        )
    }
}
