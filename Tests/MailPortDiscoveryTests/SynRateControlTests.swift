import Testing

@testable import MailPortDiscovery

/// Feeds a SynRateControl a simulated first pass, millisecond by millisecond: SYNs at the controller's rate (or what
/// a busy sender manages), ticks of 7.8 ms as SynRun makes them, a share of them answered after `rtt` when they got
/// through a policer of `limit` packets/s, judged with a 200 ms cool-down.
private struct RateDriver {
    var control: SynRateControl
    var now: UInt64 = 0
    var answerShare = 0.1
    var rtt: UInt64 = 1_000_000
    /// A token-bucket policer on the path (nil: none).
    var limit: Double?
    /// The most the sender can send per second (a busy machine), nil for whatever the rate says.
    var senderLimit: Double?
    var changes: [SynRateControl.Change] = []
    /// (time, rate) after each simulated millisecond.
    var history: [(UInt64, Double)] = []
    var firstLossCutAt: UInt64?

    private var tick: UInt64 = 0
    private var tickStartedAt: UInt64 = 0
    private var owed = 0.0
    private var passed = 0.0
    private var answerCredit = 0.0
    private var policerTokens = 0.0
    private var pendingAnswers: [(at: UInt64, tick: UInt64, count: Int)] = []

    init(start: Double = 20_000, ceiling: Double = 1_000_000, adaptive: Bool = true) {
        control = SynRateControl(rate: start, adaptive: adaptive, ceiling: ceiling, now: 0)
    }

    mutating func run(seconds: Double) {
        let steps = Int(seconds * 1000)
        for _ in 0..<steps { step() }
    }

    private mutating func step() {
        now += 1_000_000
        if now &- tickStartedAt >= 7_812_500 {
            tick += 1
            tickStartedAt = now
        }
        owed += min(control.rate, senderLimit ?? .infinity) / 1000
        let sending = Int(owed)
        owed -= Double(sending)
        var through = sending
        if let limit {
            policerTokens = min(limit / 10, policerTokens + limit / 1000)
            through = min(sending, Int(policerTokens))
            policerTokens -= Double(through)
        }
        if sending > 0 { control.sent(tick: tick, now: now, count: sending) }
        answerCredit += Double(through) * answerShare
        let answers = Int(answerCredit)
        answerCredit -= Double(answers)
        if answers > 0 { pendingAnswers.append((now + rtt, tick, answers)) }
        while let first = pendingAnswers.first, first.at <= now {
            pendingAnswers.removeFirst()
            for _ in 0..<first.count { control.answered(tick: UInt8(truncatingIfNeeded: first.tick)) }
        }
        if let change = control.update(now: now, settle: 200_000_000) {
            changes.append(change)
            if change == .cut(.loss), firstLossCutAt == nil { firstLossCutAt = now }
        }
        history.append((now, control.rate))
    }

    /// The mean rate over the last `seconds`.
    func meanRate(lastSeconds seconds: Double) -> Double {
        let recent = history.suffix(Int(seconds * 1000))
        return recent.map(\.1).reduce(0, +) / Double(max(1, recent.count))
    }
}

@Suite("The adaptive SYN rate")
struct SynRateControlTests {
    @Test("a clean path: the rate doubles on each clean group up to the ceiling, and is never cut")
    func growsToCeiling() {
        var driver = RateDriver()
        driver.run(seconds: 4)
        #expect(driver.control.rate == 1_000_000)
        #expect(!driver.changes.contains { if case .cut = $0 { true } else { false } })
        // Six doublings from 20,000: each waits for a group sent at the new rate to be judged (cool-down 200 ms).
        let reached = driver.history.first { $0.1 >= 1_000_000 }?.0 ?? .max
        #expect(reached < 3_000_000_000, "ceiling reached after \(Double(reached) / 1e9) s")
        #expect(reached > 1_000_000_000, "grew faster than the evidence allows")
        // Answers come, so the usual share is learnt at the starting rate: no doubling on the clock before it.
        #expect(driver.history[219].1 == 20_000)
    }

    @Test(
        "a policer (60,000 or 250,000 packets/s): the rate settles near it, not far above, not far below",
        arguments: [60_000.0, 250_000.0])
    func settlesUnderPolicer(limit: Double) {
        var driver = RateDriver()
        driver.limit = limit
        driver.run(seconds: 15)
        let mean = driver.meanRate(lastSeconds: 10)
        print(
            "policer \(Int(limit)): mean rate over the last 10 s \(Int(mean)), cuts \(driver.changes.filter { $0 == .cut(.loss) }.count)"
        )
        #expect(driver.changes.contains(.cut(.loss)))
        #expect(driver.control.lossEstimate.map { $0 > limit * 0.8 && $0 < limit * 1.2 } == true)
        #expect(mean > limit * 0.75, "too far below the limit: \(mean)")
        // The cut lands under what got through, not at half the rate that overshot.
        let lowest = driver.history.filter { $0.0 >= (driver.firstLossCutAt ?? .max) }.map(\.1).min() ?? 0
        #expect(lowest >= limit * 0.7, "cut to \(lowest)")
        #expect(mean < limit * 1.15, "too far above the limit: \(mean)")
        #expect(!driver.control.slowStart)
    }

    @Test("a busy sender: the rate is not raised far beyond what goes out")
    func busySender() {
        var driver = RateDriver()
        driver.senderLimit = 100_000
        driver.run(seconds: 5)
        #expect(driver.control.rate <= 200_000)
        #expect(driver.control.rate >= 100_000)
    }

    @Test("dark space (nothing answers): the rate grows on the clock")
    func darkSpace() {
        var driver = RateDriver()
        driver.answerShare = 0
        driver.run(seconds: 2)
        #expect(driver.control.rate == 1_000_000)
        #expect(driver.history[219].1 == 40_000, "no doubling after the first 200 ms")
    }

    @Test("capture drops halve the rate; a full send queue takes a quarter off; both at most once per 200 ms")
    func localSigns() {
        var control = SynRateControl(rate: 100_000, adaptive: true, ceiling: 1_000_000, now: 0)
        #expect(control.captureDrops(total: 0, now: 1_000_000) == nil)
        #expect(control.captureDrops(total: 5, now: 2_000_000) == .cut(.captureDrops))
        #expect(control.rate == 50_000)
        #expect(!control.slowStart)
        #expect(control.captureDrops(total: 9, now: 100_000_000) == nil, "within 200 ms of the last cut")
        #expect(control.captureDrops(total: 9, now: 300_000_000) == nil, "no new drops")
        #expect(control.sendQueueFull(now: 310_000_000) == .cut(.sendQueueFull))
        #expect(control.rate == 37_500)
        #expect(control.sendQueueFull(now: 320_000_000) == nil)
        #expect(control.freeze() == nil, "no loss estimate to hold the retries under")
        #expect(control.captureDrops(total: 20, now: 900_000_000) == .cut(.captureDrops), "local signs count after")
    }

    @Test("--rate given: the rate stays whatever happens")
    func fixedRate() {
        var driver = RateDriver(start: 50_000, adaptive: false)
        driver.limit = 10_000
        driver.run(seconds: 3)
        #expect(driver.control.rate == 50_000)
        #expect(driver.changes.isEmpty)
        #expect(driver.control.captureDrops(total: 10, now: driver.now) == nil)
    }
}

extension SynRateControlTests {
    @Test(
        "after loss the retries go out under the limit, wherever the first pass's rate had crept to", arguments: 5...9)
    func retriesUnderTheLimit(seconds: Int) throws {
        var driver = RateDriver()
        driver.limit = 60_000
        driver.run(seconds: Double(seconds))
        _ = try #require(driver.control.lossEstimate)
        let change = driver.control.freeze()
        #expect(driver.control.rate <= 60_000, "retries above the limit")
        #expect(driver.control.rate >= 60_000 * 0.7, "retries far below the limit")
        #expect(change == nil || change == .cut(.loss))
        // Frozen: no judging, no growth.
        let frozenAt = driver.control.rate
        driver.run(seconds: 2)
        #expect(driver.control.rate == frozenAt)
        #expect(driver.control.freeze() == nil)
    }

    @Test("one loss alone (a usual share learnt by chance too high): growth after the cut is not slowed to a crawl")
    func singleCutRecovers() {
        var driver = RateDriver()
        driver.run(seconds: 1.2)
        // A passing loss: three tenths of the answers of 100 ms vanish, then the path is clean again.
        driver.limit = driver.control.rate * 0.7 / 2
        driver.run(seconds: 0.1)
        driver.limit = nil
        driver.run(seconds: 0.4)
        let cut = driver.control.rate
        #expect(driver.changes.contains(.cut(.loss)))
        driver.run(seconds: 3)
        // A sixteenth per clean group sent after the last growth (about every 300 ms here: 1.8 times in three
        // seconds); on a plateau, once a second, it would be 1.2 times.
        #expect(driver.control.rate >= cut * 1.5, "from \(cut) to \(driver.control.rate) in 3 s")
        let frozen = driver.control
        var copy = frozen
        _ = copy.freeze()
        #expect(copy.rate >= driver.control.rate * 0.85, "the retries held at the old estimate")
    }
}

extension SynRateControlTests {
    @Test("a usual share learnt from its first answers a third too high by chance is not taken for loss")
    func noisyUsualShare() {
        var driver = RateDriver()
        // The first ticks (which make the usual share) answer at 13%, everything after at the path's 9.5%.
        driver.answerShare = 0.13
        driver.run(seconds: 0.025)
        driver.answerShare = 0.095
        driver.run(seconds: 3)
        #expect(!driver.changes.contains(.cut(.loss)), "\(driver.control.lossEvidence)")
        #expect(driver.control.rate == 1_000_000)
    }
}
