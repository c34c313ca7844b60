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

    /// Which lab host offers which service.
    public static let hosts: [(address: String, role: String, services: [MailService])] = [
        ("127.77.0.2", "modern: submission and IMAPS only", [.submission, .imaps]),
        ("127.77.0.3", "legacy: plaintext SMTP, POP3 and IMAP", [.smtp, .pop3, .imap]),
        ("127.77.0.4", "mixed: MX, submission, submissions, POP3S", [.smtp, .submission, .submissions, .pop3s]),
    ]

    public static var endpoints: [LabEndpoint] {
        hosts.flatMap { host in
            host.services.map { service in
                let port = ports.first { $0.service == service }!.port
                return LabEndpoint(address: host.address, port: port, behaviour: behaviour(for: service, host: host.address))
            }
        }
    }

    /// The modern host requires TLS before AUTH; the legacy host offers no TLS and takes passwords in plaintext;
    /// the mixed host offers STARTTLS but also AUTH before it. Implicit-TLS ports wait for a TLS handshake.
    static func behaviour(for service: MailService, host: String) -> LabBehaviour {
        let modern = host == "127.77.0.2"
        let legacy = host == "127.77.0.3"
        switch service {
        case .smtp, .submission:
            var extensions = ["PIPELINING", "SIZE 35882577", "8BITMIME"]
            if !legacy { extensions.append("STARTTLS") }
            if !modern { extensions.append("AUTH PLAIN LOGIN") }
            extensions.append("ENHANCEDSTATUSCODES")
            let software = legacy ? "ESMTP Sendmail 8.12.11/8.12.11" : "ESMTP"
            return .smtp(SMTPScript(greeting: ["\(host) \(software) MailPort demo lab"], extensions: extensions))
        case .imap:
            return .imap(IMAPScript(capabilities: legacy ? ["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"]
                                                         : ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]))
        case .pop3:
            return .pop3(POP3Script(capabilities: legacy ? ["TOP", "UIDL", "USER", "SASL PLAIN LOGIN"]
                                                         : ["TOP", "UIDL", "STLS", "SASL"]))
        case .submissions, .imaps, .pop3s:
            return .silent  // the client speaks first (a TLS ClientHello)
        }
    }
}
