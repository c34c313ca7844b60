import CMailPortSystem
import DequeModule
import Logging
import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// Layer-4 discovery with ordinary TCP connects: thousands of non-blocking sockets driven by one epoll loop.
///
/// Why not SwiftNIO here (the deep probes use it): discovery opens and drops hundreds of thousands of sockets that
/// never carry a byte. A channel, pipeline and promise per probe cost more than the connect itself, and the timeouts
/// need one shared, adaptive clock rather than a scheduled task per socket. So this stage owns a plain epoll set,
/// a table of slots and two FIFO queues of deadlines; it allocates nothing per probe, and reuses each slot's socket
/// (see `Slot`). It runs on the calling thread.
public final class ConnectScanner: Sendable {
    private let options: DiscoveryOptions
    private let logger: Logger

    public init(options: DiscoveryOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Probes everything `probes` yields and reports each final state to `onObservation`, in completion order.
    ///
    /// - Parameters:
    ///   - planned: how many probes `probes` will yield (for progress only).
    ///   - shouldStop: polled every loop turn; when it returns true, sockets in flight are dropped and the run ends
    ///     as `.interrupted`.
    ///   - onProgress: called about four times a second and once at the end.
    /// - Throws: `MailPortError.scanFailed` when no socket can be opened at all.
    public func run<Probes: Sequence>(
        probes: Probes,
        planned: UInt64,
        shouldStop: () -> Bool = { false },
        onProgress: (DiscoveryProgress) -> Void = { _ in },
        onObservation: (PortObservation) -> Void
    ) throws(MailPortError) -> (DiscoveryEnd, DiscoveryProgress) where Probes.Element == Probe {
        let limit = FileDescriptorLimit.raise(toAtLeast: options.concurrency + FileDescriptorLimit.reserved)
        // `concurrency` is the window's ceiling; the window itself starts small and grows (ConnectWindow).
        var concurrency = max(1, options.concurrency)
        if concurrency + FileDescriptorLimit.reserved > limit {
            concurrency = max(1, limit - FileDescriptorLimit.reserved)
            logger.notice(
                "lowering concurrency to fit the open-file limit",
                metadata: ["scan.concurrency": "\(concurrency)", "scan.fdLimit": "\(limit)"]
            )
        }
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw .scanFailed("cannot create an epoll set: \(errnoText())") }
        defer { close(epollFD) }

        return try withoutActuallyEscaping(onObservation) { (onObservation) throws(MailPortError) in
            var loop = Loop(
                epollFD: epollFD, options: options, concurrency: concurrency, logger: logger, planned: planned,
                onObservation: onObservation
            )
            // Slots keep their sockets between probes; every way out of the run closes them.
            defer { loop.closeSockets() }
            var iterator = probes.makeIterator()
            var exhausted = false
            var lastProgress: UInt64 = 0
            var end = DiscoveryEnd.finished

            while true {
                if shouldStop() {
                    loop.abandonInFlight()
                    end = .interrupted
                    break
                }
                var now = monotonicNanoseconds()
                let turnStarted = now
                loop.expireTimeouts(now: now)
                loop.endRoundIfDue(now: now)
                loop.settleAwaitingVerdicts(now: now)
                try loop.launchAvailable(
                    now: now,
                    next: { () -> Probe? in
                        if exhausted { return nil }
                        if let probe = iterator.next() { return probe }
                        exhausted = true
                        return nil
                    })
                if loop.inFlight == 0 && exhausted && loop.backlog.isEmpty && loop.awaitingVerdict.isEmpty { break }
                let blocked = loop.waitForEvents(now: now)
                now = monotonicNanoseconds()
                // What this turn kept answers waiting: its busy time, not the time it slept in epoll_wait.
                loop.window?.noteLoopDelay(nanoseconds: (now - turnStarted) &- blocked)
                if now - lastProgress >= 250_000_000 {
                    lastProgress = now
                    onProgress(loop.progress(now: now))
                }
            }
            if loop.lateAnswers > 0 {
                logger.debug(
                    "discovery read answers after their timeout had passed (the scanner was behind; they count)",
                    metadata: ["scan.lateAnswers": "\(loop.lateAnswers)"])
            }
            if loop.extraAttempts > 0 {
                logger.debug(
                    "discovery retried probes sent during loss",
                    metadata: ["scan.extraAttempts": "\(loop.extraAttempts)"])
            }
            let final = loop.progress(now: monotonicNanoseconds())
            onProgress(final)
            return (end, final)
        }
    }
}

/// A probe waiting for a free slot: a retry after a timeout, or one pushed back when a resource ran out.
private struct PendingProbe {
    var probe: Probe
    var attempt: Int
    /// The window's round the first attempt went out in.
    var firstRound: UInt32 = 0
}

/// A probe out of attempts whose last one went out in a round not yet judged for loss (ConnectWindow's verdicts).
private struct AwaitingVerdict {
    var probe: Probe
    var attempt: Int
    var round: UInt32
    var firstRound: UInt32
    var since: UInt64
}

/// A probe's place in a deadline queue. Queues are FIFO by start time, so the head always expires first.
private struct Waiter {
    var slot: Int32
    var generation: UInt32
    var start: UInt64
}

/// One place for a probe in flight, and the socket it keeps between probes.
///
/// A socket is made once per slot and reused: after each probe it is disconnected (`connect` with `AF_UNSPEC`,
/// which resets an open connection as SO_LINGER 0 and close did) and connects again for the next probe of its
/// family; its epoll registration is re-armed (`EPOLLONESHOT`) rather than added and removed. Creating, closing and
/// registering a socket per probe was more than half of this thread's time on a /16 (close 32%, socket 18%,
/// epoll_ctl 7% of its samples).
///
/// The price, accepted: the kernel draws a secret-keyed initial sequence number only for a socket that never had
/// one; after a disconnect it continues from the last (+2, or + the peer's window after a handshake). A slot's
/// SYNs after a timeout or a reset therefore carry sequence numbers a few apart. Forging an "open" answer still
/// means guessing the kernel's source port for an unknown next target; the pattern can tell the scan apart.
/// The slots hold the most sockets the window ever had in flight until discovery ends, not fewer when it shrinks.
private struct Slot {
    /// The slot's socket (-1 before its first probe), and its address family.
    var fd: Int32 = -1
    var family: Int32 = 0
    /// Whether `fd` is in the epoll set (armed for this probe, or disarmed after its last event).
    var registered = false
    /// Whether a probe is in flight on this slot.
    var busy = false
    var generation: UInt32 = 0
    var probe = Probe(address: .v4(0), port: PortSpec.defaults[0])
    var attempt = 0
    var start: UInt64 = 0
    /// The window's cohort of a first attempt (nil for a retry).
    var cohort: UInt32?
    /// The window's round this attempt went out in, and the one the probe's first attempt went out in.
    var round: UInt32 = 0
    var firstRound: UInt32 = 0
}

/// The mutable state of one run, kept together so the run loop above reads as the algorithm.
private struct Loop {
    let epollFD: Int32
    let options: DiscoveryOptions
    /// Sockets in flight at most now: the window, or all slots when the window is switched off.
    var concurrency: Int { window?.size ?? fixedCeiling }
    var window: ConnectWindow?
    var fixedCeiling: Int
    let logger: Logger
    let onObservation: (PortObservation) -> Void

    var slots: [Slot]
    var freeSlots: [Int32]
    var firstAttempts = Deque<Waiter>()
    var retryAttempts = Deque<Waiter>()
    var backlog = Deque<PendingProbe>()
    var awaitingVerdict = Deque<AwaitingVerdict>()
    /// Attempts beyond `--retries` for probes sent during loss.
    var extraAttempts = 0
    /// Answers read after their attempt's timeout had passed: they arrived while this thread was not reading.
    var lateAnswers = 0
    var timeout: AdaptiveTimeout
    var counters = DiscoveryProgress()
    let startedAt = monotonicNanoseconds()
    var events: [epoll_event]
    var bucket: TokenBucket
    var warnedAboutResources = false
    var lastWindowLog: UInt64 = 0
    var loggedWindowSize = 0

    init(
        epollFD: Int32, options: DiscoveryOptions, concurrency: Int, logger: Logger, planned: UInt64,
        onObservation: @escaping (PortObservation) -> Void
    ) {
        self.epollFD = epollFD
        self.options = options
        fixedCeiling = concurrency
        if options.adaptiveWindow {
            window = ConnectWindow(
                ceiling: concurrency, timeoutFloorNanoseconds: options.minimumTimeoutNanoseconds,
                now: monotonicNanoseconds())
        }
        self.logger = logger
        self.onObservation = onObservation
        slots = Array(repeating: Slot(), count: concurrency)
        freeSlots = (0..<Int32(concurrency)).reversed()
        timeout = AdaptiveTimeout(
            floorNanoseconds: options.minimumTimeoutNanoseconds, ceilingNanoseconds: options.timeoutNanoseconds,
            enabled: options.adaptiveTimeout
        )
        events = Array(repeating: epoll_event(), count: 1024)
        bucket = TokenBucket(rate: options.rate, now: monotonicNanoseconds())
        counters.planned = planned
    }

    var inFlight: Int { slots.count - freeSlots.count }

    func progress(now: UInt64) -> DiscoveryProgress {
        var snapshot = counters
        snapshot.inFlight = inFlight
        snapshot.elapsed = Double(now - startedAt) / 1e9
        snapshot.currentTimeoutMs = Double(timeout.current) / 1e6
        snapshot.window = concurrency
        return snapshot
    }

    // MARK: the window

    mutating func endRoundIfDue(now: UInt64) {
        // Mutated in place: a copy of the window would copy its buffers on every round.
        guard let change = window?.tick(now: now), let current = window else { return }
        if case .shrank(let trouble) = change {
            logger.debug(
                "discovery window shrank",
                metadata: [
                    "scan.window": "\(current.size)", "scan.trouble": "\(trouble.rawValue)",
                    "scan.inFlight": "\(inFlight)", "scan.baselineRttMs": "\(Double(current.baselineRTT ?? 0) / 1e6)",
                ])
        } else if current.size == current.ceiling || now - lastWindowLog >= 1_000_000_000 {
            // Growth is logged at most once a second, and when the ceiling is reached.
            if current.size != loggedWindowSize {
                lastWindowLog = now
                loggedWindowSize = current.size
                logger.debug(
                    "discovery window grew",
                    metadata: [
                        "scan.window": "\(current.size)", "scan.ceiling": "\(current.ceiling)",
                        "scan.slowStart": "\(current.slowStart)",
                    ])
            }
        }
    }

    // MARK: launching

    mutating func launchAvailable(now: UInt64, next: () -> Probe?) throws(MailPortError) {
        bucket.refill(now: now)
        defer {
            let count = inFlight
            window?.note(inFlight: count)
        }
        while inFlight < concurrency && bucket.available(limit: 1) >= 1 {
            let pending: PendingProbe
            if let waiting = backlog.popFirst() {
                pending = waiting
            } else if let probe = next() {
                pending = PendingProbe(probe: probe, attempt: 1)
            } else {
                return
            }
            if !launch(pending, now: now) {
                // Out of descriptors or local ports: slow down to what the system gives, try again shortly.
                backlog.prepend(pending)
                guard inFlight > 0 else {
                    throw .scanFailed(
                        "cannot open a socket for \(pending.probe.address):\(pending.probe.port.port): \(errnoText())")
                }
                lowerConcurrency(to: inFlight)
                return
            }
            bucket.take()
        }
    }

    mutating func lowerConcurrency(to value: Int) {
        let lowered = max(1, value)
        guard lowered < concurrency else { return }
        if window != nil {
            window?.localError(inFlight: lowered)
        } else {
            fixedCeiling = lowered
        }
        if !warnedAboutResources {
            warnedAboutResources = true
            logger.warning(
                "out of file descriptors or local ports; continuing with fewer connections at once",
                metadata: ["scan.concurrency": "\(lowered)", "error": "\(errnoText())"]
            )
        }
    }

    /// Starts one connect. Returns false (errno set) when a local resource ran out and the probe must wait.
    mutating func launch(_ pending: PendingProbe, now: UInt64) -> Bool {
        // The round-trip time is measured from the connect itself (a launch pass takes milliseconds, and its start
        // would count them into the RTT the window judges); the timeout runs from the pass's start, as it always has.
        let launchedAt = monotonicNanoseconds()
        let probe = pending.probe
        let domain = probe.address.family == .v4 ? AF_INET : AF_INET6
        // The most recently freed slot first (a stack): its socket is the one most likely to exist already.
        let slot = freeSlots.removeLast()
        guard let fd = socket(forSlot: slot, domain: domain) else {
            let code = errno
            freeSlots.append(slot)
            errno = code
            if [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(code) { return false }
            finish(probe, state: .filtered, reason: .localError, rtt: nil, attempt: pending.attempt)
            return true
        }
        let result = withSocketAddress(of: probe) { connect(fd, $0, $1) }
        if result == 0 {
            // Loopback can complete the handshake inside connect().
            disconnect(slot: slot)
            freeSlots.append(slot)
            finish(
                probe, state: .open, reason: .synAck, rtt: monotonicNanoseconds() - launchedAt, attempt: pending.attempt
            )
            return true
        }
        let code = errno
        guard code == EINPROGRESS else {
            // A connect that failed at once leaves its socket in a state not worth reasoning about: a new one next.
            closeSocket(slot: slot)
            freeSlots.append(slot)
            if code == EADDRNOTAVAIL || code == EAGAIN {
                errno = code
                return false
            }
            let (state, reason) = classify(errorCode: code)
            finish(probe, state: state, reason: reason, rtt: nil, attempt: pending.attempt)
            return true
        }
        slots[Int(slot)].busy = true
        slots[Int(slot)].probe = probe
        slots[Int(slot)].attempt = pending.attempt
        slots[Int(slot)].start = launchedAt
        slots[Int(slot)].cohort = pending.attempt == 1 ? window?.launchedFirstAttempt() : nil
        slots[Int(slot)].round = window?.round ?? 0
        slots[Int(slot)].firstRound = pending.attempt == 1 ? slots[Int(slot)].round : pending.firstRound
        let generation = slots[Int(slot)].generation
        var event = epoll_event()
        // One event per probe: after it (or after a disconnect) the idle socket would report HUP forever.
        event.events = EPOLLOUT.rawValue | EPOLLONESHOT.rawValue
        event.data.u64 = UInt64(UInt32(bitPattern: slot)) | UInt64(generation) << 32
        let operation = slots[Int(slot)].registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD
        if epoll_ctl(epollFD, operation, fd, &event) != 0 {
            let code = errno
            release(slot: slot)
            closeSocket(slot: slot)
            errno = code
            return false
        }
        slots[Int(slot)].registered = true
        let waiter = Waiter(slot: slot, generation: generation, start: now)
        if pending.attempt == 1 { firstAttempts.append(waiter) } else { retryAttempts.append(waiter) }
        return true
    }

    // MARK: completing

    /// Waits for and handles socket events; returns the nanoseconds spent blocked in epoll_wait.
    mutating func waitForEvents(now: UInt64) -> UInt64 {
        var waitNanoseconds: UInt64 = 100_000_000
        if let deadline = nextDeadline() { waitNanoseconds = min(waitNanoseconds, deadline > now ? deadline - now : 0) }
        // A full window may grow at the round's end: wake for it rather than for the next timeout.
        if let window, inFlight >= concurrency {
            let roundEnd = window.roundEndsAt
            waitNanoseconds = min(waitNanoseconds, roundEnd > now ? roundEnd - now : 0)
        }
        if let head = awaitingVerdict.first {
            let giveUp = head.since + timeouts.retry
            waitNanoseconds = min(waitNanoseconds, giveUp > now ? giveUp - now : 0)
        }
        if bucket.nanosecondsUntilNext > 0, !(inFlight >= concurrency) {
            waitNanoseconds = min(waitNanoseconds, bucket.nanosecondsUntilNext)
        }
        // Round up so a deadline is not polled for in a busy loop.
        let waitMilliseconds = Int32(min(100, (waitNanoseconds + 999_999) / 1_000_000))
        let waitStarted = monotonicNanoseconds()
        let (count, completedAt) = handleEvents(waitMilliseconds: waitMilliseconds)
        if count == events.count { handleReadyEvents() }
        return completedAt - waitStarted
    }

    /// Handles every event already waiting, without blocking: as many epoll_waits as it takes to empty the ready list.
    mutating func handleReadyEvents() {
        while handleEvents(waitMilliseconds: 0).count == events.count {}
    }

    /// One epoll_wait of up to `waitMilliseconds`, and the completions it returned; returns their count and when
    /// the wait ended.
    mutating func handleEvents(waitMilliseconds: Int32) -> (count: Int, completedAt: UInt64) {
        let count = events.withUnsafeMutableBufferPointer {
            epoll_wait(epollFD, $0.baseAddress, Int32($0.count), waitMilliseconds)
        }
        let completedAt = monotonicNanoseconds()
        guard count > 0 else { return (0, completedAt) }
        for index in 0..<Int(count) {
            let data = events[index].data.u64
            let slot = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
            let generation = UInt32(truncatingIfNeeded: data >> 32)
            guard slots[Int(slot)].generation == generation, slots[Int(slot)].busy else { continue }
            complete(slot: slot, at: completedAt)
        }
        return (Int(count), completedAt)
    }

    mutating func complete(slot: Int32, at time: UInt64) {
        let entry = slots[Int(slot)]
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(entry.fd, SOL_SOCKET, SO_ERROR, &socketError, &length) != 0 { socketError = errno }
        let rtt = time - entry.start
        if rtt >= (entry.attempt == 1 ? timeouts.first : timeouts.retry) { lateAnswers += 1 }
        release(slot: slot)
        // An open port's connection is reset by the disconnect; a refused or unreachable one is already closed.
        disconnect(slot: slot)
        if socketError == 0 {
            timeout.record(roundTripNanoseconds: rtt)
            window?.answered(roundTripNanoseconds: rtt, cohort: entry.cohort)
            finish(entry.probe, state: .open, reason: .synAck, rtt: rtt, attempt: entry.attempt)
            return
        }
        let (state, reason) = classify(errorCode: socketError)
        if state == .closed {
            timeout.record(roundTripNanoseconds: rtt)
            window?.answered(roundTripNanoseconds: rtt, cohort: entry.cohort)
        } else if let cohort = entry.cohort {
            // An ICMP error is an answer too, though its timing says little about the path's queues.
            window?.ended(cohort: cohort, answered: true)
        }
        finish(entry.probe, state: state, reason: reason, rtt: state == .closed ? rtt : nil, attempt: entry.attempt)
    }

    /// Timeouts in force: first attempts follow the adaptive value, retries twice its estimate (AdaptiveTimeout).
    var timeouts: (first: UInt64, retry: UInt64) { (timeout.current, timeout.retry) }

    mutating func expireTimeouts(now: UInt64) {
        if let deadline = nextDeadline(), deadline <= now {
            // Answers that came in time but wait unread (this thread was descheduled, or more arrived than one
            // epoll_wait returns) are taken before anything is called unanswered.
            handleReadyEvents()
        }
        let limits = timeouts
        for isRetry in [false, true] {
            while let head = firstLiveWaiter(retry: isRetry),
                now - head.start >= (isRetry ? limits.retry : limits.first)
            {
                if isRetry { retryAttempts.removeFirst() } else { firstAttempts.removeFirst() }
                let entry = slots[Int(head.slot)]
                release(slot: head.slot)
                // No SYN retransmission, and a SYN-ACK that comes now meets no socket (the kernel resets it).
                disconnect(slot: head.slot)
                if let cohort = entry.cohort { window?.ended(cohort: cohort, answered: false) }
                if entry.attempt <= options.retries {
                    counters.retried += 1
                    backlog.append(
                        PendingProbe(probe: entry.probe, attempt: entry.attempt + 1, firstRound: entry.firstRound))
                } else if window?.lossSeen == true,
                    entry.attempt <= options.retries + ConnectWindow.extraAttemptsUnderLoss
                {
                    // Only once loss has been seen: a clean scan's last probes do not wait for verdicts that would
                    // all be clean (on a /24 that wait was a tenth of the run).
                    awaitingVerdict.append(
                        AwaitingVerdict(
                            probe: entry.probe, attempt: entry.attempt, round: entry.round,
                            firstRound: entry.firstRound,
                            since: now))
                } else {
                    finish(entry.probe, state: .filtered, reason: .noResponse, rtt: nil, attempt: entry.attempt)
                }
            }
        }
    }

    /// Probes out of attempts get another when their first and last went out in lossy rounds, and end unanswered
    /// otherwise.
    /// A verdict that takes longer than a retry's timeout (too few probes launched since to judge) is taken from
    /// the newest final one.
    mutating func settleAwaitingVerdicts(now: UInt64) {
        let patience = timeouts.retry
        while let head = awaitingVerdict.first {
            var lossy = window?.lossVerdict(round: head.round)
            if lossy == nil {
                if now - head.since < patience { return }
                // Too few new probes since to judge its round: the network as last judged.
                lossy = window?.latestVerdict
            }
            awaitingVerdict.removeFirst()
            // A first attempt that went out in a clean round most likely arrived, and its port stayed silent: only a
            // probe whose first attempt also met loss gets more.
            if lossy == true, window?.lossVerdict(round: head.firstRound) ?? true {
                counters.retried += 1
                extraAttempts += 1
                backlog.append(
                    PendingProbe(probe: head.probe, attempt: head.attempt + 1, firstRound: head.firstRound))
            } else {
                finish(head.probe, state: .filtered, reason: .noResponse, rtt: nil, attempt: head.attempt)
            }
        }
    }

    /// The oldest waiter of a queue whose socket is still in flight; answered ones are dropped on the way.
    mutating func firstLiveWaiter(retry: Bool) -> Waiter? {
        while let head = retry ? retryAttempts.first : firstAttempts.first {
            let entry = slots[Int(head.slot)]
            if entry.generation == head.generation && entry.busy { return head }
            if retry { retryAttempts.removeFirst() } else { firstAttempts.removeFirst() }
        }
        return nil
    }

    mutating func nextDeadline() -> UInt64? {
        let limits = timeouts
        let first = firstLiveWaiter(retry: false).map { $0.start + limits.first }
        let retry = firstLiveWaiter(retry: true).map { $0.start + limits.retry }
        return [first, retry].compactMap { $0 }.min()
    }

    /// Ends a slot's probe; its socket stays with it (disconnect or close it as well).
    mutating func release(slot: Int32) {
        slots[Int(slot)].busy = false
        slots[Int(slot)].generation &+= 1
        freeSlots.append(slot)
    }

    /// The slot's socket for a probe of `domain`: its own when it has one of that family, else a new one (nil with
    /// errno set when none can be made).
    mutating func socket(forSlot slot: Int32, domain: Int32) -> Int32? {
        if slots[Int(slot)].fd >= 0 {
            if slots[Int(slot)].family == domain { return slots[Int(slot)].fd }
            closeSocket(slot: slot)
        }
        let fd = Glibc.socket(
            domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        counters.socketsMade += 1
        slots[Int(slot)].fd = fd
        slots[Int(slot)].family = domain
        slots[Int(slot)].registered = false
        return fd
    }

    /// Disconnects the slot's socket for its next probe: a connection in progress is dropped (no retransmitted SYN;
    /// a late SYN-ACK finds no socket and is reset by the kernel), an established one is reset, the local port is
    /// released. The socket's pending error (ECONNRESET) is cleared by its next connect. A socket that cannot be
    /// disconnected is closed.
    mutating func disconnect(slot: Int32) {
        let fd = slots[Int(slot)].fd
        guard fd >= 0 else { return }
        var unspecified = sockaddr()
        unspecified.sa_family = sa_family_t(AF_UNSPEC)
        if connect(fd, &unspecified, socklen_t(MemoryLayout<sockaddr>.size)) != 0 { closeSocket(slot: slot) }
    }

    /// Closes the slot's socket (which also takes it out of the epoll set).
    mutating func closeSocket(slot: Int32) {
        guard slots[Int(slot)].fd >= 0 else { return }
        close(slots[Int(slot)].fd)
        slots[Int(slot)].fd = -1
        slots[Int(slot)].registered = false
    }

    /// Closes every slot's socket: the run is over.
    mutating func closeSockets() {
        for index in slots.indices { closeSocket(slot: Int32(index)) }
    }

    mutating func finish(_ probe: Probe, state: PortState, reason: StateReason, rtt: UInt64?, attempt: Int) {
        counters.done += 1
        switch state {
        case .open: counters.open += 1
        case .closed: counters.closed += 1
        case .filtered: counters.filtered += 1
        }
        onObservation(
            PortObservation(probe: probe, state: state, reason: reason, roundTripNanoseconds: rtt, attempts: attempt))
    }

    /// Closes every socket in flight without a verdict (the run was interrupted).
    mutating func abandonInFlight() {
        for index in slots.indices where slots[index].busy {
            release(slot: Int32(index))
        }
        closeSockets()
        backlog.removeAll()
        awaitingVerdict.removeAll()
    }
}

/// Maps a connect error to a port state. Refused means a host answered with RST; ICMP errors and timeouts mean
/// something in the path kept the answer away.
func classify(errorCode: Int32) -> (PortState, StateReason) {
    switch errorCode {
    case ECONNREFUSED: return (.closed, .reset)
    case EHOSTUNREACH, EHOSTDOWN: return (.filtered, .hostUnreachable)
    case ENETUNREACH, ENETDOWN: return (.filtered, .networkUnreachable)
    case EACCES, EPERM: return (.filtered, .adminProhibited)
    case ETIMEDOUT: return (.filtered, .noResponse)
    default: return (.filtered, .localError)
    }
}

/// Calls `body` with a sockaddr for the probe's address and port.
func withSocketAddress<Result>(of probe: Probe, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
    probe.address.withSocketAddress(port: probe.port.port, body)
}
