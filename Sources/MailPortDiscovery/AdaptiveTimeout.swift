/// The connect timeout, following the round-trip times of answered probes.
///
/// RFC 6298's estimator (smoothed RTT plus four deviations), clamped between a floor and the user's `--timeout`.
/// Until the first answer the full bound applies. Because waiting probes are checked against the *current* value,
/// a first wave launched under the cautious bound is released as soon as answers show the network is fast.
struct AdaptiveTimeout {
    private(set) var smoothed: Double?
    private var variation: Double = 0
    let floor: Double
    let ceiling: Double
    let enabled: Bool

    init(floorNanoseconds: UInt64, ceilingNanoseconds: UInt64, enabled: Bool) {
        floor = Double(floorNanoseconds)
        ceiling = Double(ceilingNanoseconds)
        self.enabled = enabled
    }

    mutating func record(roundTripNanoseconds sample: UInt64) {
        let value = Double(sample)
        if let srtt = smoothed {
            variation = 0.75 * variation + 0.25 * abs(srtt - value)
            smoothed = 0.875 * srtt + 0.125 * value
        } else {
            smoothed = value
            variation = value / 2
        }
    }

    /// The timeout in nanoseconds for a first attempt.
    var current: UInt64 {
        guard enabled, let srtt = smoothed else { return UInt64(ceiling) }
        return UInt64(min(ceiling, max(floor, srtt + 4 * variation)))
    }

    /// The timeout for a retry: twice the estimate, so an answer that came too late for the first attempt has room,
    /// but not twice the floor. Where answers take microseconds the floor is already thousands of round trips; a
    /// doubled floor only held every unanswered probe's slot 100 ms longer (a third of a /16's discovery time), and
    /// what a retry is for there is a lost packet, not a slow one (nmap's retransmissions keep the probe timeout).
    var retry: UInt64 {
        guard enabled, let srtt = smoothed else { return UInt64(ceiling) }
        return UInt64(min(ceiling, max(floor, 2 * (srtt + 4 * variation))))
    }
}
