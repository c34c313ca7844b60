import Foundation

/// MP-CERT-EXPIRED: a certificate the server sent is past its notAfter or before its notBefore.
struct CertificateExpiredCheck: EndpointCheck {
    let id = "MP-CERT-EXPIRED"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let chain = endpoint.tls?.chain else { return nil }
        let now = endpoint.host.now
        let problems = chain.enumerated().compactMap { index, certificate -> String? in
            let which = index == 0 ? "the leaf" : "chain certificate \(index)"
            if let notAfter = parseTimestamp(certificate.notAfter), notAfter < now {
                return "\(which) (\(quoted(certificate.subject, limit: 80))) expired \(certificate.notAfter)"
            }
            if let notBefore = parseTimestamp(certificate.notBefore), notBefore > now {
                return
                    "\(which) (\(quoted(certificate.subject, limit: 80))) is not valid before \(certificate.notBefore)"
            }
            return nil
        }
        guard !problems.isEmpty else { return nil }
        return Hit(port: endpoint.port, evidence: "\(endpoint.label): " + problems.joined(separator: "; "))
    }
}
