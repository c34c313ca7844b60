/// The layer-4 verdict for one host×port probe.
public enum PortState: String, Codable, Sendable, CaseIterable {
    /// The three-way handshake completed.
    case open
    /// The host answered with a reset: reachable, nothing listening.
    case closed
    /// No answer within the timeout (after the retry), or an ICMP unreachable: something is in the way.
    case filtered
}

/// Why discovery reached its verdict; kept so an auditor can tell a firewall's drop from its reject.
public enum StateReason: String, Codable, Sendable {
    case synAck = "syn-ack"
    case reset
    case noResponse = "no-response"
    case hostUnreachable = "host-unreachable"
    case networkUnreachable = "network-unreachable"
    case adminProhibited = "admin-prohibited"
    case localError = "local-error"
}

/// One host×port pair to probe.
public struct Probe: Hashable, Sendable {
    public var address: IPAddress
    public var port: PortSpec

    public init(address: IPAddress, port: PortSpec) {
        self.address = address
        self.port = port
    }
}

/// What discovery saw for one probe. A fact, not a judgement: rules decide what an open port means.
public struct PortObservation: Hashable, Sendable {
    public var probe: Probe
    public var state: PortState
    public var reason: StateReason
    /// Round-trip time of the connect, when the host answered at all.
    public var roundTripNanoseconds: UInt64?
    /// How many connection attempts were made (1, or 2 after a retry).
    public var attempts: Int

    public init(probe: Probe, state: PortState, reason: StateReason, roundTripNanoseconds: UInt64?, attempts: Int) {
        self.probe = probe
        self.state = state
        self.reason = reason
        self.roundTripNanoseconds = roundTripNanoseconds
        self.attempts = attempts
    }
}
