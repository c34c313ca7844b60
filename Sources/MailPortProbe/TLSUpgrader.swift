import MailPortCore

/// Continues a dialog inside TLS: after the server accepted STARTTLS/STLS, or at once on an implicit-TLS port.
/// The TLS stage (system OpenSSL) provides the real one; this stage only knows the hand-over point.
public protocol TLSUpgrader: Sendable {
    func upgrade(_ connection: ProbeConnection, serverName: String?, service: MailService) async -> TLSUpgradeResult
}

public enum TLSUpgradeResult: Sendable, Equatable {
    /// No TLS layer in this build: the handshake was not attempted, so nothing about it is known.
    case notAttempted
    case failed(String)
    case upgraded
}

/// The hand-over when no TLS layer is linked: records that no handshake was attempted.
public struct NoTLSLayer: TLSUpgrader {
    public init() {}

    public func upgrade(_ connection: ProbeConnection, serverName: String?, service: MailService) async -> TLSUpgradeResult {
        .notAttempted
    }
}
