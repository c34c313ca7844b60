/// MP-TLS-NO-MODERN: neither TLS 1.2 nor TLS 1.3 completes a handshake. Judged only when the versions were probed.
struct NoModernProtocolCheck: EndpointCheck {
    let id = "MP-TLS-NO-MODERN"
    var parameterKinds: [String: ParameterKind] { ["modern": .strings] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let tls = endpoint.tls, !tls.versionsAccepted.isEmpty else { return nil }
        let modern = parameters.strings("modern")
        guard !tls.versionsAccepted.contains(where: modern.contains), !modern.contains(tls.negotiatedVersion) else {
            return nil
        }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label) accepts only \(tls.versionsAccepted.joined(separator: ", "))")
    }
}
