import MailPortCore

/// MP-MX-CERT-NAME: port 25 of an MX host completed STARTTLS with a certificate that does not cover the MX name.
/// Hosts whose port 25 gave no certificate are left to the STARTTLS and certificate rules.
struct DomainMXCertificateNameCheck: DomainCheck {
    let id = "MP-MX-CERT-NAME"

    func evaluate(_ context: DomainContext, _ parameters: RuleParameters) -> [String] {
        var hits: [String] = []
        for mx in context.domain.mx where !mx.addressLiteral {
            for (at, smtp) in context.port25(of: mx) {
                guard let tls = smtp.tls, let leaf = tls.certificate, tls.nameMatches[mx.exchange] == false else {
                    continue
                }
                let sans =
                    leaf.sans.isEmpty ? "no subjectAltName" : "SANs " + leaf.sans.prefix(6).joined(separator: ", ")
                hits.append("\(at): the certificate (\(quoted(sans, limit: 200))) does not cover \(mx.exchange)")
            }
        }
        return hits
    }
}
