import CMailPortSystem
import Logging
import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// How SYN discovery sends and listens.
public struct SynOptions: Sendable {
    /// SYN packets per second (a token bucket; batches of up to 256 per sendmmsg); with `adaptiveRate`, where the
    /// rate starts.
    public var rate: Double
    /// Follow the answers from `rate` up to `rateCeiling` (SynRateControl); false keeps `rate` (`--rate` given).
    public var adaptiveRate: Bool
    public var rateCeiling: Double
    /// Extra passes over the probes that got no answer (the contract: one).
    public var retries: Int
    /// How long to keep listening after the last packet of a pass, at most (`--timeout`). With `adaptiveCooldown`
    /// the wait follows the answers' round-trip times below it, as connect discovery's timeout does.
    public var cooldownNanoseconds: UInt64
    public var adaptiveCooldown: Bool
    /// The adapted wait's floor: a retry's timeout at connect discovery's floor (2 × 100 ms), as the last pass's
    /// packets are retries.
    public var minimumCooldownNanoseconds: UInt64
    /// Capture on this interface and send from its address (default: the source the routing table picks, capture
    /// on every interface).
    public var interface: String?
    public var sourceIP: IPAddress?

    public init(
        rate: Double, adaptiveRate: Bool = false, rateCeiling: Double = 1_000_000, retries: Int = 1,
        cooldownNanoseconds: UInt64 = 1_000_000_000, adaptiveCooldown: Bool = true,
        minimumCooldownNanoseconds: UInt64 = 200_000_000, interface: String? = nil, sourceIP: IPAddress? = nil
    ) {
        self.rate = rate
        self.adaptiveRate = adaptiveRate
        self.rateCeiling = rateCeiling
        self.retries = retries
        self.cooldownNanoseconds = cooldownNanoseconds
        self.adaptiveCooldown = adaptiveCooldown
        self.minimumCooldownNanoseconds = min(minimumCooldownNanoseconds, cooldownNanoseconds)
        self.interface = interface
        self.sourceIP = sourceIP
    }
}

/// Stateless layer-4 discovery with raw SYN packets, as masscan and zmap do it: the probe's sequence number is a
/// keyed hash of where it went (`SynCookie`), replies are read with libpcap and matched by their acknowledgement
/// number, so nothing is stored per probe in flight. A SYN-ACK is open (and answered with a RST so the target frees
/// its half-open connection), a RST is closed, an ICMP unreachable quoting our SYN is filtered with its reason.
/// Probes without an answer get one more pass (started as soon as the first ends: it reaches the last probes of the
/// first pass last); after it and a cool-down, what never answered is filtered (no response). Each SYN's sequence
/// number carries its tick, so answers give round-trip times, and the cool-down follows them below `--timeout`
/// (RFC 6298's estimator, as connect discovery's timeout). Without `--rate` the rate follows the answers too
/// (SynRateControl).
/// Memory grows with the answers (and four bytes per tick of the first pass), not with the address space.
public final class SynScanner: Sendable {
    private let options: SynOptions
    private let logger: Logger

    public init(options: SynOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Fails (exit 2) when `--source-ip` is not an address of this machine: checked before the first packet.
    public static func checkSourceIP(_ sourceIP: IPAddress?) throws(MailPortError) {
        if let sourceIP { _ = try SynRoute.owner(ofSourceIP: sourceIP) }
    }

    /// Fails with `.scanFailed` (exit 3) when raw sockets are not allowed: --syn never falls back silently.
    public static func checkPrivileges() throws(MailPortError) {
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_TCP))
        if fd < 0 {
            if errno == EPERM || errno == EACCES {
                throw .scanFailed(
                    "--syn needs root or the CAP_NET_RAW capability (raw sockets and packet capture); run as root, grant it with `setcap cap_net_raw+ep mailport`, or scan without --syn"
                )
            }
            throw .scanFailed("--syn cannot open a raw socket: \(errnoText())")
        }
        close(fd)
    }

    /// Probes everything `probes` yields (it is walked once per pass, so it must yield the same probes each time)
    /// and reports each final state to `onObservation`.
    public func run<Probes: Sequence>(
        probes: Probes,
        planned: UInt64,
        shouldStop: () -> Bool = { false },
        onProgress: (DiscoveryProgress) -> Void = { _ in },
        onObservation: (PortObservation) -> Void
    ) throws(MailPortError) -> (DiscoveryEnd, DiscoveryProgress) where Probes.Element == Probe {
        try Self.checkPrivileges()
        return try withoutActuallyEscaping(onObservation) { (onObservation) throws(MailPortError) in
            try withoutActuallyEscaping(onProgress) { (onProgress) throws(MailPortError) in
                var state = try SynRun(
                    options: options, logger: logger, planned: planned,
                    onObservation: onObservation, onProgress: onProgress)
                defer { state.closeSenders() }
                let end = try state.run(probes, shouldStop: shouldStop)
                let final = state.progress()
                onProgress(final)
                return (end, final)
            }
        }
    }
}

/// Where a reply came from: the probe it answers.
private struct AnswerKey: Hashable {
    var address: IPAddress
    var port: UInt16
}

/// One family's sending side: a raw socket bound to the source address.
private struct Sender {
    var source: IPAddress
    var descriptor: Int32
}

/// The state of one SYN run, kept together so `run` reads as the algorithm.
private struct SynRun {
    let options: SynOptions
    let logger: Logger
    let onObservation: (PortObservation) -> Void
    let onProgress: (DiscoveryProgress) -> Void
    let cookie = SynCookie()
    /// Outside Linux's ephemeral range (32768–60999), so no connection of this host's own shares it.
    let sourcePort = UInt16.random(in: 61_000...65_000)
    let capture: PacketCapture
    var senders: [IPAddress.Family: Sender] = [:]
    var answered: Set<AnswerKey> = []
    var ports: [UInt16: PortSpec] = [:]
    var bucket: TokenBucket
    var rateControl: SynRateControl
    var lastDropCheck: UInt64 = 0
    var counters = DiscoveryProgress()
    let startedAt = monotonicNanoseconds()
    var lastProgress: UInt64 = 0
    var pass = 1
    /// Packets waiting for the next sendmmsg, all of one family.
    var batch:
        [(destination: IPAddress, port: UInt16, flags: SynPackets.TCPFlags, sequence: UInt32, acknowledgement: UInt32)] =
            []
    var sent: UInt64 = 0
    var duplicates: UInt64 = 0
    var sendErrors: UInt64 = 0
    /// The round-trip times of the answers, and from them the cool-down.
    var roundTrips: AdaptiveTimeout
    /// A tick is a run of consecutive probes in the walk's order, the same in every pass, so a retry carries the
    /// first attempt's sequence number: a target whose SYN-ACK was lost holds the connection half-open and answers
    /// a SYN with the same sequence number with its SYN-ACK again, but one with another (Linux) with a bare ACK,
    /// which says nothing of the port. The first pass starts a tick every `tickNanoseconds` (whatever the rate,
    /// which may change) and writes down how many probes each held (`tickSizes`); later passes walk that table.
    /// 256 ticks span twice the longest cool-down, so an answer is never timed against a later use of its tick.
    let tickNanoseconds: UInt64
    var tickSizes: [UInt32] = []
    /// When each tick's first SYN of the latest pass that sent one left, and of the use of its eight bits before.
    var tickSentAt = [UInt64](repeating: 0, count: 256)
    var tickSentBefore = [UInt64](repeating: 0, count: 256)

    init(
        options: SynOptions, logger: Logger, planned: UInt64, onObservation: @escaping (PortObservation) -> Void,
        onProgress: @escaping (DiscoveryProgress) -> Void
    ) throws(MailPortError) {
        self.options = options
        self.logger = logger
        self.onObservation = onObservation
        self.onProgress = onProgress
        // Every interface unless one was named: a /8 can span several routes, and loopback targets come back on lo.
        capture = try PacketCapture(interface: options.interface ?? "any", sourcePort: sourcePort)
        let now = monotonicNanoseconds()
        bucket = TokenBucket(rate: options.rate, now: now)
        rateControl = SynRateControl(
            rate: options.rate, adaptive: options.adaptiveRate, ceiling: options.rateCeiling, now: now)
        counters.planned = planned
        roundTrips = AdaptiveTimeout(
            floorNanoseconds: options.minimumCooldownNanoseconds / 2, ceilingNanoseconds: options.cooldownNanoseconds,
            enabled: options.adaptiveCooldown)
        tickNanoseconds = max(1_000, 2 * options.cooldownNanoseconds / 256)
    }

    /// How long to listen after a pass's last packet: twice the adapted timeout (a retry's, as in connect
    /// discovery), within `--timeout`; all of `--timeout` until the first answer.
    var cooldownNanoseconds: UInt64 { min(options.cooldownNanoseconds, 2 * roundTrips.current) }

    /// The time an answer took since its tick's first SYN left (at most a tick's sending time too long), or nil
    /// when that cannot be told: when the tick's eight bits were also used within twice `--timeout` before (the
    /// retry pass goes through ticks faster than the first, which sent them at a rate that may have grown since,
    /// and skips what was answered), the answer may be to either use. An answer to the first pass's SYN that comes
    /// after the retry pass sent its tick again is timed from the retry (too short): rare, and the estimator's
    /// deviation term absorbs it.
    func roundTrip(since tick: UInt8) -> UInt64? {
        let sent = tickSentAt[Int(tick)]
        let before = tickSentBefore[Int(tick)]
        let now = monotonicNanoseconds()
        let window = 2 * options.cooldownNanoseconds
        guard sent > 0, now >= sent, now - sent <= window, before == 0 || now &- before > window else { return nil }
        return now - sent
    }

    /// The first pass and its retries.
    var passes: Int { 1 + max(0, options.retries) }

    /// The raw sockets live as long as the run.
    mutating func closeSenders() {
        for sender in senders.values { close(sender.descriptor) }
        senders.removeAll()
    }

    mutating func run<Probes: Sequence>(_ probes: Probes, shouldStop: () -> Bool) throws(MailPortError) -> DiscoveryEnd
    where Probes.Element == Probe {
        for round in 1...passes {
            pass = round
            let passStart = monotonicNanoseconds()
            var stampedTick: UInt64?
            // The first pass: the tick in progress, its start and its probes so far. Later passes: where the walk
            // is in `tickSizes`.
            var tick: UInt64 = 0
            var tickStartedAt: UInt64 = 0
            var inTick: UInt32 = 0
            for probe in probes {
                if shouldStop() { return .interrupted }
                let key = AnswerKey(address: probe.address, port: probe.port.port)
                if round == 1 {
                    ports[probe.port.port] = probe.port
                    try waitForToken()
                    let now = monotonicNanoseconds()
                    if inTick > 0, now &- tickStartedAt >= tickNanoseconds || inTick == UInt32.max {
                        tickSizes.append(inTick)
                        tick += 1
                        inTick = 0
                    }
                    if inTick == 0 { tickStartedAt = now }
                    inTick += 1
                    rateControl.sent(tick: tick, now: now)
                } else {
                    // The tick this probe had in the first pass (every tick there held at least one probe).
                    if inTick == 0, Int(tick) < tickSizes.count { inTick = tickSizes[Int(tick)] }
                    let thisTick = tick
                    if inTick > 0 {
                        inTick -= 1
                        if inTick == 0 { tick += 1 }
                    }
                    if answered.contains(key) { continue }
                    counters.retried += 1
                    try waitForToken()
                    try enqueueSYN(probe, tick: thisTick, firstOfTick: stampedTick != thisTick)
                    stampedTick = thisTick
                    continue
                }
                try enqueueSYN(probe, tick: tick, firstOfTick: stampedTick != tick)
                stampedTick = tick
            }
            if round == 1 {
                if inTick > 0 { tickSizes.append(inTick) }
                // The retries have no usual share to be judged by: the rate stays, but for local signs.
                adjust(rateControl.freeze())
            }
            try flush()
            // The retry pass walks the same order (at the first pass's last rate, or its cap after loss), so each
            // probe's two attempts are about a pass apart: it starts as soon as that gap is at least the cool-down (at
            // once, on any scan of more than a second).
            // Only the last pass waits out a cool-down after its end.
            // The wait follows the answers as they come (it shortens as round-trip times settle).
            let from = round == passes ? monotonicNanoseconds() : passStart
            while monotonicNanoseconds() < from + cooldownNanoseconds {
                if shouldStop() { return .interrupted }
                let until = from + cooldownNanoseconds
                receive(waitingNanoseconds: min(50_000_000, until - min(until, monotonicNanoseconds())))
                try flush()  // RSTs for late SYN-ACKs
            }
            // What arrived while this thread was last descheduled is read before the pass's silence is judged.
            receive(waitingNanoseconds: 0)
            try flush()
        }
        // What never answered, after every pass: filtered, no response.
        for probe in probes where !answered.contains(AnswerKey(address: probe.address, port: probe.port.port)) {
            if shouldStop() { return .interrupted }
            counters.done += 1
            counters.filtered += 1
            onObservation(
                PortObservation(
                    probe: probe, state: .filtered, reason: .noResponse, roundTripNanoseconds: nil,
                    attempts: passes))
        }
        let drops = capture.kernelDrops
        logger.info(
            "syn discovery done",
            metadata: [
                "syn.rate": "\(Int(rateControl.rate))", "syn.highestRate": "\(Int(rateControl.highestRate))",
                "syn.rateCut": "\(rateControl.lastTrouble?.rawValue ?? "never")",
                "syn.sent": "\(sent)", "syn.answers": "\(answered.count)", "syn.duplicates": "\(duplicates)",
                "syn.cooldownMs": "\(cooldownNanoseconds / 1_000_000)",
                "syn.captureDrops": "\(drops)", "syn.sendErrors": "\(sendErrors)", "syn.sourcePort": "\(sourcePort)",
            ])
        if drops > 0 {
            logger.notice(
                "the capture buffer overflowed; answers were lost (lower --rate)",
                metadata: ["syn.captureDrops": "\(drops)"])
        }
        return .finished
    }

    /// Applies a change of the adaptive rate to the token bucket.
    mutating func adjust(_ change: SynRateControl.Change?) {
        guard let change else { return }
        bucket.setRate(rateControl.rate, now: monotonicNanoseconds())
        logger.debug(
            "syn rate changed",
            metadata: [
                "syn.rate": "\(Int(rateControl.rate))", "syn.change": "\(change)",
                "syn.lossEstimate": "\(rateControl.lossEstimate.map { Int($0) } ?? 0)",
                "syn.lossEvidence": "\(rateControl.lossEvidence)",
            ])
    }

    func progress() -> DiscoveryProgress {
        var snapshot = counters
        snapshot.elapsed = Double(monotonicNanoseconds() - startedAt) / 1e9
        snapshot.currentTimeoutMs = Double(cooldownNanoseconds) / 1e6
        snapshot.sendRate = rateControl.rate
        snapshot.highestSendRate = rateControl.highestRate
        return snapshot
    }

    // MARK: sending

    mutating func sender(for address: IPAddress) throws(MailPortError) -> Sender {
        if let existing = senders[address.family] { return existing }
        let route = try SynRoute.find(
            for: address, interface: options.interface,
            sourceIP: options.sourceIP?.family == address.family ? options.sourceIP : nil)
        let family = address.family == .v4 ? AF_INET : AF_INET6
        let fd = socket(
            family, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
            Int32(IPPROTO_TCP))
        guard fd >= 0 else {
            throw .scanFailed("--syn cannot open a raw \(address.family.rawValue) socket: \(errnoText())")
        }
        guard route.source.withSocketAddress(port: 0, { bind(fd, $0, $1) }) == 0 else {
            close(fd)
            throw .scanFailed("--syn cannot send from \(route.source): \(errnoText())")
        }
        // This socket only sends; the kernel would queue every TCP packet of the host on it otherwise.
        var small: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var large: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &large, socklen_t(MemoryLayout<Int32>.size))
        let sender = Sender(source: route.source, descriptor: fd)
        senders[address.family] = sender
        logger.info(
            "syn source chosen",
            metadata: [
                "syn.family": "\(address.family.rawValue)", "syn.source": "\(route.source)",
                "syn.interface": "\(options.interface ?? "any (capture)")", "syn.routeInterface": "\(route.interface)",
            ])
        return sender
    }

    /// Waits for the rate's next token, reading answers meanwhile, and takes it.
    mutating func waitForToken() throws(MailPortError) {
        bucket.refill(now: monotonicNanoseconds())
        while bucket.available(limit: 1) < 1 {
            try flush()
            receive(waitingNanoseconds: bucket.nanosecondsUntilNext)
            bucket.refill(now: monotonicNanoseconds())
        }
        bucket.take()
    }

    /// Queues a SYN whose token was taken. `firstOfTick`: the pass's first SYN of `tick`, whose time answers of the
    /// tick are timed from.
    mutating func enqueueSYN(_ probe: Probe, tick absoluteTick: UInt64, firstOfTick: Bool) throws(MailPortError) {
        let tick = UInt8(truncatingIfNeeded: absoluteTick)
        if firstOfTick {
            tickSentBefore[Int(tick)] = tickSentAt[Int(tick)]
            tickSentAt[Int(tick)] = monotonicNanoseconds()
        }
        let sequence = cookie.sequence(for: probe.address, port: probe.port.port, sourcePort: sourcePort, tick: tick)
        try enqueue(to: probe.address, port: probe.port.port, flags: .syn, sequence: sequence, acknowledgement: 0)
        if batch.count >= 256 {
            try flush()
            receive(waitingNanoseconds: 0)
        }
    }

    mutating func enqueue(
        to destination: IPAddress, port: UInt16, flags: SynPackets.TCPFlags, sequence: UInt32,
        acknowledgement: UInt32
    ) throws(MailPortError) {
        if let family = batch.first?.destination.family, family != destination.family { try flush() }
        batch.append((destination, port, flags, sequence, acknowledgement))
    }

    /// Sends the waiting batch with sendmmsg; a full send buffer (ENOBUFS, EAGAIN) waits and tries again.
    mutating func flush() throws(MailPortError) {
        guard let first = batch.first else { return }
        // Taken out first: answers read while waiting below may queue RSTs into the next batch.
        let waiting = batch
        batch.removeAll(keepingCapacity: true)
        let sender = try sender(for: first.destination)
        // Segments and destinations side by side in two flat buffers, 24 and 28 bytes a slot.
        let segmentStride = 24
        let addressStride = MemoryLayout<sockaddr_in6>.size
        var segments = [UInt8](repeating: 0, count: segmentStride * waiting.count)
        var addresses = [UInt8](repeating: 0, count: addressStride * waiting.count)
        var segmentLengths: [Int] = []
        var addressLengths: [socklen_t] = []
        for (index, packet) in waiting.enumerated() {
            let segment = SynPackets.segment(
                from: sender.source, sourcePort, to: packet.destination, packet.port,
                sequence: packet.sequence, acknowledgement: packet.acknowledgement,
                flags: packet.flags)
            segments.replaceSubrange((index * segmentStride)..<(index * segmentStride + segment.count), with: segment)
            segmentLengths.append(segment.count)
            addresses.withUnsafeMutableBytes { raw in
                addressLengths.append(
                    packet.destination.withSocketAddress(port: 0) { pointer, length in
                        raw.baseAddress!.advanced(by: index * addressStride).copyMemory(
                            from: pointer, byteCount: Int(length))
                        return length
                    })
            }
        }
        var offset = 0
        var stalls = 0
        while offset < waiting.count {
            let result: Int32 = segments.withUnsafeBytes { rawSegments in
                addresses.withUnsafeBytes { rawAddresses in
                    let packets = (offset..<waiting.count).map { index in
                        mailport_packet(
                            bytes: rawSegments.baseAddress!.advanced(by: index * segmentStride),
                            length: segmentLengths[index],
                            address: rawAddresses.baseAddress!.advanced(by: index * addressStride).assumingMemoryBound(
                                to: sockaddr.self),
                            address_length: addressLengths[index])
                    }
                    return mailport_send_batch(sender.descriptor, packets, UInt32(packets.count))
                }
            }
            if result > 0 {
                offset += Int(result)
                sent += UInt64(result)
                stalls = 0
                continue
            }
            if errno == ENOBUFS || errno == EAGAIN || errno == EINTR || errno == ENOMEM {
                stalls += 1
                if errno != EINTR { adjust(rateControl.sendQueueFull(now: monotonicNanoseconds())) }
                receive(waitingNanoseconds: 1_000_000)
                if stalls < 1000 { continue }
            }
            // Refused locally (e.g. an output firewall rule): the probe counts as sent, its answer never comes.
            sendErrors += 1
            if sendErrors == 1 {
                logger.notice("a SYN could not be sent", metadata: ["syn.error": "\(errnoText())"])
            }
            offset += 1
        }
    }

    // MARK: receiving

    /// Reads the answers waiting, after waiting up to `waitingNanoseconds` for the first.
    mutating func receive(waitingNanoseconds: UInt64) {
        if waitingNanoseconds > 0 {
            var poller = pollfd(fd: capture.descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, Int32(min(100, (waitingNanoseconds + 999_999) / 1_000_000)))
        }
        var replies: [SynPackets.Reply] = []
        let header = capture.linkHeader
        capture.drain { frame in
            if let reply = SynPackets.parse(frame, linkHeader: header) { replies.append(reply) }
        }
        for reply in replies { handle(reply) }
        let now = monotonicNanoseconds()
        adjust(rateControl.update(now: now, settle: cooldownNanoseconds))
        if now &- lastDropCheck >= 50_000_000, rateControl.adaptive {
            lastDropCheck = now
            adjust(rateControl.captureDrops(total: UInt64(capture.kernelDrops), now: now))
        }
        if now - lastProgress >= 250_000_000 {
            lastProgress = now
            onProgress(progress())
        }
    }

    mutating func handle(_ reply: SynPackets.Reply) {
        switch reply {
        case .tcp(let from, let port, let toPort, let flags, let sequence, let acknowledgement):
            guard toPort == sourcePort,
                let tick = cookie.tick(of: acknowledgement &- 1, for: from, port: port, sourcePort: sourcePort),
                let spec = ports[port]
            else { return }
            let state: PortState
            if flags.contains(.syn) && flags.contains(.ack) {
                state = .open
                // Free the target's half-open connection (the kernel, knowing no such socket, also answers with one).
                try? enqueue(
                    to: from, port: port, flags: .rst, sequence: acknowledgement, acknowledgement: sequence &+ 1)
            } else if flags.contains(.rst) {
                state = .closed
            } else {
                return
            }
            record(
                Probe(address: from, port: spec), state: state, reason: state == .open ? .synAck : .reset,
                roundTrip: roundTrip(since: tick), tick: tick)
        case .unreachable(let to, let port, let fromPort, let sequence, let reason):
            guard fromPort == sourcePort,
                let tick = cookie.tick(of: sequence, for: to, port: port, sourcePort: sourcePort),
                let spec = ports[port]
            else { return }
            // A router's answer: its time says nothing of the hosts' (connect discovery keeps none either), and its
            // count nothing of the path's loss (routers rate-limit their ICMP errors): the rate does not count it.
            record(Probe(address: to, port: spec), state: .filtered, reason: reason, roundTrip: nil, tick: nil)
        }
    }

    /// `tick`: the answer's tick when the rate counts it (a SYN-ACK or a reset).
    mutating func record(_ probe: Probe, state: PortState, reason: StateReason, roundTrip: UInt64?, tick: UInt8?) {
        guard answered.insert(AnswerKey(address: probe.address, port: probe.port.port)).inserted else {
            duplicates += 1
            return
        }
        if let tick { rateControl.answered(tick: tick) }
        if let roundTrip { roundTrips.record(roundTripNanoseconds: roundTrip) }
        counters.done += 1
        switch state {
        case .open: counters.open += 1
        case .closed: counters.closed += 1
        case .filtered: counters.filtered += 1
        }
        onObservation(
            PortObservation(
                probe: probe, state: state, reason: reason, roundTripNanoseconds: roundTrip, attempts: pass))
    }
}
