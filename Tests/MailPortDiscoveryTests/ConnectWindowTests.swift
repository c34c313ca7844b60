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

    /// Healthy rounds until the window grows; returns the nanoseconds they took (nil if it did not within 100).
    mutating func timeUntilGrowth() -> UInt64? {
        let started = now
        for _ in 0..<100 where round() == .grew { return now - started }
        return nil
    }
}

@Suite("Connect window")
struct ConnectWindowTests {
    @Test("slow start: starts small, doubles each round that used the whole window, stops at the ceiling")
    func slowStartToCeiling() {
        let standard = ConnectWindow(ceiling: 16384, timeoutFloorNanoseconds: 100_000_000, now: 0)
        #expect(standard.size == 2048)
        var driver = WindowDriver(ceiling: 16384)
        #expect(driver.window.size == 256)
        var sizes: [Int] = []
        for _ in 0..<8 {
            driver.round()
            sizes.append(driver.window.size)
        }
        #expect(sizes == [512, 1024, 2048, 4096, 8192, 16384, 16384, 16384])
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
        fast.window.answered(roundTripNanoseconds: 100_000, cohort: fast.window.launchedFirstAttempt())
        #expect(fast.window.tick(now: 1_000_000) == .grew)
        #expect(fast.window.size == 512)
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
        driver.round(rtt: 1_000_000)
        driver.round(rtt: 1_000_000)
        #expect(driver.window.size == 1024)
        // 2 × 1 ms + 10 ms slack = 12 ms: 11 ms is the run loop's own noise, 13 ms is a queue.
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
        for _ in 0..<6 { driver.round() }  // settled cohorts: a 10% answer share
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

    @Test("small cohorts are not judged for loss: chance explains a few missing answers")
    func smallCohortsNotJudged() {
        var driver = WindowDriver(ceiling: 16384)
        for _ in 0..<4 { driver.round() }
        // 100 launches expect 10 answers, under the 20 a judgement needs; none came.
        driver.round(launches: 100, answerShare: 0, full: false)
        #expect(driver.round(launches: 100, full: false) == nil)
        #expect(driver.window.lastTrouble == nil)
    }

    @Test("local errors: the window drops to what is in flight at once and slow start ends")
    func localErrorShrinks() {
        var driver = WindowDriver(ceiling: 16384)
        driver.round()
        driver.round()
        #expect(driver.window.size == 1024)
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
        driver.window.noteLoopDelay(nanoseconds: 30_000_000)
        #expect(driver.round(rtt: 40_000_000) == .grew)
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
        for _ in 0..<7 { driver.round() }
        #expect(driver.window.size == 16384)
        var cuts = 0
        for _ in 0..<40 where driver.round(answerShare: 0.03) == .shrank(.loss) { cuts += 1 }
        #expect(cuts >= 4, "\(cuts) cuts")
        #expect(driver.window.size <= 1024)
        #expect(driver.window.lastTrouble == .loss)
    }
}
