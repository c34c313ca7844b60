import Foundation
import MailPortCore
import MailPortPattern

/// The Swift logic behind one built-in rule id. A check only says where its rule fires and why (the evidence);
/// whether it runs, how severe it is and with which parameters is decided by `Rules/` and the profile.
/// One check per file, under `Checks/`.
public protocol RuleCheck: Sendable {
    /// The rule id this check implements.
    var id: String { get }
    /// Parameters it reads; the loader requires exactly these in the rule's YAML, of these kinds.
    var parameterKinds: [String: ParameterKind] { get }
    /// Where the rule fires on one host.
    func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit]
}

/// Most checks look at one endpoint at a time.
public protocol EndpointCheck: RuleCheck {
    func evaluate(_ endpoint: EndpointContext, _ parameters: RuleParameters) -> Hit?
}

extension EndpointCheck {
    public var parameterKinds: [String: ParameterKind] { [:] }

    public func evaluate(_ host: HostContext, _ parameters: RuleParameters) -> [Hit] {
        host.openEndpoints.compactMap { evaluate($0, parameters) }
    }
}

/// What the rules could not decide on a host: a pattern search that used up its step budget leaves its fact
/// unknown (the rule does not fire on it) and is noted here, for the run's warnings. A reference, so the checks,
/// which see copies of the host's context, add to one list.
public final class UndecidedNotes: @unchecked Sendable {
    private let lock = NSLock()
    private var notes: [String] = []

    public init() {}

    public var all: [String] { lock.withLock { notes } }

    func add(_ note: String) {
        lock.withLock { notes.append(note) }
    }
}

/// An expired waiver that matched a finding: MP-WAIVER-EXPIRED reports it where it would have applied.
public struct ExpiredWaiverMatch: Sendable, Equatable {
    public var port: UInt16
    public var rule: String
    public var reason: String
    public var expires: String
}

/// One place a rule fired.
public struct Hit: Sendable, Equatable {
    /// The endpoint the finding is listed under.
    public var port: UInt16
    /// The facts, in words. Server text in it is cut (`quoted`) and escaped by every writer.
    public var evidence: String
    /// A severity the check chose from its parameters (e.g. anonymous ciphers are worse than other weak ones).
    public var severity: Severity?
    /// The rule's own severity is still a floor under `severity` (part of what was found is judged by it).
    public var ruleSeverityIsFloor: Bool

    public init(port: UInt16, evidence: String, severity: Severity? = nil, ruleSeverityIsFloor: Bool = false) {
        self.port = port
        self.evidence = evidence
        self.severity = severity
        self.ruleSeverityIsFloor = ruleSeverityIsFloor
    }
}

/// A host as the rules see it.
public struct HostContext: Sendable {
    public var host: ScanReport.Host
    /// Declared MX, or every host under a profile that says so.
    public var isMX: Bool
    /// The time certificates are judged against.
    public var now: Date
    /// Waivers that would have covered a finding on this host but have expired (filled in after the first pass).
    public var expiredWaivers: [ExpiredWaiverMatch] = []
    /// What the rules could not decide here, for the run's warnings.
    public let undecided = UndecidedNotes()

    public init(host: ScanReport.Host, isMX: Bool, now: Date) {
        self.host = host
        self.isMX = isMX
        self.now = now
    }

    public var openEndpoints: [EndpointContext] {
        host.endpoints.filter { $0.state == .open }.map { EndpointContext(endpoint: $0, host: self) }
    }

    /// Open endpoints of a service that actually speak it (or were not talked to: discovery only).
    public func offers(_ service: MailService) -> [EndpointContext] {
        openEndpoints.filter { $0.service == service && !$0.speaksSomethingElse }
    }
}

/// One open endpoint with the helpers checks share.
public struct EndpointContext: Sendable {
    public var endpoint: ScanReport.Endpoint
    public var host: HostContext

    public var port: UInt16 { endpoint.port }
    public var service: MailService { endpoint.service }
    public var dialog: DialogObservation? { endpoint.dialog }
    public var tls: TLSObservation? { endpoint.dialog?.tls }
    /// "25/smtp", for evidence.
    public var label: String { "\(endpoint.port)/\(endpoint.service.rawValue)" }

    /// A rule's pattern over a fact of this endpoint: the first match, or nil for none. A search that gives up (its
    /// step budget spent on a very long text) is a failure the caller treats as an unknown fact, and is noted on
    /// the host.
    public func search(_ pattern: TextPattern, in text: String) -> Result<String?, PatternError> {
        do {
            return .success(try pattern.firstMatch(in: text))
        } catch {
            let origin = pattern.origin.isEmpty ? "" : " (\(pattern.origin))"
            host.undecided.add(
                "\(host.host.address) \(label): the pattern '\(printable(pattern.source))'\(origin) was left undecided: \(error.message)"
            )
            return .failure(error)
        }
    }

    /// A service whose clients start in plaintext (25, 587, 143, 110 and their mapped ports).
    public var isPlaintextStart: Bool { service.expectedTransport == .plain }

    /// The dialog ran to its end and the endpoint spoke the mail protocol its port is for.
    public var spokeExpectedProtocol: Bool {
        guard let dialog else { return false }
        return dialog.dialogRanToEnd && dialog.identifiedAs == IdentifiedProtocol(service)
    }

    /// A dialog identified another protocol (SSH on 25, HTTP on 993, ...): port rules for the mail service do
    /// not apply, MP-SERVICE-UNEXPECTED does.
    public var speaksSomethingElse: Bool {
        guard let identified = dialog?.identifiedAs else { return false }
        switch identified {
        case .none, .unknown, .binary: return false
        case .tls: return false
        default: return identified != IdentifiedProtocol(service)
        }
    }

    /// The capabilities before TLS are known: the dialog completed in the expected protocol and, for SMTP, EHLO
    /// was answered (after a HELO fallback nothing is known about extensions). Also on an implicit-TLS port that
    /// answered in plaintext (`transport: plain`): credentials offered there go in clear just the same.
    public var plaintextCapabilitiesKnown: Bool {
        guard isPlaintextStart || endpoint.transport == .plain, spokeExpectedProtocol, let dialog else { return false }
        switch IdentifiedProtocol(service) {
        case .smtp: return dialog.greetingStatus == "220" && !dialog.usedHELO
        case .imap:
            return ["OK", "PREAUTH"].contains(dialog.greetingStatus?.uppercased()) && !dialog.capabilities.isEmpty
        default: return dialog.greetingStatus == "+OK" && !dialog.capabilities.isEmpty
        }
    }
}

/// Server text inside evidence: cut and quoted, so an evidence line stays one readable line.
func quoted(_ text: String, limit: Int = 160) -> String {
    let oneLine = text.replacingOccurrences(of: "\n", with: " | ")
    let cut = oneLine.count > limit ? String(oneLine.prefix(limit)) + "…" : oneLine
    return "'\(cut)'"
}

/// RFC 3339 timestamps from the TLS stage back to dates. A format style (a value) rather than a new
/// ISO8601DateFormatter per call: making the formatter was a fifth of a large merge's time.
func parseTimestamp(_ text: String) -> Date? {
    try? Date(text, strategy: .iso8601)
}

/// The leaf's whole days left at `now` (negative once expired).
func daysLeft(_ certificate: CertificateFacts, now: Date) -> Int? {
    guard let notAfter = parseTimestamp(certificate.notAfter) else { return nil }
    return Int((notAfter.timeIntervalSince(now) / 86_400).rounded(.down))
}
