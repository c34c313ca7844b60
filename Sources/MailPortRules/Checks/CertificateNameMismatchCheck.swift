/// MP-CERT-NAME-MISMATCH: a name the target was given by (command line, later DNS) is not covered by the leaf
/// (RFC 6125: SAN dNSNames, wildcard in the leftmost label only). Addresses scanned without a name are not judged.
struct CertificateNameMismatchCheck: EndpointCheck {
    let id = "MP-CERT-NAME-MISMATCH"

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let tls = endpoint.tls, let leaf = tls.certificate else { return nil }
        let mismatched = tls.nameMatches.filter { !$0.value }.map(\.key).sorted()
        guard !mismatched.isEmpty else { return nil }
        let covered = leaf.sans.isEmpty ? "no subjectAltName" : "SANs " + leaf.sans.prefix(8).joined(separator: ", ")
        return Hit(
            port: endpoint.port,
            evidence:
                "\(endpoint.label): the certificate (\(quoted(covered, limit: 200))) does not cover \(mismatched.joined(separator: ", "))"
        )
    }
}
