/// What a mail client's conversation with an endpoint showed, before any judgement. Filled in by the probes stage;
/// rules read it. Every string here came from the network (or echoes what was sent) and is untrusted: it is cut to
/// bounds on the way in and escaped by every writer on the way out.
public struct DialogObservation: Codable, Sendable, Equatable {
    /// The protocol the endpoint actually spoke, whatever the port suggested.
    public var identifiedAs: IdentifiedProtocol
    /// The greeting text, all lines joined with "\n" (cut at a bound).
    public var banner: String?
    /// The greeting's status: an SMTP code ("220", "421"), IMAP's "OK"/"PREAUTH"/"BYE", POP3's "+OK"/"-ERR".
    public var greetingStatus: String?
    /// Capabilities before TLS: SMTP EHLO keywords with their parameters ("SIZE 10240000", "AUTH PLAIN LOGIN"),
    /// IMAP CAPABILITY atoms, POP3 CAPA lines.
    public var capabilities: [String]
    /// SASL mechanisms offered before TLS (SMTP AUTH, IMAP AUTH=, POP3 SASL), upper-cased.
    public var authMechanisms: [String]
    /// True when the server answered EHLO with an error and the dialog fell back to HELO (no extensions known).
    public var usedHELO: Bool
    public var starttls: StartTLSObservation?
    /// The TLS handshake (after STARTTLS, or at once on an implicit-TLS port), when one completed.
    public var tls: TLSObservation?
    /// Why the TLS handshake failed on an implicit-TLS port (OpenSSL's words); the STARTTLS case is in `starttls`.
    public var tlsError: String?
    /// Capabilities asked for again inside TLS (AUTH often appears only there); nil when no TLS dialog ran.
    public var capabilitiesAfterTLS: [String]?
    public var authMechanismsAfterTLS: [String]?
    /// False when a fact could not be gathered (busy server, timeout, reset): rules needing it must not fire.
    public var complete: Bool
    /// Why the dialog is incomplete, with the server's own words where it gave any.
    public var incompleteReason: String?
    /// True when the dialog could not run for a reason on this machine (no file descriptor, no memory for a
    /// socket), not because of anything the server did. Absent otherwise.
    public var localFailure: Bool?
    /// The port accepted TCP but sent nothing within the read timeout.
    public var unresponsive: Bool
    /// Bounds that were hit and malformed input that was seen.
    public var violations: [ProtocolViolation]
    /// What was sent and received, in order (long lines and long dialogs cut). Credentials are never sent.
    public var transcript: [TranscriptLine]
    /// Connections used for the dialog (2 after a retry of a transient failure).
    public var attempts: Int
    /// Every TCP connection this endpoint's audit opened after discovery: the dialog, its retry, and each extra
    /// question (combined TLS version and cipher hellos, their drill-downs, the injection check). Absent in reports
    /// of versions that did not count them.
    public var connections: Int?
    /// Extra questions that could not be asked (a 421 or `* BYE`/`-ERR` greeting, a refused STARTTLS on that
    /// connection, a reset, a timeout) even after a retry: their answers are unknown, never "refused". Absent when
    /// every question got an answer.
    public var unknownProbes: [UnknownProbe]?
    /// Present when extra questions went unanswered: whether the dialog itself (greeting, capabilities, STARTTLS)
    /// ran to its end, so rules that need only the dialog's facts still judge them.
    public var dialogComplete: Bool?
    /// What was sent when the port stayed silent through the greeting wait (a client-first probe, as nmap's service
    /// probes do), to identify a service that waits for the client to speak. Absent when a greeting came.
    public var clientFirstProbe: String?
    /// SMTP's own questions, asked on the dialog's connection after EHLO (inside TLS where STARTTLS worked): open
    /// relay, VRFY/EXPN, RCPT enumeration. No message is ever sent. Absent for other protocols and when the dialog
    /// did not reach that point.
    public var smtpChecks: SMTPChecks?

    public init(
        identifiedAs: IdentifiedProtocol = .none, banner: String? = nil, greetingStatus: String? = nil,
        capabilities: [String] = [], authMechanisms: [String] = [], usedHELO: Bool = false,
        starttls: StartTLSObservation? = nil, complete: Bool = true, incompleteReason: String? = nil,
        unresponsive: Bool = false, violations: [ProtocolViolation] = [], transcript: [TranscriptLine] = [],
        attempts: Int = 1
    ) {
        self.identifiedAs = identifiedAs
        self.banner = banner
        self.greetingStatus = greetingStatus
        self.capabilities = capabilities
        self.authMechanisms = authMechanisms
        self.usedHELO = usedHELO
        self.starttls = starttls
        self.tls = nil
        self.tlsError = nil
        self.capabilitiesAfterTLS = nil
        self.authMechanismsAfterTLS = nil
        self.complete = complete
        self.incompleteReason = incompleteReason
        self.unresponsive = unresponsive
        self.violations = violations
        self.transcript = transcript
        self.attempts = attempts
    }
}

extension DialogObservation {
    /// The dialog itself ran to its end, whatever became of the extra questions after it.
    public var dialogRanToEnd: Bool { dialogComplete ?? complete }
}

/// SMTP questions asked without sending a message: after each, RSET; never DATA.
public struct SMTPChecks: Codable, Sendable, Equatable {
    /// The relay check's sender: an RFC 2606 address, never anyone's mail.
    public static let relaySender = "mailport-relay-check@example.net"

    /// Each relay attempt: an outside sender and an outside recipient (RFC 2606 names) in one of the forms relay
    /// filters have missed (plain, %-hack, source route, quoted local part, bang path; the routed ones through the
    /// server's address literal, the last quoted one through its EHLO name), with the server's reply.
    public var relayAttempts: [SMTPAnswer]
    /// accepted: some form was accepted for relaying (an open relay); refused: every form was refused; unknown: a
    /// temporary reply or a lost connection left a form unanswered and none was accepted.
    public var relay: ProbeOutcome?
    /// Relaying was refused and a login is the way to it (right on submission): the refusals said authentication
    /// comes first (530, or 5xx with "authentication"), or they came on a session that offered AUTH.
    public var relayNeedsAuthentication: Bool?
    /// `VRFY postmaster` and `EXPN postmaster` (RFC 5321 requires the postmaster mailbox): accepted when answered
    /// 250/251/252, refused when disabled or refused (5xx), unknown on a temporary reply.
    public var vrfy: SMTPAnswer?
    public var expn: SMTPAnswer?
    /// On submission ports, before authentication: RCPT for postmaster and for a name that cannot exist, both at the
    /// server's own name. Accepted when the answers tell them apart (one 2xx, one 5xx): users can be enumerated.
    public var recipientEnumeration: SMTPAnswer?
    /// On port 25 of an MX found by `--domain`: `RCPT TO:<postmaster@DOMAIN>` for each domain it is an MX of (at most
    /// three). RFC 5321 §4.5.1 requires postmaster for every domain a server takes mail for, so a refusal means the
    /// MX turns away its own domain's mail. Absent outside domain mode.
    public var ownDomains: [SMTPAnswer]?

    public init(
        relayAttempts: [SMTPAnswer] = [], relay: ProbeOutcome? = nil, relayNeedsAuthentication: Bool? = nil,
        vrfy: SMTPAnswer? = nil, expn: SMTPAnswer? = nil, recipientEnumeration: SMTPAnswer? = nil
    ) {
        self.relayAttempts = relayAttempts
        self.relay = relay
        self.relayNeedsAuthentication = relayNeedsAuthentication
        self.vrfy = vrfy
        self.expn = expn
        self.recipientEnumeration = recipientEnumeration
    }
}

/// One SMTP question: what was sent (the distinguishing command), the server's reply, and what it means.
public struct SMTPAnswer: Codable, Sendable, Equatable {
    /// The question: "relay plain", "relay percent-hack", "VRFY postmaster", "RCPT postmaster / unknown user".
    public var question: String
    /// The command that carried it ("RCPT TO:<relaytest@example.org>").
    public var command: String
    /// The server's reply (untrusted text, cut at the dialog's bounds); several joined with " / ".
    public var reply: String
    public var outcome: ProbeOutcome

    public init(question: String, command: String, reply: String, outcome: ProbeOutcome) {
        self.question = question
        self.command = command
        self.reply = reply
        self.outcome = outcome
    }
}

/// An extra question whose answer stayed unknown: which question, and why it could not be asked (the server's own
/// words where it gave any).
public struct UnknownProbe: Codable, Sendable, Equatable {
    /// "tls-versions SSLv3-TLSv1.1", "tls-version TLSv1", "weak-ciphers", "weak-cipher rc4", "starttls-injection".
    public var probe: String
    public var reason: String

    public init(probe: String, reason: String) {
        self.probe = probe
        self.reason = reason
    }
}

/// How one extra question ended: the server accepted what was offered, its TLS or protocol layer said no, or the
/// question could not be asked. Unknown is never a refusal.
public enum ProbeOutcome: String, Codable, Sendable {
    case accepted, refused, unknown
}

/// The protocols a greeting (or the lack of one) can be recognised as.
public enum IdentifiedProtocol: String, Codable, Sendable {
    case smtp, imap, pop3, http, ssh, ftp, tls
    /// Bytes that are not text.
    case binary
    /// Text of no protocol MailPort knows.
    case unknown
    /// Nothing was received.
    case none

    /// The protocol a mail service speaks.
    public init(_ service: MailService) {
        switch service {
        case .smtp, .submission, .submissions: self = .smtp
        case .imap, .imaps: self = .imap
        case .pop3, .pop3s: self = .pop3
        }
    }
}

/// STARTTLS (SMTP, IMAP) or STLS (POP3) as offered and tried.
public struct StartTLSObservation: Codable, Sendable, Equatable {
    /// Advertised in the capabilities before TLS.
    public var offered: Bool
    /// The command was sent (it is sent whenever it is offered).
    public var attempted: Bool
    /// The server's reply to the command.
    public var reply: String?
    /// The server agreed to start TLS (220 / tagged OK / +OK).
    public var accepted: Bool?
    /// The TLS handshake completed; null when no handshake was attempted (no TLS layer in this build).
    public var upgraded: Bool?
    /// What went wrong, in the server's or the TLS library's words.
    public var error: String?
    /// STARTTLS command injection (CVE-2011-0411 class): a harmless NOOP sent in the same segment as STARTTLS was
    /// answered inside TLS. Nil when not checked (no upgrade).
    public var injectionAnsweredInsideTLS: Bool?
    /// Whether the handshake that gave the injection check's answer resumed the TLS session the dialog's STARTTLS was
    /// issued (the server sent no certificate and signed nothing for it). Nil when the check gave no answer.
    public var injectionCheckResumed: Bool?

    public init(
        offered: Bool, attempted: Bool = false, reply: String? = nil, accepted: Bool? = nil,
        upgraded: Bool? = nil, error: String? = nil
    ) {
        self.offered = offered
        self.attempted = attempted
        self.reply = reply
        self.accepted = accepted
        self.upgraded = upgraded
        self.error = error
    }
}

/// A bound that was hit or input that broke the protocol's grammar.
public struct ProtocolViolation: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case lineTooLong = "line-too-long"
        case tooManyLines = "too-many-lines"
        case tooMuchData = "too-much-data"
        case dialogTooSlow = "dialog-too-slow"
        case malformedReply = "malformed-reply"
        case binaryData = "binary-data"
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }
}

/// One line of a dialog transcript.
public struct TranscriptLine: Codable, Sendable, Equatable {
    public enum Direction: String, Codable, Sendable {
        case client = "C"
        case server = "S"
    }

    public var direction: Direction
    public var text: String

    public init(_ direction: Direction, _ text: String) {
        self.direction = direction
        self.text = text
    }
}
