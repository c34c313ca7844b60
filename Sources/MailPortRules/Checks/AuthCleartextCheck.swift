import MailPortCore

/// MP-AUTH-CLEARTEXT: a client could send its password before TLS. SMTP: any AUTH in the EHLO reply before
/// STARTTLS. IMAP: no LOGINDISABLED, or AUTH=PLAIN/LOGIN, before STARTTLS. POP3: USER, or SASL PLAIN/LOGIN,
/// before STLS. Capabilities offered only inside TLS do not count.
struct AuthCleartextCheck: EndpointCheck {
    let id = "MP-AUTH-CLEARTEXT"
    var parameterKinds: [String: ParameterKind] { ["cleartext-mechanisms": .strings] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard endpoint.plaintextCapabilitiesKnown, let dialog = endpoint.dialog else { return nil }
        // PREAUTH: the session is already logged in; there is no credential to send (MP-IMAP-PREAUTH covers it).
        if dialog.greetingStatus?.uppercased() == "PREAUTH" { return nil }
        let cleartext = Set(parameters.strings("cleartext-mechanisms").map { $0.uppercased() })
        let weakMechanisms = dialog.authMechanisms.filter { cleartext.contains($0) }
        var reasons: [String] = []
        switch IdentifiedProtocol(endpoint.service) {
        case .smtp:
            if !dialog.authMechanisms.isEmpty {
                reasons.append("AUTH \(dialog.authMechanisms.joined(separator: " ")) is advertised before STARTTLS")
            }
        case .imap:
            let upper = dialog.capabilities.map { $0.uppercased() }
            if !upper.contains("LOGINDISABLED") {
                reasons.append("LOGIN is allowed before STARTTLS (no LOGINDISABLED)")
            }
            if !weakMechanisms.isEmpty {
                reasons.append(weakMechanisms.map { "AUTH=\($0)" }.joined(separator: " ") + " before STARTTLS")
            }
        case .pop3:
            if dialog.capabilities.contains(where: { $0.uppercased() == "USER" }) {
                reasons.append("USER/PASS is allowed before STLS")
            }
            if !weakMechanisms.isEmpty {
                reasons.append("SASL \(weakMechanisms.joined(separator: " ")) before STLS")
            }
        default:
            return nil
        }
        guard !reasons.isEmpty else { return nil }
        return Hit(port: endpoint.port, evidence: "\(endpoint.label): " + reasons.joined(separator: "; "))
    }
}
