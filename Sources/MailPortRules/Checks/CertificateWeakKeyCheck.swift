/// MP-CERT-WEAK-KEY: a certificate the server sent has an RSA/DSA key under `rsa-min-bits` or an EC key under
/// `ec-min-bits`.
struct CertificateWeakKeyCheck: EndpointCheck {
    let id = "MP-CERT-WEAK-KEY"
    var parameterKinds: [String: ParameterKind] {
        ["rsa-min-bits": .integer(512...16384), "ec-min-bits": .integer(128...1024)]
    }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let chain = endpoint.tls?.chain else { return nil }
        let rsaMinimum = parameters.integer("rsa-min-bits", default: 2048)
        let ecMinimum = parameters.integer("ec-min-bits", default: 256)
        let weak = chain.enumerated().compactMap { index, certificate -> String? in
            let minimum: Int
            switch certificate.keyType.uppercased() {
            case "RSA", "RSA-PSS", "DSA": minimum = rsaMinimum
            case "EC": minimum = ecMinimum
            default: return nil
            }
            guard certificate.keyBits < minimum else { return nil }
            let which = index == 0 ? "the leaf" : "chain certificate \(index)"
            return "\(which) has a \(certificate.keyBits)-bit \(certificate.keyType) key (minimum \(minimum))"
        }
        guard !weak.isEmpty else { return nil }
        return Hit(port: endpoint.port, evidence: "\(endpoint.label): " + weak.joined(separator: "; "))
    }
}
