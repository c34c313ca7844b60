/// MP-TLS-LEGACY-PROTOCOL: SSLv3, TLS 1.0 or TLS 1.1 completes a handshake (RFC 8996 deprecates them).
struct LegacyProtocolCheck: EndpointCheck {
    let id = "MP-TLS-LEGACY-PROTOCOL"
    var parameterKinds: [String: ParameterKind] { ["versions": .strings] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let tls = endpoint.tls else { return nil }
        let legacy = parameters.strings("versions")
        var accepted = tls.versionsAccepted.filter { legacy.contains($0) }
        if legacy.contains(tls.negotiatedVersion), !accepted.contains(tls.negotiatedVersion) {
            accepted.append(tls.negotiatedVersion)
        }
        guard !accepted.isEmpty else { return nil }
        return Hit(port: endpoint.port, evidence: "\(endpoint.label) accepts \(accepted.joined(separator: ", "))")
    }
}
