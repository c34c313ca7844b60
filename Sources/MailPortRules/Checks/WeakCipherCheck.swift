import MailPortCore

/// MP-TLS-WEAK-CIPHER: the server accepts a weak cipher class (anonymous, NULL, EXPORT, RC4, DES/3DES, key exchange
/// without forward secrecy), or chooses a suite without forward secrecy for a modern client.
///
/// Forward secrecy is judged as SSL Labs does: a static-RSA suite a modern client gets by default (the dialog's own
/// handshake negotiated it) exposes every recorded session to a later key theft, so it takes
/// `no-forward-secrecy-default-severity` (high); one accepted only when a client offers nothing better is a
/// fallback for old clients and takes `no-forward-secrecy-fallback-severity` (low). Anonymous key exchange, which
/// lets anyone on the path read the session, takes `anonymous-severity`; the other classes the rule's severity.
struct WeakCipherCheck: EndpointCheck {
    let id = "MP-TLS-WEAK-CIPHER"
    var parameterKinds: [String: ParameterKind] {
        [
            "anonymous-severity": .severity, "no-forward-secrecy-default-severity": .severity,
            "no-forward-secrecy-fallback-severity": .severity,
        ]
    }

    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit? {
        guard let tls = endpoint.tls else { return nil }
        // The lax second handshake is no modern client: what it negotiated says nothing about defaults.
        let chosenByDefault =
            !tls.legacyHandshake && !Self.forwardSecret(version: tls.negotiatedVersion, cipher: tls.cipher)
        let accepted = tls.cipherClassesAccepted
        guard !accepted.isEmpty || chosenByDefault else { return nil }
        var severities: [Severity] = []
        var evidence: [String] = []
        if !accepted.isEmpty {
            evidence.append("accepts weak cipher classes: \(accepted.joined(separator: ", "))")
        }
        if chosenByDefault {
            evidence.append("chooses \(tls.cipher) (no forward secrecy) for a modern client")
            severities += [parameters.severity("no-forward-secrecy-default-severity")].compactMap { $0 }
        } else if accepted.contains("no-forward-secrecy") {
            severities += [parameters.severity("no-forward-secrecy-fallback-severity")].compactMap { $0 }
        }
        if accepted.contains("anonymous") {
            severities += [parameters.severity("anonymous-severity")].compactMap { $0 }
        }
        // NULL, EXPORT, RC4 and DES/3DES are judged at the rule's own severity.
        let otherClasses = accepted.contains { !["anonymous", "no-forward-secrecy"].contains($0) }
        return Hit(
            port: endpoint.port, evidence: "\(endpoint.label) " + evidence.joined(separator: "; "),
            severity: severities.max(), ruleSeverityIsFloor: otherClasses)
    }

    /// A negotiated suite with an ephemeral key exchange: every TLS 1.3 suite, and the ECDHE and DHE suites below it
    /// (OpenSSL names: "ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-…", the older "EDH-…"). Static RSA ("AES256-SHA"),
    /// static ECDH ("ECDH-RSA-…"), PSK and anonymous suites are not.
    static func forwardSecret(version: String, cipher: String) -> Bool {
        if version == "TLSv1.3" { return true }
        return ["ECDHE-", "DHE-", "EDH-"].contains { cipher.hasPrefix($0) }
    }
}
