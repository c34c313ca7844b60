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
                return LabEndpoint(address: host.address, port: port, greeting: greeting(for: service, host: host.address))
            }
        }
    }

    static func greeting(for service: MailService, host: String) -> String? {
        switch service {
        case .smtp, .submission: return "220 \(host) ESMTP MailPort demo lab\r\n"
        case .imap: return "* OK [CAPABILITY IMAP4rev1 STARTTLS] MailPort demo lab ready\r\n"
        case .pop3: return "+OK MailPort demo lab POP3 ready\r\n"
        case .submissions, .imaps, .pop3s: return nil  // implicit TLS: the client speaks first
        }
    }
}
