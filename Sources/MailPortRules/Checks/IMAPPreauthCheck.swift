/// MP-IMAP-PREAUTH: IMAP greets with PREAUTH on a plaintext port: the session is logged in before any TLS.
struct IMAPPreauthCheck: EndpointCheck {
    let id = "MP-IMAP-PREAUTH"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard endpoint.service == .imap, let dialog = endpoint.dialog, dialog.identifiedAs == .imap,
            dialog.greetingStatus?.uppercased() == "PREAUTH"
        else { return nil }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label) greets with PREAUTH in plaintext: \(quoted(dialog.banner ?? ""))")
    }
}
