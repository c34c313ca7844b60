import MailPortCore

/// MP-SERVICE-UNEXPECTED: a mail port answers with another protocol (SSH, HTTP, a different mail protocol),
/// unrecognised text or binary data. An implicit-TLS port that greets in the right protocol without TLS is
/// MP-TLS-ABSENT instead.
struct ServiceUnexpectedCheck: EndpointCheck {
    let id = "MP-SERVICE-UNEXPECTED"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let dialog = endpoint.dialog else { return nil }
        let expected = IdentifiedProtocol(endpoint.service)
        switch dialog.identifiedAs {
        case .none, expected:
            return nil
        case .tls where endpoint.service.expectedTransport == .implicitTLS:
            return nil
        default:
            var evidence = "\(endpoint.label) answered as \(dialog.identifiedAs.rawValue), not \(expected.rawValue)"
            if let banner = dialog.banner { evidence += ": \(quoted(banner, limit: 100))" }
            return Hit(port: endpoint.port, evidence: evidence)
        }
    }
}
