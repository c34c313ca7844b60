import MailPortCore

/// The result of one connection's dialog: the facts, and whether a retry may gather what is missing.
struct DialogAttempt: Sendable {
    var observation: DialogObservation
    /// Set when the failure looks transient (busy server, reset, timeout); the server's words or what timed out.
    var transientFailure: String?
}

/// Settings the dialogs need besides the connection.
struct DialogContext: Sendable {
    var service: MailService
    /// The server's address (address literals in the relay check's recipient forms).
    var address: IPAddress
    /// Names the target was given by (SNI and certificate name checks).
    var names: [String]
    var ehloName: String
    var tls: any TLSUpgrader
    /// Domains this host is an MX of (`ProbeTarget.mailDomains`).
    var mailDomains: [String] = []
    /// Keeps the session the STARTTLS handshake is issued, for the injection check to resume.
    var sessions: TLSSessionSlot?
}

/// Recognises a protocol from the first line a server sends.
public func identifyProtocol(_ line: ReceivedLine) -> IdentifiedProtocol {
    let scalars = Array(line.text.unicodeScalars.prefix(2))
    if scalars.count == 2, [0x15, 0x16].contains(scalars[0].value), scalars[1].value == 0x03 { return .tls }
    let text = line.text
    let upper = text.uppercased()
    if text.hasPrefix("SSH-") { return .ssh }
    if text.hasPrefix("HTTP/") { return .http }
    // A known protocol's prefix wins over stray control bytes later in the line (those are recorded as a
    // violation, not taken as a sign of another protocol).
    if upper.hasPrefix("* OK") || upper.hasPrefix("* PREAUTH") || upper.hasPrefix("* BYE") { return .imap }
    if text.hasPrefix("+OK") || text.hasPrefix("-ERR") { return .pop3 }
    let bytes = Array(text.utf8.prefix(4))
    if bytes.count >= 3, bytes[0...2].allSatisfy({ (0x30...0x39).contains($0) }),
        bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-")
    {
        return upper.contains("FTP") ? .ftp : .smtp
    }
    return line.hasBinary ? .binary : .unknown
}

/// Reads the greeting's first line, waiting up to the greeting wait, and checks it is the protocol the port should
/// speak. A port that stays silent that long gets one client-first probe, to identify services that wait for the
/// client (HTTP, many proprietary ones). Returns nil (with the attempt filled in) when the dialog cannot go on.
func readGreetingLine(
    _ connection: ProbeConnection, expecting expected: IdentifiedProtocol,
    into attempt: inout DialogAttempt
) async -> ReceivedLine? {
    let greetingWait = connection.limits.greetingTimeoutNanoseconds
    let waited = formatSeconds(Double(greetingWait) / 1e9)
    do {
        let line = try await connection.readLine(timeoutNanoseconds: greetingWait)
        let identified = identifyProtocol(line)
        attempt.observation.identifiedAs = identified
        attempt.observation.banner = line.text
        if identified != expected {
            // Another protocol is a complete fact in itself; there is nothing more to ask it.
            return nil
        }
        return line
    } catch {
        switch error {
        case .timeout where connection.unfinishedLineBytes == 0:
            await identifyClientFirst(connection, expecting: expected, waited: waited, into: &attempt)
        case .timeout, .dialogTimeout:
            if connection.unfinishedLineBytes > 0 {
                attempt.observation.identifiedAs = .unknown
                connection.addViolation(.init(.malformedReply, "greeting without a line end"))
                fail(&attempt, "the greeting never ended (no line end within \(waited))")
            } else {
                attempt.observation.unresponsive = true
                fail(&attempt, "no greeting within \(waited)")
            }
        case .closed(let reset):
            fail(&attempt, "connection closed before the greeting" + (reset.map { " (\($0))" } ?? ""), transient: true)
        case .tooMuchData:
            fail(&attempt, "greeting larger than the dialog bound")
        }
        return nil
    }
}

/// What is sent to a port that stays silent through the greeting wait: nmap's GetRequest probe. It is harmless to
/// any service, HTTP servers answer it, and TLS servers reject it with an alert record that identifies them.
let clientFirstProbe = "GET / HTTP/1.0"

/// Identifies a service that waits for the client to speak. Silence even then is a fact (the port accepts TCP and
/// says nothing), not a transient failure: a retry would only wait through the same greeting wait again.
private func identifyClientFirst(
    _ connection: ProbeConnection, expecting expected: IdentifiedProtocol, waited: String,
    into attempt: inout DialogAttempt
) async {
    attempt.observation.clientFirstProbe = clientFirstProbe
    var answer: ReceivedLine?
    if (try? await connection.sendRaw(clientFirstProbe + "\r\n\r\n", transcriptLines: [clientFirstProbe, ""])) != nil {
        do {
            answer = try await connection.readLine()
        } catch {
            // A TLS alert has no line end, and the server usually hangs up after it.
            answer = connection.takeUnfinishedLine()
        }
    }
    guard let answer else {
        attempt.observation.unresponsive = true
        fail(&attempt, "no greeting within \(waited), and no answer to a client-first probe")
        return
    }
    let identified = identifyProtocol(answer)
    attempt.observation.identifiedAs = identified
    if identified != .tls { attempt.observation.banner = answer.text }
    if identified == expected {
        // A mail greeting that came only after the client spoke: the dialog is no longer in step.
        fail(&attempt, "the greeting came only after \(waited), once the client had spoken")
    }
}

/// Marks the dialog incomplete; `transient` failures may be retried.
func fail(_ attempt: inout DialogAttempt, _ reason: String, transient: Bool = false) {
    attempt.observation.complete = false
    attempt.observation.incompleteReason = reason
    if transient { attempt.transientFailure = reason }
}

/// Describes a read failure in the middle of a dialog, for `incompleteReason`.
func describe(_ failure: ReadFailure, waitingFor what: String) -> String {
    switch failure {
    case .timeout: return "timed out waiting for \(what)"
    case .dialogTimeout: return "the dialog ran past its time bound waiting for \(what)"
    case .closed(let reset): return "connection closed waiting for \(what)" + (reset.map { " (\($0))" } ?? "")
    case .tooMuchData: return "more data than the dialog bound while waiting for \(what)"
    }
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
}

/// Reads lines into `parser` until it yields a reply. Failures are recorded in `attempt`; timeouts and closes are
/// transient, grammar violations are not.
/// `timeoutNanoseconds` replaces the read timeout (the greeting wait, for a greeting's continuation lines).
func readReply<Reply>(
    _ connection: ProbeConnection, first: ReceivedLine? = nil,
    feeding parse: (ReceivedLine) -> ParseStep<Reply>, waitingFor what: String,
    timeoutNanoseconds: UInt64? = nil, into attempt: inout DialogAttempt
) async -> Reply? {
    var pendingFirst = first
    while true {
        let line: ReceivedLine
        if let firstLine = pendingFirst {
            line = firstLine
            pendingFirst = nil
        } else {
            do {
                line = try await connection.readLine(timeoutNanoseconds: timeoutNanoseconds)
            } catch {
                fail(&attempt, describe(error, waitingFor: what), transient: error != .tooMuchData)
                return nil
            }
        }
        switch parse(line) {
        case .needMore:
            continue
        case .reply(let reply):
            return reply
        case .violation(let violation):
            connection.addViolation(violation)
            fail(&attempt, "\(violation.detail) (in \(what))")
            return nil
        }
    }
}

/// One protocol's dialog: the steps that fill in an attempt.
typealias DialogSteps = (ProbeConnection, DialogContext, inout DialogAttempt) async -> Void

/// Runs a protocol's steps on a connection and collects the transcript and violations into the observation.
func runDialog(_ connection: ProbeConnection, context: DialogContext, _ steps: DialogSteps) async -> DialogAttempt {
    var attempt = DialogAttempt(observation: DialogObservation())
    await steps(connection, context, &attempt)
    finish(&attempt, connection)
    return attempt
}

/// Finishes an attempt: copies the transcript and violations of the connection into the observation.
func finish(_ attempt: inout DialogAttempt, _ connection: ProbeConnection) {
    attempt.observation.transcript = connection.transcript
    attempt.observation.violations = connection.violations
}

/// Runs the STARTTLS hand-over after the server accepted the command; true when the dialog now runs inside TLS.
func handOverToTLS(
    _ connection: ProbeConnection, context: DialogContext, into attempt: inout DialogAttempt
) async -> Bool {
    switch await context.tls.upgrade(
        connection, names: context.names, service: context.service, sessions: context.sessions.map { .keepIssued($0) })
    {
    case .notAttempted:
        attempt.observation.starttls?.upgraded = nil
        return false
    case .failed(let error, _):
        attempt.observation.starttls?.upgraded = false
        attempt.observation.starttls?.error = error
        return false
    case .timedOut:
        // Retried like any transient failure; incomplete if it persists, so no MP-STARTTLS-FAILED from a timeout.
        attempt.observation.starttls?.upgraded = nil
        attempt.observation.starttls?.error = "handshake timed out"
        fail(&attempt, "the TLS handshake after STARTTLS timed out", transient: true)
        return false
    case .upgraded(let facts):
        attempt.observation.starttls?.upgraded = true
        attempt.observation.tls = facts
        return true
    }
}

/// QUIT (SMTP, POP3), politely, reading at most one line of the answer.
func quitPolitely(_ connection: ProbeConnection) async {
    try? await connection.send("QUIT")
    _ = try? await connection.readLine()
}
