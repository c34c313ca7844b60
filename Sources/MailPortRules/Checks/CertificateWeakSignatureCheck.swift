/// MP-CERT-WEAK-SIGNATURE: a certificate below the root is signed with SHA-1 or MD5 (`algorithms`). A self-signed
/// certificate's own signature protects nothing, so it is not judged.
struct CertificateWeakSignatureCheck: EndpointCheck {
    let id = "MP-CERT-WEAK-SIGNATURE"
    var parameterKinds: [String: ParameterKind] { ["algorithms": .patterns] }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let chain = endpoint.tls?.chain else { return nil }
        let patterns = parameters.patterns("algorithms")
        let weak = chain.enumerated().compactMap { index, certificate -> String? in
            guard !certificate.selfSigned,
                patterns.contains(where: { (try? endpoint.search($0, in: certificate.signatureAlgorithm).get()) != nil }
                )
            else { return nil }
            let which = index == 0 ? "the leaf" : "chain certificate \(index)"
            return "\(which) is signed with \(certificate.signatureAlgorithm)"
        }
        guard !weak.isEmpty else { return nil }
        return Hit(port: endpoint.port, evidence: "\(endpoint.label): " + weak.joined(separator: "; "))
    }
}
