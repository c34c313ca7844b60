import MailPortCore
import NIOConcurrencyHelpers

/// Starts TLS on a connection and continues the dialog inside it: after the server accepted STARTTLS/STLS, or at once on an implicit-TLS port.
/// The TLS stage (system OpenSSL) provides the real one; this stage only knows the hand-over point.
public protocol TLSUpgrader: Sendable {
    /// - Parameter names: the names the target was given by; the first is sent as SNI, all are checked against the
    ///   certificate.
    /// - Parameter sessions: what the handshake does with the endpoint's TLS session (nil: nothing kept, nothing
    ///   offered). Layers that never complete a handshake ignore it.
    func upgrade(
        _ connection: ProbeConnection, names: [String], service: MailService, sessions: TLSSessionUse?
    ) async -> TLSUpgradeResult
}

extension TLSUpgrader {
    /// A full handshake that keeps no session.
    public func upgrade(_ connection: ProbeConnection, names: [String], service: MailService) async -> TLSUpgradeResult
    {
        await upgrade(connection, names: names, service: service, sessions: nil)
    }
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

/// What a handshake does with the endpoint's TLS session (a TLS 1.3 ticket, a TLS 1.2 ticket or session ID).
///
/// The dialog's handshake is always a full one: its facts (certificate chain, verification, names) are the audit's.
/// A later check that needs only a TLS channel (the STARTTLS injection check) resumes the session the dialog was
/// issued, as a mail client reconnecting would: the server signs no new handshake and sends no certificate, and the
/// client checks no chain. A server that issues no session, or declines it, gets a full handshake as before.
public enum TLSSessionUse: Sendable {
    /// A full handshake, whose facts are observed; the session the server issues is kept in the slot.
    case keepIssued(TLSSessionSlot)
    /// Offers the slot's session when it holds one. The certificate facts of such a handshake are not read (a
    /// resumed handshake carries none): its observation has the version and cipher only.
    case resume(TLSSessionSlot)
}

/// One endpoint's TLS session, from the handshake that was issued it to the checks that resume it; and how many
/// handshakes did. The session is opaque here: the TLS layer stores and reads its own type.
public final class TLSSessionSlot: Sendable {
    private let state = NIOLockedValueBox<(session: (any Sendable)?, resumed: Int)>((nil, 0))

    public init() {}

    /// The session kept last (nil until a server issued one).
    public var session: (any Sendable)? {
        get { state.withLockedValue { $0.session } }
        set { state.withLockedValue { $0.session = newValue } }
    }

    /// Handshakes that resumed a session from this slot (the server accepted it).
    public var resumedHandshakes: Int { state.withLockedValue { $0.resumed } }

    /// Called by the TLS layer when the server accepted the offered session.
    public func recordResumption() {
        state.withLockedValue { $0.resumed += 1 }
    }
}

/// The hand-over when no TLS layer is linked: records that no handshake was attempted.
public struct NoTLSLayer: TLSUpgrader {
    public init() {}

    public func upgrade(
        _ connection: ProbeConnection, names: [String], service: MailService, sessions: TLSSessionUse?
    ) async -> TLSUpgradeResult {
        .notAttempted
    }
}
