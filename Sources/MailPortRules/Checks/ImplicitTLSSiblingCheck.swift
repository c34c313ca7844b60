import MailPortCore

/// Shared by MP-PREFER-993 and MP-PREFER-995: the plaintext-start service is offered without its implicit-TLS
/// sibling, so clients have no way in that is encrypted from the first byte.
func missingImplicitSibling(_ host: HostContext, plaintext: MailService, implicit: MailService) -> [Hit] {
    guard host.offers(implicit).isEmpty else { return [] }
    return host.offers(plaintext).prefix(1).map { endpoint in
        Hit(
            port: endpoint.port,
            evidence:
                "\(plaintext.rawValue.uppercased()) is offered on \(endpoint.label) but \(implicit.rawValue.uppercased()) (\(implicit.standardPort)) is not open"
        )
    }
}
