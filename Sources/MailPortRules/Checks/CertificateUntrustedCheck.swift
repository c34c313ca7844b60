/// MP-CERT-UNTRUSTED: the chain does not verify to a trusted root (system store plus `--ca-file`): self-signed,
/// unknown issuer, missing intermediate, or no certificate at all. A chain that fails only on dates is left to
/// MP-CERT-EXPIRED.
struct CertificateUntrustedCheck: EndpointCheck {
    let id = "MP-CERT-UNTRUSTED"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let tls = endpoint.tls, !tls.chainVerified else { return nil }
        guard let leaf = tls.certificate else {
            return Hit(port: endpoint.port, evidence: "\(endpoint.label) sent no certificate (cipher \(tls.cipher))")
        }
        let error = tls.verifyError ?? "verification failed"
        let lowered = error.lowercased()
        if lowered.contains("expired") || lowered.contains("not yet valid") { return nil }
        var why = error
        if tls.missingIntermediate {
            why += "; the intermediate certificate is probably missing from the server's chain"
        }
        if leaf.selfSigned, !lowered.contains("self-signed"), !lowered.contains("self signed") {
            why += "; the certificate is self-signed"
        }
        return Hit(
            port: endpoint.port,
            evidence: "\(endpoint.label): \(quoted(why, limit: 240)) (issuer \(quoted(leaf.issuer, limit: 100)))")
    }
}
