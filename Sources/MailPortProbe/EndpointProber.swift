#if canImport(Glibc)
import Glibc
#endif
import Logging
import MailPortCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// How the probes stage behaves.
public struct ProbeOptions: Sendable {
    public var connectTimeoutNanoseconds: UInt64
    public var limits: DialogLimits
    /// Pause before retrying a transient failure (a 421, a reset, a timeout).
    public var retryPauseNanoseconds: UInt64
    /// Dialogs at once in all (`--concurrency`, capped: each dialog holds a socket for seconds).
    public var concurrency: Int
    /// Dialogs at once with one address (`--per-host`): mail servers answer bursts with 421.
    public var perHost: Int
    /// The name sent with EHLO/HELO.
    public var ehloName: String
    /// Extra handshakes after a successful TLS dialog, each with a TLS layer limited to one protocol version: the
    /// versions the server accepts. Empty: no protocol probing.
    public var versionProbes: [HandshakeProbe]
    /// Extra handshakes, each offering only one class of weak ciphers (anonymous, NULL, no forward secrecy).
    public var cipherClassProbes: [HandshakeProbe]
    /// A lax TLS layer for a second try when the standard handshake fails, so a server that only a lax client
    /// reaches (TLS 1.0 only, a 1024-bit key, anonymous ciphers) still yields its facts. Nil: no second try.
    public var permissiveTLS: (any TLSUpgrader)?

    public init(connectTimeoutNanoseconds: UInt64 = 3_000_000_000, limits: DialogLimits = DialogLimits(),
                retryPauseNanoseconds: UInt64 = 2_000_000_000, concurrency: Int = 64, perHost: Int = 2,
                ehloName: String = "mailport.invalid", versionProbes: [HandshakeProbe] = [],
                cipherClassProbes: [HandshakeProbe] = [], permissiveTLS: (any TLSUpgrader)? = nil) {
        self.connectTimeoutNanoseconds = connectTimeoutNanoseconds
        self.limits = limits
        self.retryPauseNanoseconds = retryPauseNanoseconds
        self.concurrency = concurrency
        self.perHost = perHost
        self.ehloName = ehloName
        self.versionProbes = versionProbes
        self.cipherClassProbes = cipherClassProbes
        self.permissiveTLS = permissiveTLS
    }
}

/// One handshake of its own with a restricted TLS layer: a protocol version, or a class of ciphers.
public struct HandshakeProbe: Sendable {
    /// What is offered: a version's name as OpenSSL reports it ("TLSv1.2"), or a cipher class ("anonymous").
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

    public init(address: IPAddress, port: PortSpec, names: [String] = []) {
        self.address = address
        self.port = port
        self.names = names
    }
}

/// Stage 3: talks to every open endpoint like a mail client and records what it saw. Never judges.
public final class EndpointProber: Sendable {
    private let options: ProbeOptions
    private let tls: any TLSUpgrader
    private let group: any EventLoopGroup
    private let logger: Logger

    public init(options: ProbeOptions, tls: any TLSUpgrader = NoTLSLayer(), group: any EventLoopGroup, logger: Logger) {
        self.options = options
        self.tls = tls
        self.group = group
        self.logger = logger
    }

    /// Probes every target, at most `concurrency` at once and `perHost` per address. Implicit-TLS ports are
    /// skipped while no TLS layer is linked (their dialog happens inside TLS), so they get no observation.
    public func probeAll(_ targets: [ProbeTarget], shouldStop: @escaping @Sendable () -> Bool = { false },
                         onDone: @Sendable (Int) -> Void = { _ in }) async -> [ProbeTarget: DialogObservation]
    {
        let (stream, continuation) = AsyncStream.makeStream(of: ProbeTarget.self)
        for target in targets { continuation.yield(target) }
        continuation.finish()
        return await probeAll(arriving: stream, shouldStop: shouldStop, onDone: onDone)
    }

    /// Probes targets as they arrive (discovery hands over each open endpoint the moment it is found, so dialogs
    /// run while discovery is still sweeping), until the stream ends.
    public func probeAll(arriving targets: AsyncStream<ProbeTarget>, shouldStop: @escaping @Sendable () -> Bool = { false },
                         onDone: @Sendable (Int) -> Void = { _ in }) async -> [ProbeTarget: DialogObservation]
    {
        enum Event: Sendable {
            case arrived(ProbeTarget?)
            case probed(ProbeTarget, DialogObservation)
        }
        let gate = HostGate(limit: max(1, options.perHost))
        let queue = TargetQueue(targets)
        let skipImplicitTLS = tls is NoTLSLayer
        var results: [ProbeTarget: DialogObservation] = [:]
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
                    results[target] = observation
                    onDone(results.count)
                }
                fetch()
            }
        }
        return results
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
            await Self.$openConnections.withValue(connections) { await probeUninterrupted(target) }
        } onCancel: {
            connections.abortAll()
        }
        if Task.isCancelled {
            observation.complete = false
            observation.incompleteReason = "interrupted before the audit of this endpoint finished"
                + (observation.incompleteReason.map { " (\($0))" } ?? "")
        }
        return observation
    }

    /// The connections of the endpoint being probed on this task, for `probe`'s cancellation handler.
    @TaskLocal static var openConnections: OpenConnections?

    private func probeUninterrupted(_ target: ProbeTarget) async -> DialogObservation {
        var observation = await dialogWithRetry(target)
        if observation.tls == nil, let permissive = options.permissiveTLS, standardHandshakeFailed(observation, target),
           let facts = await handshakeFacts(target, using: permissive) {
            observation.tls = facts
            observation.tls?.legacyHandshake = true
        }
        if let negotiated = observation.tls?.negotiatedVersion {
            // The version the dialog's own handshake negotiated is accepted: no probe needed for it. That skips one
            // full, successful handshake (the server's costliest kind) per TLS endpoint.
            let known = observation.tls?.legacyHandshake == true ? nil : negotiated
            observation.tls?.versionsAccepted = await accepted(options.versionProbes, target, known: known)
            observation.tls?.cipherClassesProbed = options.cipherClassProbes.map(\.label)
            observation.tls?.cipherClassesAccepted = await accepted(options.cipherClassProbes, target)
        }
        if observation.starttls?.upgraded == true {
            observation.starttls?.injectionAnsweredInsideTLS = await injectionAnswered(target)
        }
        return observation
    }

    /// The STARTTLS injection check: STARTTLS and a NOOP in one segment, then the handshake; if the server answers
    /// the NOOP inside TLS, it executed plaintext it had buffered before TLS. Nil when the check could not run (the
    /// server would not start TLS this time) or gave no clear answer.
    ///
    /// To tell "not answered" from "not answered yet" without waiting out a timeout on every correct server, a
    /// marker command follows inside TLS whose reply cannot be mistaken for the NOOP's: for IMAP another tag
    /// (`mp8 NOOP` after the injected `mp7 NOOP`), for SMTP `HELP` (RFC 5321 allows 211, 214, 502, 504 for it, never
    /// the NOOP's 250). Whichever reply comes first decides. POP3 has no such pair (NOOP is an error before login,
    /// like an unknown command), so there a short wait, scaled to the handshake's own duration, decides.
    private func injectionAnswered(_ target: ProbeTarget) async -> Bool? {
        var limits = options.limits
        limits.readTimeoutNanoseconds = min(limits.readTimeoutNanoseconds, 1_000_000_000)
        guard let connection = try? await connect(target, limits: limits) else { return nil }
        let answered = await injectionAnswered(on: connection, target)
        await connection.close()
        return answered
    }

    private func injectionAnswered(on connection: ProbeConnection, _ target: ProbeTarget) async -> Bool? {
        guard await reachTLS(connection, service: target.port.service, ehloName: options.ehloName, pipelineNOOP: true)
        else { return nil }
        let started = NIODeadline.now()
        // A server that reads the leftover plaintext as TLS breaks the handshake: it did not execute the command.
        guard case .upgraded = await tls.upgrade(connection, names: target.names, service: target.port.service)
        else { return false }
        let handshake = UInt64(max(0, (NIODeadline.now() - started).nanoseconds))
        do throws(ReadFailure) {
            switch IdentifiedProtocol(target.port.service) {
            case .imap:
                guard (try? await connection.send("mp8 NOOP")) != nil else { return nil }
                for _ in 0..<options.limits.maxLinesPerReply {
                    let line = try await connection.readLine().text
                    if line.hasPrefix("mp7 ") { return true }
                    if line.hasPrefix("mp8 ") { return false }
                }
                return nil
            case .smtp:
                guard (try? await connection.send("HELP")) != nil else { return nil }
                let line = try await connection.readLine().text
                return line.hasPrefix("250")
            default:
                // A vulnerable server answers the buffered command as soon as TLS is up: within a few handshake times.
                _ = try await connection.readLine(timeoutNanoseconds: min(1_000_000_000, max(250_000_000, handshake * 4)))
                return true
            }
        } catch {
            // Silence, or a server that hangs up on pipelined input: the buffered command was not executed.
            switch error {
            case .timeout, .closed: return IdentifiedProtocol(target.port.service) == .pop3 ? false : nil
            case .dialogTimeout, .tooMuchData: return nil
            }
        }
    }

    /// The server agreed to TLS (STARTTLS accepted, or an implicit-TLS port that did not answer in plaintext) but
    /// the standard handshake did not complete.
    private func standardHandshakeFailed(_ observation: DialogObservation, _ target: ProbeTarget) -> Bool {
        if observation.starttls?.upgraded == false { return true }
        return target.port.service.expectedTransport == .implicitTLS && observation.tlsError != nil
            && [.none, .tls].contains(observation.identifiedAs)
    }

    /// A handshake of its own on a fresh connection (after the STARTTLS preamble where needed), returning its facts.
    private func handshakeFacts(_ target: ProbeTarget, using tls: any TLSUpgrader) async -> TLSObservation? {
        guard let connection = try? await connect(target) else { return nil }
        var facts: TLSObservation?
        if await reachTLS(connection, service: target.port.service, ehloName: options.ehloName),
           case .upgraded(let observed) = await tls.upgrade(connection, names: target.names, service: target.port.service) {
            facts = observed
        }
        await connection.close()
        return facts
    }

    /// One fresh connection per probe; a probe counts as accepted when its handshake completes. A probe whose label
    /// is `known` is accepted without asking (its answer is already on record).
    private func accepted(_ probes: [HandshakeProbe], _ target: ProbeTarget, known: String? = nil) async -> [String] {
        var accepted: [String] = []
        for probe in probes {
            if probe.label == known {
                accepted.append(probe.label)
            } else if await handshakeFacts(target, using: probe.tls) != nil {
                accepted.append(probe.label)
            }
        }
        return accepted
    }

    /// A new connection to the target with the configured connect timeout.
    ///
    /// Running out of descriptors or socket memory on this machine says nothing about the server: such a connect
    /// waits for other dialogs to give theirs back (with a growing pause, at most `localWaitNanoseconds` in all)
    /// and is tried again, and only then fails as `LocalResourceFailure`, never as the server's answer.
    private func connect(_ target: ProbeTarget, limits: DialogLimits? = nil) async throws -> ProbeConnection {
        var pause: UInt64 = 20_000_000
        var waited: UInt64 = 0
        while true {
            try Task.checkCancellation()
            do {
                let connection = try await ProbeConnection.connect(
                    to: target.address, port: target.port.port, group: group,
                    connectTimeout: .nanoseconds(Int64(options.connectTimeoutNanoseconds)), limits: limits ?? options.limits)
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

    private func dialogWithRetry(_ target: ProbeTarget) async -> DialogObservation {
        var attemptNumber = 1
        while true {
            var attempt = await dialogOnce(target)
            attempt.observation.attempts = attemptNumber
            // After an interrupt no retry starts: the endpoint is reported as far as it got.
            guard let transient = attempt.transientFailure, attemptNumber < 2, !Task.isCancelled else {
                logger.debug("dialog done", metadata: [
                    "probe.endpoint": "\(target.address):\(target.port.port)",
                    "probe.identified": "\(attempt.observation.identifiedAs.rawValue)",
                    "probe.complete": "\(attempt.observation.complete)",
                ])
                return attempt.observation
            }
            logger.debug("transient failure, retrying", metadata: [
                "probe.endpoint": "\(target.address):\(target.port.port)",
                // The reason may quote the server: escaped before it can reach a terminal.
                "probe.reason": "\(printable(transient))",
            ])
            attemptNumber += 1
            try? await Task.sleep(nanoseconds: options.retryPauseNanoseconds)
        }
    }

    private func dialogOnce(_ target: ProbeTarget) async -> DialogAttempt {
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
        let context = DialogContext(service: target.port.service, names: target.names,
                                    ehloName: options.ehloName, tls: tls)
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
                return implicitTLSFailure(error: error, serverSent: serverSent)
            case .timedOut:
                await connection.close()
                return implicitTLSFailure(error: "handshake timed out", serverSent: [])
            }
        }
        var attempt: DialogAttempt
        switch IdentifiedProtocol(target.port.service) {
        case .imap: attempt = await runDialog(connection, context: context, imapDialog)
        case .pop3: attempt = await runDialog(connection, context: context, pop3Dialog)
        default: attempt = await runDialog(connection, context: context, smtpDialog)
        }
        attempt.observation.tls = attempt.observation.tls ?? implicitTLS
        await connection.close()
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
                attempt.observation.transcript = [TranscriptLine(.server, String(first.text.prefix(options.limits.maxTranscriptLineLength)))]
            }
        }
        return attempt
    }
}

/// Every connection one endpoint's probes opened, so that an interrupt can close them all at once. A connection
/// that arrives after the interrupt is refused (and closed by the caller).
final class OpenConnections: Sendable {
    private let state = NIOLockedValueBox<(aborted: Bool, connections: [ProbeConnection])>((false, []))

    /// Records `connection`; false when the probes were interrupted already.
    func add(_ connection: ProbeConnection) -> Bool {
        state.withLockedValue { state in
            guard !state.aborted else { return false }
            // At most a dozen per endpoint, released with the endpoint's probe: nothing to prune.
            state.connections.append(connection)
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
    private var active: [IPAddress: Int] = [:]
    private var waiting: [IPAddress: [CheckedContinuation<Void, Never>]] = [:]

    init(limit: Int) {
        self.limit = limit
    }

    func acquire(_ address: IPAddress) async {
        if active[address, default: 0] < limit {
            active[address, default: 0] += 1
            return
        }
        await withCheckedContinuation { waiting[address, default: []].append($0) }
    }

    func release(_ address: IPAddress) {
        if var queue = waiting[address], !queue.isEmpty {
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
