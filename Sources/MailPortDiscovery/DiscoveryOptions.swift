import MailPortCore

/// How hard and how fast connect discovery may push.
public struct DiscoveryOptions: Sendable {
    /// Connections in flight at most; clamped below the file-descriptor limit. With `adaptiveWindow` it is the
    /// ceiling of a window that starts small and follows what the network shows (ConnectWindow).
    public var concurrency: Int
    /// New connections per second; nil for no limit beyond `concurrency`.
    public var rate: Double?
    /// The user's upper bound on waiting for one connect.
    public var timeoutNanoseconds: UInt64
    /// The adaptive timeout never goes below this: a loaded scanner measures its own scheduling delays into the
    /// round-trip times, and the retry doubles the wait anyway.
    public var minimumTimeoutNanoseconds: UInt64
    /// Extra attempts for a probe that got no answer: one. The adaptive window grants up to three more to a probe
    /// whose attempts all went out while it judged answers were being lost (ConnectWindow).
    public var retries: Int
    /// Follow the round-trip times seen (RFC 6298 smoothing, as nmap does) instead of always waiting the full bound.
    public var adaptiveTimeout: Bool
    /// Size the window of connects in flight from what answers show (slow start, delay, loss, local errors) up to
    /// `concurrency`; false keeps `concurrency` in flight from the start.
    public var adaptiveWindow: Bool

    public init(
        concurrency: Int = 16384, rate: Double? = nil, timeoutNanoseconds: UInt64 = 1_000_000_000,
        minimumTimeoutNanoseconds: UInt64 = 100_000_000, retries: Int = 1, adaptiveTimeout: Bool = true,
        adaptiveWindow: Bool = true
    ) {
        self.concurrency = concurrency
        self.rate = rate
        self.timeoutNanoseconds = timeoutNanoseconds
        self.minimumTimeoutNanoseconds = min(minimumTimeoutNanoseconds, timeoutNanoseconds)
        self.retries = retries
        self.adaptiveTimeout = adaptiveTimeout
        self.adaptiveWindow = adaptiveWindow
    }
}

/// Counters of a discovery run, reported while it goes and at the end.
public struct DiscoveryProgress: Sendable, Equatable {
    public var planned: UInt64 = 0
    /// Probes with a final state.
    public var done: UInt64 = 0
    public var open: UInt64 = 0
    public var closed: UInt64 = 0
    public var filtered: UInt64 = 0
    public var retried: UInt64 = 0
    /// Sockets created: each slot of the window makes one and reuses it for probe after probe.
    public var socketsMade: UInt64 = 0
    public var inFlight: Int = 0
    /// Seconds since the run started.
    public var elapsed: Double = 0
    /// The connect timeout in force (milliseconds), as adapted to the round-trip times seen.
    public var currentTimeoutMs: Double = 0
    /// Connects allowed in flight now (the adaptive window, or the fixed concurrency).
    public var window: Int = 0
    /// SYN packets per second allowed now (the adaptive rate, or `--rate`), and the highest so far.
    public var sendRate: Double = 0
    public var highestSendRate: Double = 0

    public init() {}

    /// Probes finished per second so far.
    public var rate: Double { elapsed > 0 ? Double(done) / elapsed : 0 }

    /// Estimated seconds left at the current rate, nil before there is a rate.
    public var estimatedSecondsLeft: Double? {
        guard rate > 0, planned >= done else { return nil }
        return Double(planned - done) / rate
    }
}

/// How a discovery run ended.
public enum DiscoveryEnd: Sendable, Equatable {
    case finished
    /// Stopped early (SIGINT/SIGTERM): what was seen until then is still valid, but incomplete.
    case interrupted
}
