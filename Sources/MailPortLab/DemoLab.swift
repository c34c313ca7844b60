import MailPortCore

/// The embedded demo lab: a few hosts on 127.77.0.0/29 with mail services on high ports, so it runs without root
/// and does not collide with a real mail server on 25/587/993.
public enum DemoLab {
    public static let addressRange = "127.77.0.1-127.77.0.6"

    /// The lab's ports, one per service, mapped like `--ports 10025=smtp,...`.
    public static let ports: [PortSpec] = [
        PortSpec(port: 10025, service: .smtp), PortSpec(port: 10110, service: .pop3),
        PortSpec(port: 10143, service: .imap), PortSpec(port: 10465, service: .submissions),
        PortSpec(port: 10587, service: .submission), PortSpec(port: 10993, service: .imaps),
        PortSpec(port: 10995, service: .pop3s),
    ]

    /// Lab hosts that play a declared MX (port 25 expected there).
    public static let mxHosts = ["127.77.0.4"]

    /// Which certificate a lab host presents.
    public enum Certificate: Sendable {
        case none
        /// Signed by the demo CA (verifies with `--ca-file`).
        case demoCA
        /// Self-signed: no CA vouches for it.
        case selfSigned
    }

    /// Which lab host offers which service.
    public static let hosts: [(address: String, role: String, services: [MailService], certificate: Certificate)] = [
        ("127.77.0.2", "modern: submission with STARTTLS, IMAPS", [.submission, .imaps], .demoCA),
        ("127.77.0.3", "legacy: plaintext SMTP, POP3 and IMAP, no TLS", [.smtp, .pop3, .imap], .none),
        (
            "127.77.0.4", "mixed: MX, submission, submissions, POP3S", [.smtp, .submission, .submissions, .pop3s],
            .demoCA
        ),
        ("127.77.0.5", "certificate problems: self-signed IMAPS and submission", [.submission, .imaps], .selfSigned),
    ]

    /// The lab's endpoints; writes the demo certificates to a temporary folder for OpenSSL to load.
    public static func endpoints() throws -> [LabEndpoint] {
        let leaf = (
            try DemoCertificates.write(DemoCertificates.leafCertificate, named: "leaf.pem"),
            try DemoCertificates.write(DemoCertificates.leafKey, named: "leaf.key")
        )
        let selfSigned = (
            try DemoCertificates.write(DemoCertificates.selfSignedCertificate, named: "self.pem"),
            try DemoCertificates.write(DemoCertificates.selfSignedKey, named: "self.key")
        )
        return hosts.flatMap { host in
            host.services.map { service in
                let port = ports.first { $0.service == service }!.port
                let files: (String, String)?
                switch host.certificate {
                case .none: files = nil
                case .demoCA: files = leaf
                case .selfSigned: files = selfSigned
                }
                let tls = files.map {
                    LabTLS(
                        certificateChainFile: $0.0, privateKeyFile: $0.1,
                        implicit: service.expectedTransport == .implicitTLS)
                }
                return LabEndpoint(
                    address: host.address, port: port, behaviour: behaviour(for: service, host: host.address),
                    tls: tls)
            }
        }
    }

    /// The demo CA as a PEM file, for `--ca-file`.
    public static func caFile() throws -> String {
        try DemoCertificates.write(DemoCertificates.caCertificate, named: "ca.pem")
    }

    /// The modern host offers AUTH only inside TLS; the legacy host offers no TLS and takes passwords in plaintext;
    /// the mixed host offers STARTTLS but also AUTH before it. Implicit-TLS ports speak inside TLS.
    static func behaviour(for service: MailService, host: String) -> LabBehaviour {
        let modern = host == "127.77.0.2" || host == "127.77.0.5"
        let legacy = host == "127.77.0.3"
        switch service {
        case .smtp, .submission:
            var extensions = ["PIPELINING", "SIZE 35882577", "8BITMIME"]
            if !legacy { extensions.append("STARTTLS") }
            if !modern { extensions.append("AUTH PLAIN LOGIN") }
            extensions.append("ENHANCEDSTATUSCODES")
            let software = legacy ? "ESMTP Sendmail 8.12.11/8.12.11" : "ESMTP"
            // Submission asks for a login before any transaction, as it should; port 25 takes mail for its own domain.
            return .smtp(
                SMTPScript(
                    greeting: ["\(host) \(software) MailPort demo lab"], extensions: extensions,
                    mailRequiresAuthentication: service == .submission))
        case .imap:
            return .imap(
                IMAPScript(
                    capabilities: legacy
                        ? ["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"]
                        : ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]))
        case .pop3:
            return .pop3(
                POP3Script(
                    capabilities: legacy
                        ? ["TOP", "UIDL", "USER", "SASL PLAIN LOGIN"]
                        : ["TOP", "UIDL", "STLS", "SASL"]))
        case .submissions:
            return .smtp(
                SMTPScript(
                    greeting: ["\(host) ESMTP MailPort demo lab"], extensions: ["PIPELINING", "AUTH PLAIN LOGIN"],
                    mailRequiresAuthentication: true))
        case .imaps:
            return .imap(IMAPScript(capabilities: ["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"]))
        case .pop3s:
            return .pop3(POP3Script(capabilities: ["TOP", "UIDL", "USER", "SASL PLAIN LOGIN"]))
        }
    }
}
