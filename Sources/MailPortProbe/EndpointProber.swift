import Logging
import MailPortCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// How the probes stage behaves.
public struct ProbeOptions: Sendable {
    public var connectTimeoutNanoseconds: UInt64
    public var limits: DialogLimits
    /// Pause before retrying a transient failure (a 421, a reset, a timeout).
    public var retryPauseNanoseconds: UInt64
    /// After a refusal that names a connection limit, the back-off is ten retry pauses but never less than this
    /// (Postfix's anvil counts connections per minute). Tests shorten it to see the back-off in seconds.
    public var limitBackoffFloorNanoseconds: UInt64
    /// Dialogs at once in all (`--concurrency`, capped: each dialog holds a socket for seconds).
    public var concurrency: Int
    /// Dialogs at once with one address (`--per-host`): mail servers answer bursts with 421.
    public var perHost: Int
    /// The name sent with EHLO/HELO.
    public var ehloName: String
    /// The legacy-version questions, newest first: the first offers SSLv3 to TLS 1.1 in one ClientHello, each next
    /// one its own version and older; a later one is asked only when the server accepted a newer one. Empty: legacy
    /// versions are not asked about.
    public var legacyVersionQuestions: [HandshakeProbe]
    /// The weak-cipher question (every weak class in one ClientHello, then the classes still open). Nil: not asked.
    public var weakCipherQuestion: (any CipherClassQuestion)?
    /// A lax TLS layer for a second try when the standard handshake fails, so a server that only a lax client
    /// reaches (TLS 1.0 only, a 1024-bit key, anonymous ciphers) still yields its facts. Nil: no second try.
    public var permissiveTLS: (any TLSUpgrader)?

    public init(
        connectTimeoutNanoseconds: UInt64 = 3_000_000_000, limits: DialogLimits = DialogLimits(),
        retryPauseNanoseconds: UInt64 = 2_000_000_000, limitBackoffFloorNanoseconds: UInt64 = 5_000_000_000,
        concurrency: Int = 64, perHost: Int = 2,
        ehloName: String = "mailport.invalid", legacyVersionQuestions: [HandshakeProbe] = [],
        weakCipherQuestion: (any CipherClassQuestion)? = nil, permissiveTLS: (any TLSUpgrader)? = nil
    ) {
        self.connectTimeoutNanoseconds = connectTimeoutNanoseconds
        self.limits = limits
        self.retryPauseNanoseconds = retryPauseNanoseconds
        self.limitBackoffFloorNanoseconds = limitBackoffFloorNanoseconds
        self.concurrency = concurrency
        self.perHost = perHost
        self.ehloName = ehloName
        self.legacyVersionQuestions = legacyVersionQuestions
        self.weakCipherQuestion = weakCipherQuestion
        self.permissiveTLS = permissiveTLS
    }
}

/// Weak cipher classes asked about in combined ClientHellos: a TLS layer offering every suite of a set of classes,
/// and the classes of the suite a server chose.
public protocol CipherClassQuestion: Sendable {
    /// Every class asked about, in report order.
    var classes: [String] { get }
    /// A TLS layer whose one ClientHello offers every suite that belongs to at least one of `classes`.
    func offering(_ classes: Set<String>) -> any TLSUpgrader
    /// The classes of the suite the server chose (from the accepted answer's `cipher`).
    func classes(ofChosen answer: TLSObservation) -> Set<String>
}

/// One handshake of its own with a restricted TLS layer.
public struct HandshakeProbe: Sendable {
    /// What is offered: for a legacy-version question, the newest version offered as OpenSSL names it ("TLSv1.1").
    public var label: String
    /// A TLS layer that offers only that.
    public var tls: any TLSUpgrader

    public init(label: String, tls: any TLSUpgrader) {
        self.label = label
        self.tls = tls
    }
}

/// One open endpoint to talk to.
public struct ProbeTarget: Sendable, Hashable {
    public var address: IPAddress
    public var port: PortSpec
    /// Names the address was given by (the first is sent as SNI by the TLS stage).
    public var names: [String]
    /// Mail domains (`--domain`) whose MX this address is: on port 25 the dialog asks whether it takes mail for them.
    public var mailDomains: [String]

    public init(address: IPAddress, port: PortSpec, names: [String] = [], mailDomains: [String] = []) {
        self.address = address
        self.port = port
        self.names = names
        self.mailDomains = mailDomains
    }
}

/// Stage 3: talks to every open endpoint like a mail client and records what it saw. Never judges.
public final class EndpointProber: Sendable {
    let options: ProbeOptions
    let tls: any TLSUpgrader
    let group: any EventLoopGroup
    let logger: Logger
    /// Connections at once per address (`--per-host`), for every probe of the run; a host that names a connection
    /// limit is served one at a time from then on.
    let gate: HostGate

    public init(options: ProbeOptions, tls: any TLSUpgrader = NoTLSLayer(), group: any EventLoopGroup, logger: Logger) {
        self.options = options
        self.tls = tls
        self.group = group
        self.logger = logger
        self.gate = HostGate(limit: max(1, options.perHost))
    }

    /// Probes every target, at most `concurrency` at once and `perHost` per address. Implicit-TLS ports are
    /// skipped while no TLS layer is linked (their dialog happens inside TLS), so they get no observation.
    public func probeAll(
        _ targets: [ProbeTarget], shouldStop: @escaping @Sendable () -> Bool = { false },
        onDone: @Sendable (Int) -> Void = { _ in }
    ) async -> [ProbeTarget: DialogObservation] {
        var results: [ProbeTarget: DialogObservation] = [:]
        await probeEach(arriving: Self.stream(targets), shouldStop: shouldStop) { target, observation in
            results[target] = observation
            onDone(results.count)
        }
        return results
    }

    /// Probes targets as they arrive (discovery hands over each open endpoint the moment it is found, so dialogs
    /// run while discovery is still sweeping), until the stream ends.
    public func probeAll(
        arriving targets: AsyncStream<ProbeTarget>, shouldStop: @escaping @Sendable () -> Bool = { false }
    ) async -> [ProbeTarget: DialogObservation] {
        var results: [ProbeTarget: DialogObservation] = [:]
        await probeEach(arriving: targets, shouldStop: shouldStop) { results[$0] = $1 }
        return results
    }

    /// The targets of a list as a stream that has ended.
    public static func stream(_ targets: [ProbeTarget]) -> AsyncStream<ProbeTarget> {
        let (stream, continuation) = AsyncStream.makeStream(of: ProbeTarget.self)
        for target in targets { continuation.yield(target) }
        continuation.finish()
        return stream
    }

    /// Probes targets as they arrive and hands each observation to `finished` the moment its endpoint is done, in
    /// the order they finish (one call at a time): a caller that stores them elsewhere (a large run spools them to
    /// disk) holds none of them here.
    public func probeEach(
        arriving targets: AsyncStream<ProbeTarget>, shouldStop: @escaping @Sendable () -> Bool = { false },
        finished: (ProbeTarget, DialogObservation) -> Void
    ) async {
        enum Event: Sendable {
            case arrived(ProbeTarget?)
            case probed(ProbeTarget, DialogObservation)
        }
        let gate = self.gate
        let queue = TargetQueue(targets)
        let skipImplicitTLS = tls is NoTLSLayer
        await withTaskGroup(of: Event.self) { group in
            var running = 0
            var fetching = false
            var exhausted = false
            // At most one task waits for the next target, and only while there is room for another dialog.
            func fetch() {
                guard !fetching, !exhausted, running < max(1, options.concurrency), !shouldStop() else { return }
                fetching = true
                group.addTask { .arrived(await queue.next()) }
            }
            fetch()
            while let event = await group.next() {
                switch event {
                case .arrived(let target?):
                    fetching = false
                    if !(skipImplicitTLS && target.port.service.expectedTransport == .implicitTLS) {
                        running += 1
                        group.addTask {
                            await gate.acquire(target.address)
                            let observation = await self.probe(target)
                            await gate.release(target.address)
                            return .probed(target, observation)
                        }
                    }
                case .arrived(nil):
                    fetching = false
                    exhausted = true
                case .probed(let target, let observation):
                    running -= 1
                    finished(target, observation)
                }
                fetch()
            }
        }
    }

    /// One endpoint: a dialog, and one retry after a pause when the failure looked transient; then, when TLS
    /// worked, the protocol versions the server accepts.
    ///
    /// Cancelling the calling task (an interrupt) closes every connection the endpoint's probes hold, so a read or
    /// handshake waiting on a silent server ends at once, not after its timeout; no retry and no further probe
    /// starts, and the observation is marked incomplete: what the interrupted probes would have found stays unknown.
    public func probe(_ target: ProbeTarget) async -> DialogObservation {
        let connections = OpenConnections()
        var observation = await withTaskCancellationHandler {
            await Self.$openConnections.withValue(connections) {
                await Self.$hangUps.withValue(HangUpJudgement()) { await probeUninterrupted(target) }
            }
        } onCancel: {
            connections.abortAll()
        }
        observation.connections = connections.count
        if Task.isCancelled {
            observation.complete = false
            observation.incompleteReason =
                "interrupted before the audit of this endpoint finished"
                + (observation.incompleteReason.map { " (\($0))" } ?? "")
        }
        return observation
    }

    /// The connections of the endpoint being probed on this task, for `probe`'s cancellation handler.
    @TaskLocal static var openConnections: OpenConnections?
    /// Whether hang-ups on this endpoint's implicit-TLS questions are refusals (decided once per endpoint).
    @TaskLocal static var hangUps: HangUpJudgement?

    /// The dialog, then the extra questions, each on a connection of its own: the lax handshake when the standard
    /// one failed, the legacy versions, the weak cipher classes, the STARTTLS injection check. Every question ends
    /// accepted, refused or unknown; what stays unknown after a retry makes the endpoint incomplete, with the reason.
    private func probeUninterrupted(_ target: ProbeTarget) async -> DialogObservation {
        let sessions = TLSSessionSlot()
        var observation = await dialogWithRetry(target, sessions: sessions)
        var unknown: [UnknownProbe] = []
        // SMTP's own questions ran on the dialog's connection; a deferral or a lost connection left them unknown.
        if let checks = observation.smtpChecks {
            if checks.relay == .unknown {
                let last = checks.relayAttempts.last { $0.outcome == .unknown }
                unknown.append(
                    UnknownProbe(
                        probe: "smtp-relay",
                        reason: last.map { "\($0.command): \($0.reply)" } ?? "the connection ended first"))
            }
            for answer in [checks.vrfy, checks.expn, checks.recipientEnumeration].compactMap({ $0 })
                + (checks.ownDomains ?? [])
            where answer.outcome == .unknown {
                unknown.append(UnknownProbe(probe: "smtp " + answer.question, reason: answer.reply))
            }
        }
        if observation.tls == nil, let permissive = options.permissiveTLS, standardHandshakeFailed(observation, target)
        {
            switch await ask(target, using: permissive) {
            case .known(.accepted(let facts)):
                observation.tls = facts
                observation.tls?.legacyHandshake = true
            case .known(.refused):
                break
            case .unknown(let reason):
                unknown.append(UnknownProbe(probe: "lax-handshake", reason: reason))
            }
        }
        // A plaintext dialog on an implicit-TLS port (even one that then offered STARTTLS) has no TLS port to ask.
        let plaintextOnTLSPort =
            target.port.service.expectedTransport == .implicitTLS && observation.tlsError != nil
            && greetsFirst(observation.identifiedAs)
        if var facts = observation.tls, !plaintextOnTLSPort {
            // The version the dialog's own handshake negotiated is accepted: no question needed for it.
            facts.versionsAccepted = [facts.negotiatedVersion]
            await askLegacyVersions(target, into: &facts, unknown: &unknown)
            if let question = options.weakCipherQuestion {
                await askWeakCiphers(target, question, into: &facts, unknown: &unknown)
            }
            observation.tls = facts
        }
        if observation.starttls?.upgraded == true, !plaintextOnTLSPort {
            switch await askInjection(target, resuming: sessions) {
            case .known(let answer):
                observation.starttls?.injectionAnsweredInsideTLS = answer.answeredInsideTLS
                observation.starttls?.injectionCheckResumed = answer.resumed
            case .unknown(let reason):
                unknown.append(UnknownProbe(probe: "starttls-injection", reason: reason))
            }
        }
        if !unknown.isEmpty {
            observation.unknownProbes = unknown
            observation.dialogComplete = observation.complete
            observation.complete = false
            let unanswered = unknown.map { "\($0.probe): \($0.reason)" }.joined(separator: "; ")
            observation.incompleteReason =
                (observation.incompleteReason.map { $0 + "; " } ?? "")
                + "unanswered question\(unknown.count == 1 ? "" : "s") (\(unanswered))"
        }
        return observation
    }

    /// The server agreed to TLS (STARTTLS accepted, or an implicit-TLS port that did not answer in plaintext) but
    /// the standard handshake did not complete.
    private func standardHandshakeFailed(_ observation: DialogObservation, _ target: ProbeTarget) -> Bool {
        if observation.starttls?.upgraded == false { return true }
        return target.port.service.expectedTransport == .implicitTLS && observation.tlsError != nil
            && [.none, .tls].contains(observation.identifiedAs)
    }

    /// A new connection to the target with the configured connect timeout.
    ///
    /// Running out of descriptors or socket memory on this machine says nothing about the server: such a connect
    /// waits for other dialogs to give theirs back (with a growing pause, at most `localWaitNanoseconds` in all)
    /// and is tried again, and only then fails as `LocalResourceFailure`, never as the server's answer.
    func connect(_ target: ProbeTarget, limits: DialogLimits? = nil) async throws -> ProbeConnection {
        var pause: UInt64 = 20_000_000
        var waited: UInt64 = 0
        while true {
            try Task.checkCancellation()
            do {
                let connection = try await ProbeConnection.connect(
                    to: target.address, port: target.port.port, group: group,
                    connectTimeout: .nanoseconds(Int64(options.connectTimeoutNanoseconds)),
                    limits: limits ?? options.limits)
                guard Self.openConnections?.add(connection) ?? true else {
                    await connection.close()
                    throw CancellationError()
                }
                return connection
            } catch let error as IOError where LocalResourceFailure.errorCodes.contains(error.errnoCode) {
                guard waited < Self.localWaitNanoseconds, !Task.isCancelled else {
                    throw LocalResourceFailure(reason: "\(errnoText(error.errnoCode)) on this machine")
                }
                try? await Task.sleep(nanoseconds: pause)
                waited += pause
                pause = min(pause * 2, 1_000_000_000)
            }
        }
    }

    /// How long a connect waits in all for local descriptors to free up before the dialog is given up as local.
    static let localWaitNanoseconds: UInt64 = 30_000_000_000

    private func dialogWithRetry(_ target: ProbeTarget, sessions: TLSSessionSlot) async -> DialogObservation {
        var attemptNumber = 1
        while true {
            var attempt = await dialogOnce(target, sessions: sessions)
            attempt.observation.attempts = attemptNumber
            let limited = attempt.transientFailure.map(namesConnectionLimit) ?? false
            if limited { await gate.serveOneAtATime(target.address) }
            // After an interrupt no retry starts: the endpoint is reported as far as it got.
            guard let transient = attempt.transientFailure, attemptNumber < Self.attempts(connectionLimit: limited),
                !Task.isCancelled
            else {
                logger.debug(
                    "dialog done",
                    metadata: [
                        "probe.endpoint": "\(target.address):\(target.port.port)",
                        "probe.identified": "\(attempt.observation.identifiedAs.rawValue)",
                        "probe.complete": "\(attempt.observation.complete)",
                    ])
                return attempt.observation
            }
            logger.debug(
                "transient failure, retrying",
                metadata: [
                    "probe.endpoint": "\(target.address):\(target.port.port)",
                    // The reason may quote the server: escaped before it can reach a terminal.
                    "probe.reason": "\(printable(transient))",
                ])
            try? await Task.sleep(nanoseconds: retryPause(after: attemptNumber, connectionLimit: limited))
            attemptNumber += 1
        }
    }

    private func dialogOnce(_ target: ProbeTarget, sessions: TLSSessionSlot) async -> DialogAttempt {
        let connection: ProbeConnection
        do {
            connection = try await connect(target)
        } catch let error as LocalResourceFailure {
            // Not retried as transient: the connect already waited for descriptors; the endpoint stays incomplete.
            var attempt = DialogAttempt(observation: DialogObservation())
            fail(&attempt, "not audited: \(error.reason) (a local failure, not the server's answer)")
            attempt.observation.localFailure = true
            return attempt
        } catch {
            var attempt = DialogAttempt(observation: DialogObservation())
            fail(&attempt, "connection failed: \(error)", transient: true)
            return attempt
        }
        let context = DialogContext(
            service: target.port.service, address: target.address, names: target.names,
            ehloName: options.ehloName, tls: tls, mailDomains: target.mailDomains, sessions: sessions)
        var implicitTLS: TLSObservation?
        if target.port.service.expectedTransport == .implicitTLS {
            switch await tls.upgrade(connection, names: target.names, service: target.port.service) {
            case .upgraded(let facts):
                implicitTLS = facts
            case .notAttempted:
                await connection.close()
                var attempt = DialogAttempt(observation: DialogObservation())
                fail(&attempt, "no TLS layer in this build")
                return attempt
            case .failed(let error, let serverSent):
                await connection.close()
                let failure = implicitTLSFailure(error: error, serverSent: serverSent)
                guard greetsFirst(failure.observation.identifiedAs) else { return failure }
                // A plaintext greeting on a TLS port: audit it as the plaintext dialog it is, on a connection of its
                // own (this one carried a ClientHello the server read as a command), capabilities and all, so
                // credentials offered in clear here are judged too.
                if let plaintext = await plaintextDialog(target, context: context, handshakeError: error) {
                    return plaintext
                }
                // The greeting is known, the capabilities are not: incomplete, and worth another try.
                var incomplete = failure
                fail(
                    &incomplete,
                    "the port greeted in plaintext, but the second connection for the plaintext dialog failed",
                    transient: true)
                return incomplete
            case .timedOut:
                await connection.close()
                return implicitTLSFailure(error: "handshake timed out", serverSent: [])
            }
        }
        var attempt = await protocolDialog(connection, context: context)
        attempt.observation.tls = attempt.observation.tls ?? implicitTLS
        await connection.close()
        return attempt
    }

    /// The dialog of the port's mail protocol on an open connection (inside TLS already on implicit-TLS ports).
    private func protocolDialog(_ connection: ProbeConnection, context: DialogContext) async -> DialogAttempt {
        switch IdentifiedProtocol(context.service) {
        case .imap: return await runDialog(connection, context: context, imapDialog)
        case .pop3: return await runDialog(connection, context: context, pop3Dialog)
        default: return await runDialog(connection, context: context, smtpDialog)
        }
    }

    /// Protocols whose server speaks first in plaintext: their greeting can be read in full on a fresh connection.
    private func greetsFirst(_ identified: IdentifiedProtocol) -> Bool {
        [.smtp, .imap, .pop3, .ftp, .ssh].contains(identified)
    }

    /// The plaintext dialog on an implicit-TLS port that greeted in plaintext; nil when the fresh connection failed.
    private func plaintextDialog(
        _ target: ProbeTarget, context: DialogContext, handshakeError: String
    ) async -> DialogAttempt? {
        guard let connection = try? await connect(target) else { return nil }
        var attempt = await protocolDialog(connection, context: context)
        await connection.close()
        attempt.observation.tlsError = handshakeError
        return attempt
    }

    /// An implicit-TLS port whose handshake failed. A server that greeted in plaintext is recorded as the protocol it
    /// spoke (TLS absent), not as a handshake error; silence or a reset is transient.
    private func implicitTLSFailure(error: String, serverSent: [UInt8]) -> DialogAttempt {
        var attempt = DialogAttempt(observation: DialogObservation())
        attempt.observation.tlsError = error
        guard !serverSent.isEmpty else {
            fail(&attempt, "TLS handshake failed: \(error)", transient: true)
            return attempt
        }
        var lines = LineBuffer(maxLineLength: options.limits.maxLineLength)
        lines.append(serverSent + [UInt8(ascii: "\n")])
        if let first = lines.nextLine() {
            let identified = identifyProtocol(first)
            attempt.observation.identifiedAs = identified
            if identified != .tls {
                attempt.observation.banner = first.text
                attempt.observation.transcript = [
                    TranscriptLine(.server, String(first.text.prefix(options.limits.maxTranscriptLineLength)))
                ]
            }
        }
        return attempt
    }
}

/// Every connection one endpoint's probes opened, so that an interrupt can close them all at once. A connection
/// that arrives after the interrupt is refused (and closed by the caller).
final class OpenConnections: Sendable {
    private let state = NIOLockedValueBox<(aborted: Bool, connections: [ProbeConnection], opened: Int)>((false, [], 0))

    /// Connections opened for the endpoint so far.
    var count: Int { state.withLockedValue { $0.opened } }

    /// Records `connection`; false when the probes were interrupted already.
    func add(_ connection: ProbeConnection) -> Bool {
        state.withLockedValue { state in
            guard !state.aborted else { return false }
            // At most a dozen per endpoint, released with the endpoint's probe: nothing to prune.
            state.connections.append(connection)
            state.opened += 1
            return true
        }
    }

    func abortAll() {
        let connections = state.withLockedValue { state in
            state.aborted = true
            defer { state.connections.removeAll() }
            return state.connections
        }
        for connection in connections { connection.abort() }
    }
}

/// Whether an implicit-TLS endpoint refuses restricted hellos by hanging up: decided the first time one hangs up, by a
/// standard handshake on a fresh connection (it completes: the server is taking connections and said no to the
/// offer), and kept for the endpoint's other questions. One endpoint's questions run one after another.
final class HangUpJudgement: @unchecked Sendable {
    private var decided: Bool?

    func refuses(_ target: ProbeTarget, prober: EndpointProber) async -> Bool {
        if let decided { return decided }
        let refuses = await prober.standardHandshakeSucceeds(target)
        // Only a proof is kept; a failed check is asked again next time (the server may have been busy).
        if refuses { decided = true }
        return refuses
    }
}

/// A connection this machine could not make (out of file descriptors or socket memory) after waiting for some
/// to free up.
struct LocalResourceFailure: Error {
    /// EMFILE, ENFILE: the process's or the system's open-file table is full; ENOBUFS, ENOMEM: no socket memory.
    static let errorCodes: Set<Int32> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]
    var reason: String
}

/// At most `limit` dialogs at once per address; the others wait their turn in order.
actor HostGate {
    private let limit: Int
    /// Hosts that named a connection limit: one connection at a time for the rest of the run.
    private var oneAtATime: Set<IPAddress> = []
    private var active: [IPAddress: Int] = [:]
    private var waiting: [IPAddress: [CheckedContinuation<Void, Never>]] = [:]

    init(limit: Int) {
        self.limit = limit
    }

    func serveOneAtATime(_ address: IPAddress) {
        oneAtATime.insert(address)
    }

    func acquire(_ address: IPAddress) async {
        if active[address, default: 0] < (oneAtATime.contains(address) ? 1 : limit) {
            active[address, default: 0] += 1
            return
        }
        await withCheckedContinuation { waiting[address, default: []].append($0) }
    }

    func release(_ address: IPAddress) {
        // A host served one at a time hands its slot on only when this was the last one in use.
        let mayPass = !oneAtATime.contains(address) || active[address, default: 1] <= 1
        if mayPass, var queue = waiting[address], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[address] = queue.isEmpty ? nil : queue
            next.resume()  // the slot passes straight to the next waiter
        } else {
            active[address, default: 1] -= 1
            if active[address] == 0 { active[address] = nil }
        }
    }
}

/// The arriving targets behind an actor, so the one task waiting for the next can hold the stream's iterator.
private actor TargetQueue {
    private var iterator: AsyncStream<ProbeTarget>.Iterator

    init(_ stream: AsyncStream<ProbeTarget>) {
        iterator = stream.makeAsyncIterator()
    }

    /// Only one caller waits at a time (the prober keeps one fetch outstanding), so the copy cannot race.
    func next() async -> ProbeTarget? {
        var local = iterator
        let target = await local.next(isolation: self)
        iterator = local
        return target
    }
}
