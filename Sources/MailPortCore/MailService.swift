/// The mail services MailPort knows how to talk to. The raw value is the name used on the command line
/// (`--ports 2525=submission`) and in reports.
public enum MailService: String, CaseIterable, Codable, Sendable {
    case smtp
    case submission
    case submissions
    case imap
    case imaps
    case pop3
    case pop3s

    /// The IANA port for the service (RFC 8314 for the implicit-TLS ones).
    public var standardPort: UInt16 {
        switch self {
        case .smtp: return 25
        case .submission: return 587
        case .submissions: return 465
        case .imap: return 143
        case .imaps: return 993
        case .pop3: return 110
        case .pop3s: return 995
        }
    }

    /// How a client starts talking on this service: in plaintext (upgrading with STARTTLS/STLS) or inside TLS.
    public var expectedTransport: Transport {
        switch self {
        case .smtp, .submission, .imap, .pop3: return .plain
        case .submissions, .imaps, .pop3s: return .implicitTLS
        }
    }

    /// Names people use for the same service; accepted on input, never written.
    static let aliases: [String: MailService] = ["smtps": .submissions, "imap4": .imap, "pop": .pop3]

    /// Looks a service up by its name or a common alias, ignoring case.
    public static func named(_ name: String) -> MailService? {
        let lowered = name.lowercased()
        return MailService(rawValue: lowered) ?? aliases[lowered]
    }

    /// The service usually found on a port, for the seven standard mail ports.
    public static func standard(forPort port: UInt16) -> MailService? {
        allCases.first { $0.standardPort == port }
    }
}

/// How the mail dialog on an endpoint is (or is expected to be) carried.
public enum Transport: String, Codable, Sendable {
    case plain
    case starttls
    case implicitTLS = "implicit-tls"
}

/// One port to scan and the service expected on it.
public struct PortSpec: Hashable, Codable, Sendable, CustomStringConvertible {
    public var port: UInt16
    public var service: MailService

    public init(port: UInt16, service: MailService) {
        self.port = port
        self.service = service
    }

    /// The seven mail ports of the contract, in the order the contract lists them.
    public static let defaults: [PortSpec] = [25, 110, 143, 465, 587, 993, 995].map {
        PortSpec(port: $0, service: MailService.standard(forPort: $0)!)
    }

    public var description: String { "\(port)=\(service.rawValue)" }
}
