import Foundation
import MailPortCore
import NIOCore

/// The STARTTLS injection check's answer, and whether the handshake that gave it resumed the dialog's session.
struct InjectionAnswer: Sendable {
    var answeredInsideTLS: Bool
    var resumed: Bool
}

/// The answer to one extra question, or why it could not be asked (the server's own words where it gave any).
enum Answer<Value: Sendable>: Sendable {
    case known(Value)
    case unknown(String)
}

/// What the server's TLS layer said to a restricted ClientHello.
enum HandshakeVerdict: Sendable {
    /// It chose what was offered (the facts of the handshake, or of the ServerHello alone).
    case accepted(TLSObservation)
    /// It said no: an alert, a handshake failure, an answer that took nothing that was offered.
    case refused(String)
}

/// The extra questions after the dialog. Each runs on a connection of its own, after the STARTTLS preamble where the
/// service needs one, inside the endpoint's `--per-host` slot. A question that could not be asked (connect failure,
/// a 421 / `* BYE` / `-ERR` greeting, STARTTLS refused this time, a reset, silence) is asked again after a pause;
/// its answer is never taken for a refusal.
extension EndpointProber {
    /// Attempts per question: one retry, two when the server named a rate or connection limit.
    static func attempts(connectionLimit: Bool) -> Int { connectionLimit ? 3 : 2 }

    /// The pause before attempt `attempt + 1`: `--retry-pause`, or, after a refusal that names a connection limit,
    /// a longer back-off (Postfix's anvil counts connections per minute) that doubles and stays within a minute.
    func retryPause(after attempt: Int, connectionLimit: Bool) -> UInt64 {
        guard connectionLimit else { return options.retryPauseNanoseconds }
        let base = min(
            60e9, max(Double(options.limitBackoffFloorNanoseconds), Double(options.retryPauseNanoseconds) * 10))
        return UInt64(min(60e9, base * pow(2, Double(attempt - 1))))
    }

    /// Asks with `layer`, again after a pause while the answer is unknown. A host that names a connection limit is
    /// served one connection at a time for the rest of the run.
    func ask(_ target: ProbeTarget, using layer: any TLSUpgrader) async -> Answer<HandshakeVerdict> {
        await retrying(target) {
            switch await askOnce(target, using: layer) {
            case .answer(let answer):
                return answer
            case .hungUp(let reason):
                // Some servers refuse a hello by hanging up without an alert (Dovecot, SChannel). After a STARTTLS
                // the server agreed to on this very connection, that can only be its TLS layer saying no. On an
                // implicit-TLS port it could also be a server turning connections away, so it counts as a refusal
                // only when the same port completes a standard handshake right then (checked once per endpoint).
                if target.port.service.expectedTransport != .implicitTLS { return .known(.refused(reason)) }
                return await Self.hangUps?.refuses(target, prober: self) == true
                    ? .known(.refused(reason)) : .unknown(reason)
            }
        }
    }

    func retrying<Value>(_ target: ProbeTarget, _ once: () async -> Answer<Value>) async -> Answer<Value> {
        var attempt = 1
        while true {
            let answer = await once()
            guard case .unknown(let reason) = answer, !Task.isCancelled else { return answer }
            let limited = namesConnectionLimit(reason)
            if limited { await gate.serveOneAtATime(target.address) }
            guard attempt < Self.attempts(connectionLimit: limited) else { return answer }
            logger.debug(
                "question unanswered, asking again",
                metadata: [
                    "probe.endpoint": "\(target.address):\(target.port.port)", "probe.reason": "\(printable(reason))",
                ])
            try? await Task.sleep(nanoseconds: retryPause(after: attempt, connectionLimit: limited))
            attempt += 1
        }
    }

    /// What one attempt at a question gave: an answer (or why there is none), or a hang-up without a byte.
    private enum Attempt {
        case answer(Answer<HandshakeVerdict>)
        case hungUp(String)
    }

    /// One question on a fresh connection. The server's TLS layer answered when it sent anything at all (an alert, a
    /// ServerHello): that is accepted or refused. Silence is no answer; a hang-up before any byte is judged by `ask`.
    private func askOnce(_ target: ProbeTarget, using layer: any TLSUpgrader) async -> Attempt {
        let connection: ProbeConnection
        switch await openForQuestion(target) {
        case .known(let opened): connection = opened
        case .unknown(let reason): return .answer(.unknown(reason))
        }
        if let reason = await reachTLS(connection, service: target.port.service, ehloName: options.ehloName) {
            await connection.close()
            return .answer(.unknown(reason))
        }
        let result = await layer.upgrade(connection, names: target.names, service: target.port.service)
        await connection.close()
        switch result {
        case .upgraded(let facts):
            return .answer(.known(.accepted(facts)))
        case .failed(let error, let serverSent):
            return serverSent.isEmpty
                ? .hungUp("hung up on the ClientHello without a byte (\(error))") : .answer(.known(.refused(error)))
        case .timedOut:
            return .answer(.unknown("no answer to the ClientHello within the handshake timeout"))
        case .notAttempted:
            return .answer(.unknown("no TLS layer in this build"))
        }
    }

    /// Whether the standard TLS layer completes a handshake on a fresh connection right now.
    func standardHandshakeSucceeds(_ target: ProbeTarget) async -> Bool {
        if case .answer(.known(.accepted)) = await askOnce(target, using: tls) { return true }
        return false
    }

    /// A connection for a question, or why there is none.
    private func openForQuestion(_ target: ProbeTarget, limits: DialogLimits? = nil) async -> Answer<ProbeConnection> {
        do {
            return .known(try await connect(target, limits: limits))
        } catch let error as LocalResourceFailure {
            return .unknown("not asked: \(error.reason) (a local failure, not the server's answer)")
        } catch is CancellationError {
            return .unknown("interrupted")
        } catch {
            return .unknown("connection failed: \(error)")
        }
    }

    /// The legacy versions: one ClientHello offering SSLv3 to TLS 1.1 at once. The server answers with the newest of
    /// them it accepts (so the newer ones are refused) or refuses them all; only after an acceptance is the next
    /// older version asked about.
    func askLegacyVersions(_ target: ProbeTarget, into facts: inout TLSObservation, unknown: inout [UnknownProbe]) async
    {
        let questions = options.legacyVersionQuestions
        var index = 0
        while index < questions.count {
            let offered = questions[index...].map(\.label)
            switch await ask(target, using: questions[index].tls) {
            case .known(.accepted(let answer)):
                guard let chosen = offered.firstIndex(of: answer.negotiatedVersion) else { return }
                if !facts.versionsAccepted.contains(answer.negotiatedVersion) {
                    facts.versionsAccepted.append(answer.negotiatedVersion)
                }
                index += chosen + 1
            case .known(.refused):
                return
            case .unknown(let reason):
                facts.versionsUnknown = offered
                unknown.append(UnknownProbe(probe: "tls-versions " + offered.joined(separator: ","), reason: reason))
                return
            }
        }
    }

    /// The weak cipher classes: every class in one ClientHello; after an acceptance, the classes still open.
    func askWeakCiphers(
        _ target: ProbeTarget, _ question: any CipherClassQuestion, into facts: inout TLSObservation,
        unknown: inout [UnknownProbe]
    ) async {
        facts.cipherClassesProbed = question.classes
        var accepted: Set<String> = []
        var open = Set(question.classes)
        func ordered(_ set: Set<String>) -> [String] { question.classes.filter(set.contains) }
        defer { facts.cipherClassesAccepted = ordered(accepted) }
        while !open.isEmpty {
            switch await ask(target, using: question.offering(open)) {
            case .known(.accepted(let answer)):
                let chosen = question.classes(ofChosen: answer)
                // A suite of no open class would repeat itself: nothing more can be learnt.
                guard !chosen.isDisjoint(with: open) else { return }
                accepted.formUnion(chosen)
                open.subtract(chosen)
            case .known(.refused):
                return
            case .unknown(let reason):
                facts.cipherClassesUnknown = ordered(open)
                unknown.append(
                    UnknownProbe(probe: "weak-ciphers " + ordered(open).joined(separator: ","), reason: reason))
                return
            }
        }
    }

    /// The STARTTLS injection check: STARTTLS and a NOOP in one segment, then the handshake; if the server answers
    /// the NOOP inside TLS, it executed plaintext it had buffered before TLS. Unknown when the check could not run
    /// (the server would not start TLS this time) or gave no clear answer.
    ///
    /// To tell "not answered" from "not answered yet" without waiting out a timeout on every correct server, a
    /// marker command follows inside TLS whose reply cannot be mistaken for the NOOP's: for IMAP another tag
    /// (`mp8 NOOP` after the injected `mp7 NOOP`), for SMTP `HELP` (RFC 5321 allows 211, 214, 502, 504 for it, never
    /// the NOOP's 250). Whichever reply comes first decides. POP3 has no such pair (NOOP is an error before login,
    /// like an unknown command), so there a short wait, scaled to the handshake's own duration, decides.
    ///
    /// The handshake resumes the session the dialog's STARTTLS was issued where the server offers that (the check
    /// needs the TLS channel, not the certificate again): the server signs nothing new for it.
    func askInjection(_ target: ProbeTarget, resuming sessions: TLSSessionSlot) async -> Answer<InjectionAnswer> {
        await retrying(target) {
            var limits = options.limits
            limits.readTimeoutNanoseconds = min(limits.readTimeoutNanoseconds, 1_000_000_000)
            let connection: ProbeConnection
            switch await openForQuestion(target, limits: limits) {
            case .known(let opened): connection = opened
            case .unknown(let reason): return .unknown(reason)
            }
            let answer = await injectionAnswered(on: connection, target, resuming: sessions)
            await connection.close()
            return answer
        }
    }

    private func injectionAnswered(
        on connection: ProbeConnection, _ target: ProbeTarget, resuming sessions: TLSSessionSlot
    ) async -> Answer<InjectionAnswer> {
        if let reason = await reachTLS(
            connection, service: target.port.service, ehloName: options.ehloName,
            pipelineNOOP: true)
        {
            return .unknown(reason)
        }
        let started = NIODeadline.now()
        let offered = sessions.holdsSession
        switch await tls.upgrade(
            connection, names: target.names, service: target.port.service, sessions: .resume(sessions))
        {
        case .upgraded:
            break
        case .failed(let error, _) where offered:
            // The session was offered (and is gone from the slot): a server can break on the resumption itself, so
            // this failure says nothing about the pipelined command. Asked again, with a full handshake.
            return .unknown("the handshake resuming the dialog's TLS session failed (\(error))")
        case .failed:
            // A server that reads the leftover plaintext as TLS breaks the handshake (often hanging up without an
            // alert: our own pipelined bytes caused it): it did not execute the command.
            return .known(InjectionAnswer(answeredInsideTLS: false, resumed: false))
        case .timedOut, .notAttempted:
            return .unknown("the handshake after STARTTLS did not complete")
        }
        let resumed = sessions.offerResumed ?? false
        func answer(_ answered: Bool) -> Answer<InjectionAnswer> {
            .known(InjectionAnswer(answeredInsideTLS: answered, resumed: resumed))
        }
        let handshake = UInt64(max(0, (NIODeadline.now() - started).nanoseconds))
        do throws(ReadFailure) {
            switch IdentifiedProtocol(target.port.service) {
            case .imap:
                guard (try? await connection.send("mp8 NOOP")) != nil else {
                    return .unknown("connection lost inside TLS")
                }
                for _ in 0..<options.limits.maxLinesPerReply {
                    let line = try await connection.readLine().text
                    if line.hasPrefix("mp7 ") { return answer(true) }
                    if line.hasPrefix("mp8 ") { return answer(false) }
                }
                return .unknown("no tagged reply inside TLS")
            case .smtp:
                guard (try? await connection.send("HELP")) != nil else { return .unknown("connection lost inside TLS") }
                let line = try await connection.readLine().text
                return answer(line.hasPrefix("250"))
            default:
                // A vulnerable server answers the buffered command as soon as TLS is up: within a few handshake times.
                _ = try await connection.readLine(
                    timeoutNanoseconds: min(1_000_000_000, max(250_000_000, handshake * 4)))
                return answer(true)
            }
        } catch {
            // Silence, or a server that hangs up on pipelined input: the buffered command was not executed.
            switch error {
            case .timeout, .closed:
                return IdentifiedProtocol(target.port.service) == .pop3
                    ? answer(false)
                    : .unknown(describe(error, waitingFor: "the reply inside TLS"))
            case .dialogTimeout, .tooMuchData:
                return .unknown(describe(error, waitingFor: "the reply inside TLS"))
            }
        }
    }
}
