/// The rate limiter of both discovery modes (`--rate`): tokens refill at `rate` per second up to a burst of about
/// 4 ms of sending, so a loop that wakes every millisecond or so is not capped by its own granularity, yet no burst
/// is large. Without a rate it never runs dry.
struct TokenBucket {
    private(set) var rate: Double?
    private(set) var tokens: Double
    private var lastRefill: UInt64

    init(rate: Double?, now: UInt64) {
        self.rate = rate
        tokens = rate.map { max(1, $0 / 250) } ?? .infinity
        lastRefill = now
    }

    /// A new rate from now on (the adaptive SYN rate): the time since the last refill counts at the old rate; tokens
    /// on hand stay, within the new burst.
    mutating func setRate(_ newRate: Double, now: UInt64) {
        refill(now: now)
        rate = newRate
        tokens = min(tokens, burst)
    }

    var burst: Double { rate.map { max(1, $0 / 250) } ?? .infinity }

    mutating func refill(now: UInt64) {
        guard let rate else { return }
        tokens = min(burst, tokens + Double(now &- lastRefill) / 1e9 * rate)
        lastRefill = now
    }

    /// Whole tokens on hand (capped at `limit`).
    func available(limit: Int) -> Int { tokens.isInfinite ? limit : min(limit, Int(tokens)) }

    mutating func take(_ count: Int = 1) {
        if rate != nil { tokens -= Double(count) }
    }

    /// How long until one token is on hand (0 when one is).
    var nanosecondsUntilNext: UInt64 {
        guard let rate, tokens < 1 else { return 0 }
        return UInt64((1 - tokens) / rate * 1e9)
    }
}
