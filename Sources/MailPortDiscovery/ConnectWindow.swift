import DequeModule

/// How many connects discovery keeps in flight: a window that starts small, grows while the network keeps up and
/// shrinks on signs of trouble, between a small floor and the ceiling (`--concurrency`, within the open-file limit).
///
/// Why a window at all: a scan spends most of its slots waiting for answers that never come (silently dropped
/// ports), so how fast it goes is the window divided by the timeout. A fixed small window is slow on large ranges; a
/// fixed large one is blind to a network (or a local stack) that cannot keep up. So, as TCP does with its congestion
/// window and nmap with its own:
///
/// - **Rounds.** Decisions are taken once per round: two baseline round-trip times (one to send, one to hear back,
///   as TCP's slow start doubles once per round trip), kept between 10 ms (scheduling noise of the run loop) and
///   200 ms (so a slow path still adapts a few times a second); 100 ms before there is a baseline. In slow start a
///   round ends as soon as the window was full and enough answers came back to judge their timing, so growth follows
///   the answers as TCP's follows its acknowledgements, and a small scan is not held back by the small start.
///   Within a round only events are counted.
/// - **Growth.** A round that used the whole window, saw no trouble and (once answers have been seen at all) got
///   answers doubles the window while in slow start, and adds a sixteenth after the first sign of trouble
///   (congestion avoidance), at most once per timeout floor (100 ms: the time loss takes to show) and not within
///   that time of a cut. A window that is not used up (a polite `--rate`, a small scan, the end of the list)
///   does not grow: nothing was learnt about a larger one.
/// - **Delay** (TCP Vegas, nmap's timing): the median round-trip time of a round's answers against the baseline,
///   the lowest such median seen. Queues building up in the path show as delay before they drop anything. An
///   answer also waits for the run loop to get to it, and a busy loop (or a busy machine) is not a congested path:
///   the longest loop turn of the round is taken off first. Trouble when what remains exceeds twice the baseline
///   plus a slack of a tenth of the timeout floor (the floor is there to absorb scheduling noise; only delay that
///   eats into that margin counts). The window then shrinks by a quarter.
/// - **Loss**: probes are grouped by the round they were launched in (a cohort). When every first attempt of a
///   cohort has ended, its share of answered probes is compared with the share over all earlier cohorts. Most
///   unanswered probes are ports that drop silently, and with the seeded random order the share stays steady; a
///   cohort with less than half the usual share (and enough probes that chance cannot explain it) means answers are
///   being lost (a rate-limiting firewall, a full queue). The window halves. Cohorts, not completions per round,
///   because answers arrive within a round-trip time and timeouts one timeout later: while the window grows, a
///   round's answers come from a larger wave than its timeouts, and comparing them would show loss when growth
///   stops. A lossy cohort stays out of the usual share, so lasting loss (a rate-limiting firewall) keeps counting.
/// - **Local errors** (EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL, EAGAIN): the system has given what it has.
///   The window drops to what is in flight and slow start ends.
///
/// After a decrease, the next waits for a new round, and loss is judged only on cohorts launched after it (older
/// ones reflect the window that was just cut).
struct ConnectWindow {
    /// Why the window last shrank.
    enum Trouble: String, Sendable {
        case delay, loss
        case localError = "local-error"
    }

    /// What a round's end did to the window (for the debug log).
    enum Change: Equatable {
        case grew
        case shrank(Trouble)
    }

    /// Where the window starts: the fixed concurrency discovery used before it adapted, so a scan that fits in it
    /// (a /24 × 7 ports is 1,792 probes) runs as it always did, and anything larger grows only on evidence. A
    /// smaller start (256) was measured: on a /24 lab it cost 20% (0.38 s against 0.32 s) for the extra rounds.
    static let initialSize = 2048
    static let minimumSize = 16
    /// Answers needed in a round to judge its delay; fewer give a median too noisy to act on.
    static let delaySamples = 8
    /// Round-trip samples kept per round (the first ones): enough for a median, no allocation per probe.
    static let sampleCapacity = 64
    /// A cohort is judged for loss only when it should have had at least this many answers: below, a Poisson count
    /// under half its mean is not rare enough to act on (at 20 it happens about once in 200 cohorts).
    static let lossExpectedAnswers = 20.0
    /// Answers over settled cohorts before their share is trusted as the usual one.
    static let lossBaselineAnswers = 50
    /// Cohorts kept waiting for their last probe. A longer `--timeout` than rounds × this is not judged for loss.
    static let cohortCapacity = 512

    let ceiling: Int
    let floor: Int
    /// Queueing delay tolerated on top of twice the baseline (see the type's comment).
    let delaySlack: UInt64
    private(set) var size: Int
    private(set) var slowStart = true
    /// The lowest median round-trip time of a round with enough answers.
    private(set) var baselineRTT: UInt64?
    private(set) var lastTrouble: Trouble?

    private(set) var round: UInt32 = 0
    private var roundStart: UInt64
    private var usedWholeWindow = false
    private var answersThisRound = 0
    private var answersEver = 0
    private var samples: [UInt64]
    private var localErrorThisRound = false
    private var loopDelayThisRound: UInt64 = 0
    private var lossThisRound = false
    private var lossBeforeCutThisRound = false
    private var lastDecreaseRound: UInt32?
    /// When the window last grew or was cut; congestion avoidance grows once per `growthSpacing` at most.
    private var lastGrowthAt: UInt64 = 0
    /// The timeout floor: loss shows only when a probe's timeout has run out, so growing faster than that would
    /// outrun the signal that stops it.
    let growthSpacing: UInt64

    private struct Cohort {
        var round: UInt32
        var launched = 0
        var answered = 0
        var unanswered = 0
    }
    private var cohorts = Deque<Cohort>()
    private var settledLaunched = 0
    private var settledAnswered = 0

    init(ceiling: Int, timeoutFloorNanoseconds: UInt64, now: UInt64, initialSize: Int = ConnectWindow.initialSize) {
        self.ceiling = max(1, ceiling)
        floor = min(self.ceiling, Self.minimumSize)
        size = min(self.ceiling, max(floor, initialSize))
        delaySlack = timeoutFloorNanoseconds / 10
        growthSpacing = timeoutFloorNanoseconds
        roundStart = now
        samples = []
        samples.reserveCapacity(Self.sampleCapacity)
        cohorts.append(Cohort(round: 0))
    }

    /// How long the current round lasts.
    var roundNanoseconds: UInt64 {
        guard let baselineRTT else { return 100_000_000 }
        return min(200_000_000, max(10_000_000, baselineRTT * 2))
    }

    /// When the current round ends (on the monotonic clock).
    var roundEndsAt: UInt64 { roundStart &+ roundNanoseconds }

    // MARK: events

    /// Called after each launch pass with what is in flight: a round that filled the window may grow it.
    mutating func note(inFlight: Int) {
        if inFlight >= size { usedWholeWindow = true }
    }

    /// How long the run loop kept answers waiting in one turn (its busy time).
    mutating func noteLoopDelay(nanoseconds: UInt64) {
        loopDelayThisRound = max(loopDelayThisRound, nanoseconds)
    }

    /// A first attempt went out; returns its cohort, to be handed back when it ends.
    mutating func launchedFirstAttempt() -> UInt32 {
        cohorts[cohorts.count - 1].launched += 1
        return round
    }

    /// An answer (SYN-ACK or reset) after `rtt` nanoseconds, to a first attempt of `cohort` or to a retry (nil).
    mutating func answered(roundTripNanoseconds rtt: UInt64, cohort: UInt32?) {
        answersThisRound += 1
        answersEver += 1
        if samples.count < Self.sampleCapacity { samples.append(rtt) }
        if let cohort { ended(cohort: cohort, answered: true) }
    }

    /// A first attempt ended another way than with an answer: `answered` for an ICMP error or a local failure after
    /// launch (something came back), false when it timed out.
    mutating func ended(cohort: UInt32, answered: Bool) {
        guard let first = cohorts.first?.round, cohort >= first else { return }
        let index = Int(cohort - first)
        guard index < cohorts.count else { return }
        if answered { cohorts[index].answered += 1 } else { cohorts[index].unanswered += 1 }
    }

    /// A socket could not be opened or connected for lack of a local resource, with `inFlight` sockets open.
    mutating func localError(inFlight: Int) {
        localErrorThisRound = true
        guard lastDecreaseRound != round || inFlight < size else { return }
        size = max(1, min(size, inFlight))
        slowStart = false
        lastDecreaseRound = round
        lastTrouble = .localError
    }

    // MARK: rounds

    /// Ends the round when its time is up and applies what it showed. Returns the change, if any.
    mutating func tick(now: UInt64) -> Change? {
        // Answers enough to judge end a round early before there is a baseline, and in slow start once the window
        // is full: growth then follows the answers (as TCP's does its acknowledgements), not the clock.
        let judged = samples.count >= Self.delaySamples && (baselineRTT == nil || (slowStart && usedWholeWindow))
        guard now &- roundStart >= roundNanoseconds || judged else { return nil }
        settleCohorts()
        let change = decide(now: now)
        if lastDecreaseRound == round { lastGrowthAt = now }
        round &+= 1
        roundStart = now
        usedWholeWindow = false
        answersThisRound = 0
        samples.removeAll(keepingCapacity: true)
        localErrorThisRound = false
        loopDelayThisRound = 0
        lossThisRound = false
        lossBeforeCutThisRound = false
        cohorts.append(Cohort(round: round))
        if cohorts.count > Self.cohortCapacity { cohorts.removeFirst() }
        return change
    }

    private mutating func decide(now: UInt64) -> Change? {
        let recentlyCut = lastDecreaseRound == round
        if let median = medianSample() {
            if let baseline = baselineRTT, median &- min(median, loopDelayThisRound) > 2 * baseline + delaySlack {
                if !recentlyCut { return shrink(to: size * 3 / 4, because: .delay) }
                return nil
            }
            baselineRTT = min(baselineRTT ?? median, median)
        }
        if lossThisRound {
            return recentlyCut ? nil : shrink(to: size / 2, because: .loss)
        }
        if localErrorThisRound || lossBeforeCutThisRound || recentlyCut { return nil }
        guard usedWholeWindow, size < ceiling, answersThisRound > 0 || answersEver == 0 else { return nil }
        if slowStart {
            size = min(ceiling, size * 2)
        } else {
            guard now &- lastGrowthAt >= growthSpacing else { return nil }
            size = min(ceiling, size + max(8, size / 16))
        }
        lastGrowthAt = now
        return .grew
    }

    private mutating func shrink(to target: Int, because trouble: Trouble) -> Change {
        size = max(floor, target)
        slowStart = false
        lastDecreaseRound = round
        lastTrouble = trouble
        return .shrank(trouble)
    }

    private func medianSample() -> UInt64? {
        guard samples.count >= Self.delaySamples else { return nil }
        return samples.sorted()[samples.count / 2]
    }

    /// Judges every cohort at the front whose first attempts have all ended, oldest first.
    private mutating func settleCohorts() {
        while let cohort = cohorts.first, cohort.answered + cohort.unanswered >= cohort.launched,
            cohort.round != round
        {
            cohorts.removeFirst()
            guard cohort.launched > 0 else { continue }
            if settledAnswered >= Self.lossBaselineAnswers {
                let expected = Double(cohort.launched) * Double(settledAnswered) / Double(settledLaunched)
                if expected >= Self.lossExpectedAnswers, Double(cohort.answered) < expected / 2 {
                    // A cohort launched before the last cut shows the window that was cut: no second cut for it,
                    // but no growth either.
                    if lastDecreaseRound.map({ cohort.round > $0 }) ?? true {
                        lossThisRound = true
                    } else {
                        lossBeforeCutThisRound = true
                    }
                    // Kept out of the usual share: otherwise lasting loss (a rate-limiting firewall) would soon be
                    // the usual and stop counting as trouble.
                    continue
                }
            }
            settledLaunched += cohort.launched
            settledAnswered += cohort.answered
        }
    }
}
