import DequeModule

/// How fast SYN discovery sends when no `--rate` was given: a rate that starts where the fixed default was
/// (20,000 packets/s), grows while the answers keep coming and falls on signs of loss, up to a ceiling. With `--rate`
/// the rate is fixed, as the user asked (masscan's and zmap's meaning of a rate).
///
/// Why: a SYN sweep's answers are its only evidence, and a path that cannot carry the rate (a rate-limiting firewall,
/// a policer upstream, a full queue) drops SYNs or their answers silently; each dropped answer is an open port that
/// the second pass must find again, or never finds. A fixed polite rate is slow on the large ranges that need it most.
///
/// - **Cohorts.** The first pass's probes are grouped by the tick they went out in (SynRun's ticks: at least
///   1/256 of twice `--timeout`); a SYN-ACK or reset names its tick in its acknowledgement number (ICMP errors
///   are not counted: routers rate-limit them, so their share says nothing of the path's loss). A tick is settled
///   once a later tick has begun and the cool-down has passed since its last SYN (what has not answered by then is
///   judged silent anyway).
/// - **The usual share.** The seeded random order spreads every subnet over the whole sweep, so the share of probes
///   that answer (SYN-ACK or RST) stays steady. The first settled ticks, at the starting rate, make the usual share
///   (at least `baselineAnswers` answers); later ticks are judged in groups big enough to tell loss from chance
///   (`groupExpectedAnswers`, or `groupSpan` of sending with at least `minimumExpectedAnswers` expected).
/// - **Loss.** A group short of the usual share by a tenth and by three standard deviations met loss. The deviation
///   counts chance in both: the group's answers (Poisson, variance E) and the usual share's own, which the expected
///   count E inherits (E²/answers behind the share); a usual share learnt from 50 answers is often a fifth off. The
///   rate falls to what the group's answers say got through (the rate it was sent at times its share of the usual),
///   less a tenth, at most by three quarters at once: a policer at L packets/s passes L of R, so the cut lands just
///   under L instead of halving blindly. A lossy group stays out of the usual share. A cut ends slow start; the next
///   loss cut waits for a group sent after it.
/// - **Growth.** A clean group sent after the last change, at (nearly) the whole rate, doubles the rate in slow start;
///   after a cut it adds a sixteenth, once per `growthSpacing`; once loss has struck twice near the same estimate of
///   what gets through (a limit met again), once per `plateauSpacing` at or above nine tenths of it (the limit is
///   likely still there; beyond it, it moved). One cut alone (chance, passing loss) costs no seconds of slow growth.
///   A rate the sender does not reach (a busy machine) is not raised: nothing was learnt about a higher one. Where
///   answers are too sparse to judge a group within a second (dark space, or none back yet), slow start doubles on
///   the clock, once per `growthSpacing`; where they come, it waits for the usual share and then for evidence, so
///   the usual share is learnt at the starting rate.
/// - **Local signs**: the capture's kernel buffer dropping answers (pcap's drop count rose) halves the rate; the raw
///   socket's send queue full (ENOBUFS, EAGAIN) takes it to three quarters. Either ends slow start,
///   at most once per `growthSpacing`.
///
/// The second pass (the retries) has no usual share to judge by, since nearly all it sends went unanswered once: it
/// keeps the first pass's last rate, after a loss at most nine tenths of the higher of its estimate and the fastest
/// rate judged clean since, and still yields to local signs.
struct SynRateControl {
    /// Why the rate last changed (for the debug log and the tests).
    enum Change: Equatable {
        case grew
        case cut(Trouble)
    }

    enum Trouble: String, Equatable {
        case loss
        case captureDrops = "capture-drops"
        case sendQueueFull = "send-queue-full"
    }

    static let minimumRate = 100.0
    /// Answers over the first settled ticks before their share is trusted as the usual one.
    static let baselineAnswers = 50
    /// A group is judged once it should have had this many answers, or once it spans `groupSpan` of sending and
    /// should have had `minimumExpectedAnswers`.
    static let groupExpectedAnswers = 1_000.0
    static let minimumExpectedAnswers = 20.0
    static let groupSpan: UInt64 = 100_000_000
    /// Loss: short of the usual by this share and by `lossDeviations` standard deviations.
    static let lossShortfall = 0.1
    static let lossDeviations = 3.0
    /// A group counts as sent at the whole rate when it went out at this share of it or more.
    static let usedShare = 0.8
    static let growthSpacing: UInt64 = 200_000_000
    static let plateauSpacing: UInt64 = 1_000_000_000
    static let plateauShare = 0.9
    /// Cohorts kept waiting to settle; a longer wait than this many ticks is not judged.
    static let cohortCapacity = 4_096

    let adaptive: Bool
    let ceiling: Double
    private(set) var rate: Double
    private(set) var slowStart = true
    private(set) var highestRate: Double
    private(set) var lastTrouble: Trouble?
    /// What the last loss said gets through (packets/s), the plateau growth slows near.
    private(set) var lossEstimate: Double?
    /// Whether the last loss struck near the one before (a limit met again): only then does growth near it slow
    /// down, so one cut from chance or passing loss costs no seconds of slow growth.
    private var lossRepeated = false
    /// The highest rate a group sent after the last cut went out at and was judged clean, short by less than half
    /// the loss threshold: the retries go no faster than nine tenths of the last loss's estimate, or of this if it
    /// is higher (the estimate may be old).
    private var cleanRateSinceCut = 0.0
    /// The group that showed the last loss (for the debug log).
    private(set) var lossEvidence = ""
    /// Whether judging and growth are over (the first pass ended): only local signs count after.
    private(set) var frozen = false

    /// The probes of one tick, or of settled ticks judged together (a group: its first tick's number).
    private struct Cohort {
        var tick: UInt64
        var sent = 0
        var answered = 0
        var firstSentAt: UInt64
        var lastSentAt: UInt64
    }
    private var cohorts = Deque<Cohort>()
    private var usualSent = 0
    private var usualAnswered = 0
    /// Every first-pass SYN and first answer counted so far, settled or not.
    private var sentEver = 0
    private var answeredEver = 0
    private var firstSentAt: UInt64?
    /// Settled ticks waiting to be judged together (too few answers expected between them so far).
    private var group: Cohort?
    /// When the rate last changed: evidence for the next change must have been sent after it.
    private var lastChangeAt: UInt64
    /// When the rate was last cut: a loss cut needs a group sent after the one before, local signs a pause.
    private var lastCutAt: UInt64 = 0
    private var lastCaptureDrops: UInt64 = 0

    init(rate: Double, adaptive: Bool, ceiling: Double, now: UInt64) {
        self.adaptive = adaptive
        self.ceiling = adaptive ? max(rate, ceiling) : rate
        self.rate = rate
        highestRate = rate
        lastChangeAt = now
    }

    // MARK: events

    /// `count` first-pass SYNs of tick `tick` (counted from the run's start, never wrapping) left at `now`.
    mutating func sent(tick: UInt64, now: UInt64, count: Int = 1) {
        guard adaptive, !frozen else { return }
        sentEver += count
        if firstSentAt == nil { firstSentAt = now }
        if let last = cohorts.last, last.tick == tick {
            cohorts[cohorts.count - 1].sent += count
            cohorts[cohorts.count - 1].lastSentAt = now
            return
        }
        cohorts.append(Cohort(tick: tick, sent: count, firstSentAt: now, lastSentAt: now))
        if cohorts.count > Self.cohortCapacity { cohorts.removeFirst() }
    }

    /// The first answer to a probe whose sequence number carried `tick` (the tick's low eight bits): counted for the
    /// newest cohort of that tick, which is the one it answers while 256 ticks span more than the longest wait.
    mutating func answered(tick: UInt8) {
        guard adaptive, !frozen else { return }
        answeredEver += 1
        var index = cohorts.count - 1
        while index >= 0 {
            if UInt8(truncatingIfNeeded: cohorts[index].tick) == tick {
                cohorts[index].answered += 1
                return
            }
            index -= 1
        }
    }

    /// The first pass is over: the rate stays where it is, but for local signs. After a loss it is no higher than
    /// nine tenths of the higher of what the loss said gets through and the fastest rate judged clean since: the
    /// retries are the last chance of the probes they repeat, and growth may have crept past the limit again.
    mutating func freeze() -> Change? {
        guard adaptive, !frozen else { return nil }
        frozen = true
        cohorts.removeAll()
        group = nil
        guard let lossEstimate else { return nil }
        let cap = max(lossEstimate, cleanRateSinceCut) * Self.plateauShare
        guard rate > cap else { return nil }
        rate = max(Self.minimumRate, cap)
        return .cut(.loss)
    }

    /// The capture's kernel drop count so far: a rise means answers were lost at this end.
    mutating func captureDrops(total: UInt64, now: UInt64) -> Change? {
        defer { lastCaptureDrops = max(lastCaptureDrops, total) }
        guard total > lastCaptureDrops else { return nil }
        return cut(to: rate / 2, because: .captureDrops, now: now)
    }

    /// The raw socket's send queue was full.
    mutating func sendQueueFull(now: UInt64) -> Change? {
        cut(to: rate * 0.75, because: .sendQueueFull, now: now)
    }

    private mutating func cut(to target: Double, because trouble: Trouble, now: UInt64) -> Change? {
        guard adaptive, trouble == .loss || lastCutAt == 0 || now &- lastCutAt >= Self.growthSpacing else { return nil }
        rate = max(Self.minimumRate, min(rate, target))
        slowStart = false
        lastTrouble = trouble
        lastChangeAt = now
        lastCutAt = now
        cleanRateSinceCut = 0
        return .cut(trouble)
    }

    // MARK: judging

    /// Settles the cohorts whose answers are in (`settle` after their last SYN, a later tick begun), judges them
    /// and returns how the rate changed, if it did.
    mutating func update(now: UInt64, settle: UInt64) -> Change? {
        guard adaptive, !frozen else { return nil }
        var change: Change?
        while cohorts.count > 1, let cohort = cohorts.first, now &- cohort.lastSentAt >= settle {
            cohorts.removeFirst()
            if let judged = judge(cohort, now: now) { change = judged }
        }
        // Blind growth only once the first SYNs have had the cool-down to be answered: on a path slower than the
        // growth spacing, no answers yet is not dark space.
        if change == nil, sparse, let first = firstSentAt, now &- first >= settle { change = growBlind(now: now) }
        if rate > highestRate { highestRate = rate }
        return change
    }

    /// Whether the answers so far (all of them, settled or not) are too few to judge a group within a second at
    /// this rate: none yet, or dark space.
    private var sparse: Bool {
        guard sentEver > 0 else { return true }
        return rate * Double(answeredEver) / Double(sentEver) < Self.minimumExpectedAnswers
    }

    private mutating func growBlind(now: UInt64) -> Change? {
        guard slowStart, rate < ceiling, now &- lastChangeAt >= Self.growthSpacing else { return nil }
        rate = min(ceiling, rate * 2)
        lastChangeAt = now
        return .grew
    }

    private mutating func judge(_ cohort: Cohort, now: UInt64) -> Change? {
        guard usualAnswered >= Self.baselineAnswers else {
            // No usual share yet: these answers make it.
            usualSent += cohort.sent
            usualAnswered += cohort.answered
            return nil
        }
        var pending = cohort
        if let earlier = group {
            pending = earlier
            pending.sent += cohort.sent
            pending.answered += cohort.answered
            pending.lastSentAt = cohort.lastSentAt
        }
        let share = Double(usualAnswered) / Double(usualSent)
        let expected = Double(pending.sent) * share
        let span = pending.lastSentAt &- pending.firstSentAt
        guard
            expected >= Self.groupExpectedAnswers
                || (expected >= Self.minimumExpectedAnswers && span >= Self.groupSpan)
        else {
            group = pending
            return nil
        }
        group = nil
        let answered = Double(pending.answered)
        let shortfall = expected - answered
        let sentAfterChange = pending.firstSentAt > lastChangeAt
        // The rate the group actually went out at (a busy sender falls short of the bucket's).
        let sentRate = span > 0 ? Double(pending.sent) / (Double(span) / 1e9) : rate
        // Chance in both counts: the group's (Poisson, variance E) and the usual share's own, which the expectation
        // inherits (relative variance 1/answers): E + E²/answers. Testing against the group's alone took a usual
        // share learnt from 50 answers, a fifth too high by chance, for loss in the next group.
        let deviation = (expected + expected * expected / Double(usualAnswered)).squareRoot()
        if shortfall >= expected * Self.lossShortfall && shortfall >= Self.lossDeviations * deviation {
            // Kept out of the usual share, so lasting loss keeps counting as loss. A group sent before the last cut
            // shows the rate that was cut.
            guard pending.firstSentAt > lastCutAt else { return nil }
            let through = min(rate, sentRate) * max(0, answered / expected)
            // Loss again near where it struck before is a limit met again: growth near it slows down from then on.
            lossRepeated = lossEstimate.map { through >= $0 * 0.75 && through <= $0 / 0.75 } ?? false
            lossEstimate = through
            lossEvidence =
                "\(pending.answered) answers of \(Int(expected)) expected from \(pending.sent) SYNs "
                + "sent at \(Int(sentRate))/s over \(span / 1_000_000) ms"
            return cut(to: max(rate / 4, through * 0.9), because: .loss, now: now)
        }
        usualSent += pending.sent
        usualAnswered += pending.answered
        // Short by less than half the loss threshold: not the edge of a limit, where groups fall short by a little.
        if pending.firstSentAt > lastCutAt, shortfall < expected * Self.lossShortfall / 2 {
            cleanRateSinceCut = max(cleanRateSinceCut, min(rate, sentRate))
        }
        guard sentAfterChange, rate < ceiling, sentRate >= rate * Self.usedShare || span == 0 else { return nil }
        if slowStart {
            rate = min(ceiling, rate * 2)
        } else {
            let onPlateau = lossRepeated && (lossEstimate.map { rate >= $0 * Self.plateauShare } ?? false)
            guard now &- lastChangeAt >= (onPlateau ? Self.plateauSpacing : Self.growthSpacing) else { return nil }
            rate = min(ceiling, rate + max(Self.minimumRate, rate / 16))
        }
        lastChangeAt = now
        return .grew
    }
}
