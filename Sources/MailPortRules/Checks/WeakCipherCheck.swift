/// MP-TLS-WEAK-CIPHER: a handshake offering only one weak class (anonymous, NULL, EXPORT, RC4, DES/3DES, no
/// forward secrecy) completed. Anonymous key exchange, which lets anyone on the path read the session, takes the
/// `anonymous-severity` parameter.
struct WeakCipherCheck: EndpointCheck {
    let id = "MP-TLS-WEAK-CIPHER"
    var parameterKinds: [String: ParameterKind] { ["anonymous-severity": .severity] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let tls = endpoint.tls, !tls.cipherClassesAccepted.isEmpty else { return nil }
        let anonymous = tls.cipherClassesAccepted.contains("anonymous")
        return Hit(port: endpoint.port,
                   evidence: "\(endpoint.label) accepts weak cipher classes: \(tls.cipherClassesAccepted.joined(separator: ", "))",
                   severity: anonymous ? parameters.severity("anonymous-severity") : nil)
    }
}
