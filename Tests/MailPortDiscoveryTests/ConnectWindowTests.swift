import Testing

@testable import MailPortDiscovery

/// Feeds a ConnectWindow synthetic rounds: first attempts launched, some answered within the round after `rtt`, the
/// others timing out at the start of the next round (so a cohort is judged one round after its launch, as in a run).
private struct WindowDriver {
    var window: ConnectWindow
    var now: UInt64 = 0
    var timingOut: [UInt32] = []

    init(ceiling: Int, initialSize: Int = 256) {
        window = ConnectWindow(
            ceiling: ceiling, timeoutFloorNanoseconds: 100_000_000, now: 0, initialSize: initialSize)
    }

    /// One round. `launches` defaults to the window's size; `full` says whether the window was used up.
    @discardableResult
    mutating func round(
        launches: Int? = nil, answerShare: Double = 0.1, rtt: UInt64 = 1_000_000, full: Bool = true
    ) -> ConnectWindow.Change? {
        for cohort in timingOut { window.ended(cohort: cohort, answered: false) }
        timingOut.removeAll()
        let count = launches ?? window.size
        let answers = Int((Double(count) * answerShare).rounded())
        for index in 0..<count {
            let cohort = window.launchedFirstAttempt()
            if index < answers {
                window.answered(roundTripNanoseconds: rtt, cohort: cohort)
            } else {
                timingOut.append(cohort)
            }
        }
        window.note(inFlight: full ? window.size : window.size / 2)
        now += window.roundNanoseconds
        return window.tick(now: now)
    }

    /// Healthy rounds until the window grows; returns the nanoseconds they took (nil if it did not within `limit`).
    mutating func timeUntilGrowth(limit: Int = 100) -> UInt64? {
        let started = now
        for _ in 0..<limit where round() == .grew { return now - started }
        return nil
    }

    /// Healthy rounds until the window has at least `size`; returns how many it took (nil if not within 40).
    @discardableResult
    mutating func grow(to size: Int) -> Int? {
        for count in 1...40 {
            round()
            if window.size >= size { return count }
        }
        return nil
    }
}

@Suite("Connect window")
struct ConnectWindowTests {
    @Test("slow start doubles once the probes launched at the current size were judged clean, up to the ceiling")
    func slowStartToCeiling() {
        let standard = ConnectWindow(ceiling: 16384, timeoutFloorNanoseconds: 100_000_000, now: 0)
        #expect(standard.size == 2048)
        var driver = WindowDriver(ceiling: 16384)
        #expect(driver.window.size == 256)
        var sizes: [Int] = []
        for _ in 0..<14 {
            driver.round()
            sizes.append(driver.window.size)
        }
        // The first doubling comes a timeout floor (100 ms, the first round) after the start: no usual share to
        // judge loss by yet. Then each size waits for its own cohort: launched in the round after the doubling,
        // judged when its timeouts have ended, one round later.
        #expect(sizes == [512, 512, 512, 1024, 1024, 2048, 2048, 4096, 4096, 8192, 8192, 16384, 16384, 16384])
        #expect(driver.window.slowStart)
        #expect(driver.window.lastTrouble == nil)
    }

    @Test("a ceiling below the initial size is the size; a window never exceeds its ceiling")
    func smallCeiling() {
        var driver = WindowDriver(ceiling: 100, initialSize: ConnectWindow.initialSize)
        #expect(driver.window.size == 100)
        for _ in 0..<5 { driver.round() }
        #expect(driver.window.size == 100)
        let one = ConnectWindow(ceiling: 0, timeoutFloorNanoseconds: 100_000_000, now: 0)
        #expect(one.size == 1 && one.floor == 1)
    }

    @Test("a window that is not used up (a polite --rate, the end of the list) does not grow")
    func unusedWindowHolds() {
        var driver = WindowDriver(ceiling: 16384)
        for _ in 0..<5 {
            #expect(driver.round(launches: 50, full: false) == nil)
        }
        #expect(driver.window.size == 256)
    }

    @Test("dark space grows blind; once answers were seen, a round without any holds")
    func growthNeedsAnswersOnceSeen() {
        var dark = WindowDriver(ceiling: 16384)
        dark.round(answerShare: 0)
        dark.round(answerShare: 0)
        #expect(dark.window.size == 1024)

        var driver = WindowDriver(ceiling: 16384)
        driver.round()
        #expect(driver.window.size == 512)
        #expect(driver.round(answerShare: 0) == nil)
        #expect(driver.window.size == 512)
    }

    @Test("round length: 100 ms until a baseline, then two baseline round-trip times within 10 and 200 ms")
    func roundLength() {
        var fast = WindowDriver(ceiling: 16384)
        #expect(fast.window.roundNanoseconds == 100_000_000)
        // The first round ends as soon as it has answers enough for a baseline.
        for _ in 0..<ConnectWindow.delaySamples - 1 {
            fast.window.answered(roundTripNanoseconds: 100_000, cohort: fast.window.launchedFirstAttempt())
        }
        fast.window.note(inFlight: 256)
        #expect(fast.window.tick(now: 1_000_000) == nil)
        #expect(fast.window.round == 0)
        fast.window.answered(roundTripNanoseconds: 100_000, cohort: fast.window.launchedFirstAttempt())
        // The round ends on its answers, but does not grow before a timeout floor has passed: loss would not show
        // before that.
        #expect(fast.window.tick(now: 1_000_000) == nil)
        #expect(fast.window.round == 1)
        #expect(fast.window.size == 256)
        #expect(fast.window.baselineRTT == 100_000)
        #expect(fast.window.roundNanoseconds == 10_000_000)
        var middle = WindowDriver(ceiling: 16384)
        middle.round(rtt: 20_000_000)
        #expect(middle.window.roundNanoseconds == 40_000_000)
        var slow = WindowDriver(ceiling: 16384)
        slow.round(rtt: 150_000_000)
        #expect(slow.window.roundNanoseconds == 200_000_000)
    }

    @Test("delay: a median round-trip time above twice the baseline plus slack cuts a quarter and ends slow start")
    func delayShrinks() {
        var driver = WindowDriver(ceiling: 16384)
        #expect(driver.grow(to: 1024) == 4)
        #expect(driver.window.size == 1024)
        // 2 × 1 ms + 10 ms slack = 12 ms: 11 ms is the run loop's own noise, 13 ms is a queue.
        #expect(driver.round(rtt: 11_000_000) == nil)
        #expect(driver.round(rtt: 11_000_000) == .grew)
        #expect(driver.window.size == 2048)
        #expect(driver.round(rtt: 13_000_000) == .shrank(.delay))
        #expect(driver.window.size == 1536)
        #expect(!driver.window.slowStart)
        #expect(driver.window.lastTrouble == .delay)
        // Back to the baseline's timing: congestion avoidance adds a sixteenth, not double, and not before a timeout
        // floor (100 ms) has passed since the cut.
        let wait = driver.timeUntilGrowth()
        #expect(wait.map { $0 >= 100_000_000 && $0 < 120_000_000 } == true, "\(String(describing: wait))")
        #expect(driver.window.size == 1536 + 96)
        #expect(driver.timeUntilGrowth().map { $0 >= 100_000_000 } == true)
        #expect(driver.window.size == 1632 + 102)
        #expect(driver.window.baselineRTT == 1_000_000)
    }

    @Test("lasting delay shrinks round after round, down to the floor of 16 and never below")
    func delayFloor() {
        var driver = WindowDriver(ceiling: 16384)
        driver.round(rtt: 1_000_000)
        for _ in 0..<40 { driver.round(launches: 200, answerShare: 0.5, rtt: 50_000_000) }
        #expect(driver.window.size == ConnectWindow.minimumSize)
        #expect(driver.window.lastTrouble == .delay)
    }

    @Test("too few answers in a round to judge delay: no cut however slow they are")
    func fewSamplesNotJudged() {
        var driver = WindowDriver(ceiling: 16384)
        driver.round(rtt: 1_000_000)
        // 70 launches at 10% answer: 7 samples, one short of a median worth acting on.
        #expect(driver.round(launches: 70, rtt: 500_000_000, full: false) == nil)
        #expect(driver.window.size == 512)
    }

    @Test("loss: a cohort answered at under half the usual share halves the window, once")
    func lossHalves() {
        var driver = WindowDriver(ceiling: 4096)
        #expect(driver.grow(to: 4096) == 8)  // settled cohorts: a 10% answer share
        #expect(driver.window.size == 4096)
        #expect(driver.window.lastTrouble == nil)
        // 4096 launches expecting ~410 answers get 80: judged when their timeouts have ended, one round later.
        driver.round(answerShare: 0.02)
        #expect(driver.round(answerShare: 0.02) == .shrank(.loss))
        #expect(driver.window.size == 2048)
        #expect(driver.window.lastTrouble == .loss)
        // The second lossy cohort was launched before the cut (it reflects the old window): no second cut for it.
        #expect(driver.round() == nil)
        #expect(driver.window.size == 2048)
        // Answers back to the usual share: growth resumes, additively, a timeout floor after the cut.
        #expect(driver.timeUntilGrowth() != nil)
        #expect(driver.window.size == 2048 + 128)
    }

    @Test("steady loss that retries absorb (5% of answers missing) is no trouble")
    func steadyLossIsNoTrouble() {
        var driver = WindowDriver(ceiling: 8192)
        for _ in 0..<4 { driver.round(answerShare: 0.1) }
        for _ in 0..<10 { driver.round(answerShare: 0.095) }
        #expect(driver.window.size == 8192)
        #expect(driver.window.lastTrouble == nil)
    }

    @Test("small cohorts are judged together with the next ones: chance explains a few missing answers")
    func smallCohortsNotJudged() {
        var driver = WindowDriver(ceiling: 16384)
        for _ in 0..<4 { driver.round() }
        // 100 launches expect 10 answers, under the 20 a judgement needs; none came. With the next 100 (10 answers)
        // the pair expects 20 and got half: not under half, so no cut.
        let first = driver.window.round
        driver.round(launches: 100, answerShare: 0, full: false)
        #expect(driver.round(launches: 100, full: false) == nil)
        #expect(driver.round(launches: 100, full: false) == nil)
        #expect(driver.window.lastTrouble == nil)
        // Nor lossy, once the next groups are judged: no group has fallen under half in this scan.
        #expect(driver.window.lossVerdict(round: first) == nil)
        driver.round()
        driver.round()
        #expect(driver.window.lossVerdict(round: first) == false)
    }

    @Test("local errors: the window drops to what is in flight at once and slow start ends")
    func localErrorShrinks() {
        var driver = WindowDriver(ceiling: 16384)
        #expect(driver.grow(to: 1024) == 4)
        driver.window.localError(inFlight: 700)
        #expect(driver.window.size == 700)
        #expect(!driver.window.slowStart)
        #expect(driver.window.lastTrouble == .localError)
        driver.window.localError(inFlight: 650)
        #expect(driver.window.size == 650)
        // The round with the error does not grow; later ones grow additively, a timeout floor after it.
        #expect(driver.round() == nil)
        #expect(driver.window.size == 650)
        #expect(driver.timeUntilGrowth().map { $0 >= 90_000_000 } == true)
        #expect(driver.window.size == 650 + 40)
    }
}

extension ConnectWindowTests {
    @Test("delay the run loop explains (a long turn in the same round) is not taken for a queue in the path")
    func loopDelayIsNotTrouble() {
        var driver = WindowDriver(ceiling: 16384)
        driver.round(rtt: 1_000_000)
        #expect(driver.window.size == 512)
        var changes: [ConnectWindow.Change?] = []
        for _ in 0..<3 {
            driver.window.noteLoopDelay(nanoseconds: 30_000_000)
            changes.append(driver.round(rtt: 40_000_000))
        }
        #expect(changes == [nil, nil, .grew])
        #expect(driver.window.size == 1024)
        // The same round-trip times with quick turns are a queue.
        driver.window.noteLoopDelay(nanoseconds: 1_000_000)
        #expect(driver.round(rtt: 40_000_000) == .shrank(.delay))
    }
}

extension ConnectWindowTests {
    @Test("lasting loss (a rate-limiting firewall) keeps counting: the lossy share never becomes the usual one")
    func lastingLossKeepsCutting() {
        var driver = WindowDriver(ceiling: 16384)
        #expect(driver.grow(to: 16384) == 12)
        var cuts = 0
        for _ in 0..<40 where driver.round(answerShare: 0.03) == .shrank(.loss) { cuts += 1 }
        #expect(cuts >= 4, "\(cuts) cuts")
        #expect(driver.window.size <= 1024)
        #expect(driver.window.lastTrouble == .loss)
    }
}

extension ConnectWindowTests {
    @Test(
        "verdicts: lossy rounds and the group before them, clean ones clean, none lossy before a group fell under half")
    func lossVerdicts() {
        var driver = WindowDriver(ceiling: 2048)
        #expect(driver.grow(to: 2048) == 6)
        let clean = driver.window.round
        driver.round()
        driver.round()
        // 30% short of the usual share: lossy by the fine measure (a fifth, two deviations), but no group has fallen
        // under half yet, so not lossy, and no cut.
        let mildEarly = driver.window.round
        driver.round(answerShare: 0.07)
        let mildLate = driver.window.round
        driver.round(answerShare: 0.07)
        #expect(driver.window.lossSeen == false)
        let severe = driver.window.round
        driver.round(answerShare: 0.02)
        #expect(driver.round() == .shrank(.loss))
        #expect(driver.window.lossSeen)
        let mildAfter = driver.window.round
        driver.round(answerShare: 0.07)
        let cleanAfter = driver.window.round
        for _ in 0..<4 { driver.round() }
        #expect(driver.window.lossVerdict(round: clean) == false)
        #expect(driver.window.lossVerdict(round: mildEarly) == false)
        // The group before the one under half: where the overshoot began.
        #expect(driver.window.lossVerdict(round: mildLate) == true)
        #expect(driver.window.lossVerdict(round: severe) == true)
        #expect(driver.window.lossVerdict(round: mildAfter) == true)
        #expect(driver.window.lossVerdict(round: cleanAfter) == false)
        // Not judged yet: the round in progress.
        #expect(driver.window.lossVerdict(round: driver.window.round) == nil)
    }

    @Test(
        "rounds of retries only keep the verdict before them; cohorts launched before a loss cut, too few to judge, are presumed lossy"
    )
    func verdictsWithoutNewProbes() {
        var driver = WindowDriver(ceiling: 2048)
        #expect(driver.grow(to: 2048) == 6)
        driver.round()
        let retriesWhileClean = driver.window.round
        driver.round(launches: 0, full: true)
        driver.round()
        let severe = driver.window.round
        driver.round(answerShare: 0.02)
        // Few new probes (the window full of retries) before the cut, at the usual share.
        let beforeCut = driver.window.round
        #expect(driver.round(launches: 30, full: true) == .shrank(.loss))
        let afterCut = driver.window.round
        driver.round(launches: 30, full: true)
        let later = driver.window.round
        driver.round(launches: 300, full: true)
        driver.round()
        driver.round()
        let secondSevere = driver.window.round
        driver.round(answerShare: 0.02)
        for _ in 0..<3 { driver.round(launches: 0, full: true) }
        // Rounds of retries only wait for the next group judged before their verdict is final.
        #expect(driver.window.lossVerdict(round: secondSevere + 2) == nil)
        driver.round(launches: 300, full: true)
        driver.round()
        driver.round()
        #expect(driver.window.lossVerdict(round: retriesWhileClean) == false)
        #expect(driver.window.lossVerdict(round: severe) == true)
        #expect(driver.window.lossVerdict(round: beforeCut) == true)
        #expect(driver.window.lossVerdict(round: afterCut) == false)
        #expect(driver.window.lossVerdict(round: later) == false)
        #expect(driver.window.lossVerdict(round: secondSevere) == true)
        #expect(driver.window.lossVerdict(round: secondSevere + 1) == true)
        #expect(driver.window.lossVerdict(round: secondSevere + 3) == true)
        #expect(driver.window.lossVerdict(round: secondSevere + 4) == false)
    }

    @Test(
        "plateau: loss again near the size it struck at cuts a quarter, not half, and growth there comes once a second")
    func plateauAfterLoss() {
        var driver = WindowDriver(ceiling: 4096)
        #expect(driver.grow(to: 4096) == 8)
        driver.round(answerShare: 0.02)
        #expect(driver.round(answerShare: 0.02) == .shrank(.loss))
        #expect(driver.window.size == 2048)
        #expect(driver.window.lossSize == 4096)
        driver.round()
        // One cut is no limit yet: a sixteenth every timeout floor or so, also above three quarters of 4096 (3072).
        var waits: [UInt64] = []
        while driver.window.size < 3200, let wait = driver.timeUntilGrowth() { waits.append(wait) }
        #expect(driver.window.size == 3324, "\(driver.window.size)")
        #expect(waits.count == 8)
        #expect(waits.allSatisfy { $0 < 200_000_000 }, "\(waits)")
        // Loss again up here: a limit met again, cut to three quarters of the size.
        driver.round(answerShare: 0.02)
        #expect(driver.round(answerShare: 0.02) == .shrank(.loss))
        #expect(driver.window.size == 3324 * 3 / 4)
        #expect(driver.window.lossSize == 3324)
        driver.round()
        // Now on the plateau (2493 to 3324): a second after the cut (one 10 ms round has passed since).
        let plateauWait = driver.timeUntilGrowth(limit: 300)
        #expect(
            plateauWait.map { $0 >= 980_000_000 && $0 < 1_100_000_000 } == true, "\(String(describing: plateauWait))")
        #expect(driver.window.size == 2493 + 155)
    }
}

extension ConnectWindowTests {
    @Test("the first group after a loss cut is lossy a fifth short, without the two deviations later groups need")
    func firstGroupAfterCut() {
        var driver = WindowDriver(ceiling: 2048)
        #expect(driver.grow(to: 2048) == 6)
        driver.round()
        driver.round(answerShare: 0.02)
        #expect(driver.round(launches: 300, full: true) == .shrank(.loss))
        // 300 launches expect 30 answers; 23 is over a fifth short but under two deviations (11) short.
        let firstAfter = driver.window.round
        driver.round(launches: 300, answerShare: 0.075, full: true)
        driver.round()
        let later = driver.window.round
        driver.round(launches: 300, answerShare: 0.075, full: true)
        for _ in 0..<3 { driver.round() }
        #expect(driver.window.lossVerdict(round: firstAfter) == true)
        #expect(driver.window.lossVerdict(round: later) == false)
    }
}
