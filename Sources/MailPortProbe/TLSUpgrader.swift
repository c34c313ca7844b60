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
    /// Takes the slot's session, when it holds one, and offers it (once: RFC 8446 asks clients not to offer a ticket
    /// twice, and OpenSSL marks a session it offered unresumable when that connection ends without close_notify).
    /// The certificate facts of such a handshake are not read (a resumed one carries none): its observation has the
    /// version and cipher only.
    case resume(TLSSessionSlot)
}

/// One endpoint's TLS session, from the handshake that was issued it to the check that resumes it. The session is
/// opaque here: the TLS layer stores and reads its own type.
public final class TLSSessionSlot: Sendable {
    private let state = NIOLockedValueBox<(session: (any Sendable)?, offerResumed: Bool?)>((nil, nil))

    public init() {}

    /// Whether a session is kept (none until a server issued one; taken by the handshake that offers it).
    public var holdsSession: Bool { state.withLockedValue { $0.session != nil } }

    /// Keeps the session a server issued (the TLS layer calls it).
    public func keep(_ session: any Sendable) {
        state.withLockedValue { $0.session = session }
    }

    /// Takes the session out to offer it (the TLS layer calls it once per `.resume` handshake, holding a session or
    /// not): the outcome of an earlier offer is cleared, so `offerResumed` is always this handshake's.
    public func take() -> (any Sendable)? {
        state.withLockedValue { state in
            defer { state = (nil, nil) }
            return state.session
        }
    }

    /// Called by the TLS layer when a handshake that offered the session completes: whether the server took it.
    public func recordOffer(resumed: Bool) {
        state.withLockedValue { $0.offerResumed = resumed }
    }

    /// Whether the server took the session the last `.resume` handshake offered (nil: it offered none, or did not
    /// complete).
    public var offerResumed: Bool? { state.withLockedValue { $0.offerResumed } }
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
