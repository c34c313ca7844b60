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
///   (congestion avoidance), at most once per timeout floor (100 ms) and not within that time of a cut. Once answers
///   come, growth also waits for evidence: probes launched at the current size judged clean for loss (below), or,
///   before there is a usual share to judge by, a timeout floor (the time loss takes to show). Growing on the
///   clock alone outran the loss signal: the window doubled three times before the first cohort could show that
///   the first doubling had already met a firewall's limit. A window that is not used up (a polite `--rate`, a
///   small scan, the end of the list) does not grow: nothing was learnt about a larger one.
/// - **Plateau** (as CUBIC slows down near the size of its last loss): the size a loss cut struck at is remembered.
///   Loss again at or above three quarters of that size is a limit met again (a rate-limiting firewall): it cuts to
///   three quarters, not half, which would leave a quarter of what the limit lets through unused for seconds, and
///   from then on growth between three quarters of the size and it comes once per ten timeout floors (1 s); beyond
///   it, at the usual pace (the limit has moved). A single cut (chance, random loss) does not slow growth.
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
///   A cohort too small to judge (a slow window launches few probes per round, and right after a cut the window is
///   full of retries) is judged together with the next ones, until they should have had enough answers between
///   them; but never across a loss cut: cohorts launched before it, too few to judge alone, are presumed lossy.
/// - **Extra attempts under loss** (as nmap raises its retries when it sees drops): every round gets a verdict when
///   its cohort is judged: lossy when its answers fell short of the usual share by more than chance explains (a
///   fifth or more, and by two standard deviations), which is finer than the halving that cuts the window, and only
///   once some group in the scan fell below half (so a clean network's silent ports never get extra attempts,
///   whatever chance does to a group). A verdict is final when the next group is judged: a lossy group makes the one
///   before it lossy too (the overshoot began there), and rounds of retries only, with no new probes to judge
///   them by, keep the verdict before them. The first group after a loss cut is lossy a fifth short without the
///   two deviations (it went out while the limiter was still empty). A probe whose first and last attempts both
///   went out in lossy rounds may have had both dropped, so it gets another (up to `extraAttemptsUnderLoss`;
///   ConnectScanner, which takes the newest verdict for a round still unjudged after a retry's timeout); one with
///   an attempt in a clean round stays unanswered as in any scan. A cut comes a timeout after the overshoot it answers: a firewall that
///   drops what exceeds its rate has dropped both attempts of some probes by then, and only another attempt finds
///   them (under a 15,000 SYN/s limiter, 145 of 4,065 open ports were lost without these).
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
    /// Attempts beyond `--retries` for a probe whose last attempt went out in a round judged lossy.
    static let extraAttemptsUnderLoss = 3
    /// A round's answers short of the usual by at least this share, and by `lossyDeviations` standard deviations
    /// (counts close to Poisson: the square root of the expected number), make its verdict lossy. Looser
    /// thresholds (a tenth, 1.5 deviations) were measured: twice the extra attempts, which a rate limiter dropped in
    /// turn, and more open ports lost, not fewer.
    static let lossyShortfall = 0.2
    static let lossyDeviations = 2.0
    /// Verdicts kept; an older round reads as clean.
    static let verdictCapacity = 4096

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

    /// Settled cohorts waiting to be judged together (too few probes between them so far).
    private struct Group {
        var firstRound: UInt32
        var launched = 0
        var answered = 0
    }
    private var group: Group?
    /// The round the window last grew or shrank in, and whether a group launched after it was judged clean since:
    /// growth waits for that evidence, so the window never grows again before the last size has shown its loss.
    private var lastChangeRound: UInt32?
    private var cleanSinceChange = false
    /// The size the window had when loss last cut it, and the round of that cut. Growth slows down to once per
    /// `plateauSpacing` between `plateauShare` of it and it (a rate-limiting firewall sits there: the scan gains
    /// little from probing it and loses answers each time it overshoots); beyond it, the limit has moved.
    private(set) var lossSize: Int?
    private var lossCutRound: UInt32?
    /// Whether the last loss cut struck near the one before (a limit met again): only then does the plateau slow
    /// growth, so a single cut from chance or random loss costs no seconds of slow growth.
    private var lossRepeated = false
    /// Whether a group launched after the last loss cut has been judged.
    private var judgedSinceLossCut = false
    static let plateauShare = 0.75
    let plateauSpacing: UInt64
    /// Whether each judged round was lossy, from `verdictsStart` on, in order.
    private var verdicts = Deque<Bool>()
    private var verdictsStart: UInt32 = 0
    /// The last group's verdict, final only when the next group is judged: a lossy group makes the one before it
    /// lossy too (the growth that overshot began there, short of what a verdict can tell from chance).
    private var provisional: (through: UInt32, lossy: Bool)?
    /// Whether a group has fallen below half the usual share in this scan: until then no verdict is lossy, so a
    /// clean network's unanswered probes never get extra attempts, whatever chance does to a group's answers.
    private(set) var lossSeen = false

    init(ceiling: Int, timeoutFloorNanoseconds: UInt64, now: UInt64, initialSize: Int = ConnectWindow.initialSize) {
        self.ceiling = max(1, ceiling)
        floor = min(self.ceiling, Self.minimumSize)
        size = min(self.ceiling, max(floor, initialSize))
        delaySlack = timeoutFloorNanoseconds / 10
        growthSpacing = timeoutFloorNanoseconds
        plateauSpacing = timeoutFloorNanoseconds * 10
        roundStart = now
        lastGrowthAt = now
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
        if change != nil || lastDecreaseRound == round {
            lastChangeRound = round
            cleanSinceChange = false
        }
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
            if recentlyCut { return nil }
            // Loss again near where it struck before is a limit met again (a rate-limiting firewall): back to the
            // plateau below it, not half, which would leave a quarter of what it lets through unused.
            let again = lossSize.map { Double(size) >= Double($0) * Self.plateauShare } ?? false
            lossRepeated = again
            lossSize = size
            lossCutRound = round
            judgedSinceLossCut = false
            return shrink(to: again ? Int(Double(size) * Self.plateauShare) : size / 2, because: .loss)
        }
        if localErrorThisRound || lossBeforeCutThisRound || recentlyCut { return nil }
        guard usedWholeWindow, size < ceiling, answersThisRound > 0 || answersEver == 0 else { return nil }
        // Once answers come, the last size must have shown no loss before the next: judged clean when there is a
        // usual share to judge by, or given a timeout floor to show it when there is not yet (or answers are too
        // sparse for one). Dark space, with no answers to judge, grows blind.
        if answersEver > 0 {
            if settledAnswered >= Self.lossBaselineAnswers {
                guard cleanSinceChange else { return nil }
            } else {
                guard now &- lastGrowthAt >= growthSpacing else { return nil }
            }
        }
        if slowStart {
            size = min(ceiling, size * 2)
        } else {
            let onPlateau =
                lossRepeated && (lossSize.map { Double(size) >= Double($0) * Self.plateauShare && size < $0 } ?? false)
            guard now &- lastGrowthAt >= (onPlateau ? plateauSpacing : growthSpacing) else { return nil }
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

    /// Whether probes launched in `round` met loss: nil while the round is not judged yet, false once it is old.
    /// The newest final verdict (false before any).
    var latestVerdict: Bool { verdicts.last ?? false }

    func lossVerdict(round query: UInt32) -> Bool? {
        if query < verdictsStart { return false }
        let index = Int(query - verdictsStart)
        return index < verdicts.count ? verdicts[index] : nil
    }

    /// Gives `lossy` as verdict to every round not judged yet up to `last`.
    private mutating func judge(through last: UInt32, lossy: Bool) {
        while verdictsStart &+ UInt32(verdicts.count) <= last {
            verdicts.append(lossy)
            if verdicts.count > Self.verdictCapacity {
                verdicts.removeFirst()
                verdictsStart &+= 1
            }
        }
    }

    /// Judges every cohort at the front whose first attempts have all ended, oldest first.
    private mutating func settleCohorts() {
        while let cohort = cohorts.first, cohort.answered + cohort.unanswered >= cohort.launched,
            cohort.round != round
        {
            cohorts.removeFirst()
            guard settledAnswered >= Self.lossBaselineAnswers else {
                // No usual share to judge against yet: these answers make it.
                settledLaunched += cohort.launched
                settledAnswered += cohort.answered
                judge(through: cohort.round, lossy: false)
                continue
            }
            if cohort.launched == 0 && group == nil {
                // Retries only (after a cut, or at the end of the list): nothing new to judge them by, so the last
                // verdict stands; a lossy period does not end on rounds whose attempts went unseen.
                if provisional != nil {
                    provisional?.through = cohort.round
                } else {
                    judge(through: cohort.round, lossy: verdicts.last ?? false)
                }
                continue
            }
            if let pendingGroup = group, let cut = lossCutRound, pendingGroup.firstRound <= cut, cohort.round > cut {
                // Launched before a loss cut, with the window it cut, and too few to judge on their own (the window
                // was full of retries then): presumed lossy rather than averaged with what came after the cut.
                group = nil
                if let previous = provisional { judge(through: previous.through, lossy: true) }
                provisional = (cut, true)
            }
            var pending = group ?? Group(firstRound: cohort.round)
            pending.launched += cohort.launched
            pending.answered += cohort.answered
            let expected = Double(pending.launched) * Double(settledAnswered) / Double(settledLaunched)
            guard expected >= Self.lossExpectedAnswers else {
                group = pending
                continue
            }
            group = nil
            let answered = Double(pending.answered)
            if answered < expected / 2 {
                // A group launched before the last cut shows the window that was cut: no second cut for it, but no
                // growth either.
                if lastDecreaseRound.map({ pending.firstRound > $0 }) ?? true {
                    lossThisRound = true
                } else {
                    lossBeforeCutThisRound = true
                }
            }
            let shortfall = expected - answered
            if answered < expected / 2 { lossSeen = true }
            // The first group after a loss cut went out while the limit's queue (or bucket) was still empty: a fifth
            // short is enough there, chance or not.
            let firstAfterCut = lossCutRound.map { pending.firstRound > $0 && !judgedSinceLossCut } ?? false
            if firstAfterCut { judgedSinceLossCut = true }
            let lossy =
                answered < expected / 2
                || (lossSeen && shortfall >= expected * Self.lossyShortfall
                    && (firstAfterCut || shortfall >= Self.lossyDeviations * expected.squareRoot()))
            if let previous = provisional { judge(through: previous.through, lossy: previous.lossy || lossy) }
            provisional = (cohort.round, lossy)
            if !lossy, answered >= expected * (1 - Self.lossyShortfall),
                lastChangeRound.map({ pending.firstRound > $0 }) ?? true
            {
                cleanSinceChange = true
            }
            // Kept out of the usual share: otherwise lasting loss (a rate-limiting firewall) would soon be the usual
            // and stop counting as trouble.
            if lossy { continue }
            settledLaunched += pending.launched
            settledAnswered += pending.answered
        }
    }
}
