import MailPortCore

/// Starts TLS on a connection and continues the dialog inside it: after the server accepted STARTTLS/STLS, or at once on an implicit-TLS port.
/// The TLS stage (system OpenSSL) provides the real one; this stage only knows the hand-over point.
public protocol TLSUpgrader: Sendable {
    /// - Parameter names: the names the target was given by; the first is sent as SNI, all are checked against the
    ///   certificate.
    func upgrade(_ connection: ProbeConnection, names: [String], service: MailService) async -> TLSUpgradeResult
}

public enum TLSUpgradeResult: Sendable, Equatable {
    /// No TLS layer in this build: the handshake was not attempted, so nothing about it is known.
    case notAttempted
    /// The handshake failed; `serverSent` holds the first bytes the server sent (a plaintext greeting on a TLS port).
    case failed(String, serverSent: [UInt8] = [])
    /// The handshake did not finish in time and the server sent nothing: that says nothing yet about its TLS, so the
    /// dialog treats it as transient (retried, and incomplete if it persists) rather than as a failure.
    case timedOut
    /// The handshake completed; the connection now carries plaintext inside TLS.
    case upgraded(TLSObservation)
}

/// The hand-over when no TLS layer is linked: records that no handshake was attempted.
public struct NoTLSLayer: TLSUpgrader {
    public init() {}

    public func upgrade(_ connection: ProbeConnection, names: [String], service: MailService) async -> TLSUpgradeResult
    {
        .notAttempted
    }
}
