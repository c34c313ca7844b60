import MailPortCore

/// What discovery found, kept compactly: only hosts that answered at all (open or closed) have an entry, because
/// in a sweep most addresses never answer and must not cost memory. A probe with no entry ended without an answer.
public struct DiscoveryResults: Sendable {
    public struct PortResult: Sendable, Equatable {
        public var port: PortSpec
        public var state: PortState
        public var reason: StateReason
        public var roundTripNanoseconds: UInt64?
    }

    public private(set) var answeringHosts: [IPAddress: [PortResult]] = [:]
    public private(set) var open: UInt64 = 0
    public private(set) var closed: UInt64 = 0
    public private(set) var filtered: UInt64 = 0

    public init() {}

    public mutating func record(_ observation: PortObservation) {
        let result = PortResult(
            port: observation.probe.port, state: observation.state, reason: observation.reason,
            roundTripNanoseconds: observation.roundTripNanoseconds
        )
        switch observation.state {
        case .open:
            open += 1
            answeringHosts[observation.probe.address, default: []].append(result)
        case .closed:
            closed += 1
            answeringHosts[observation.probe.address, default: []].append(result)
        case .filtered:
            filtered += 1
            // Unanswered probes are the default: only counted, and stored (with their reason, an ICMP error or
            // silence) only for hosts already known to answer. Storing every ICMP "unreachable" would make memory
            // grow with the address space: a /12 where every address is unreachable peaked at 393 MiB that way.
            if answeringHosts[observation.probe.address] != nil {
                answeringHosts[observation.probe.address, default: []].append(result)
            }
        }
    }

    /// Hosts with at least one open port, in address order.
    public var hostsWithOpenPorts: [IPAddress] {
        answeringHosts.compactMap { entry in entry.value.contains { $0.state == .open } ? entry.key : nil }.sorted()
    }

    /// Hosts that answered on at least one port (open or closed), in address order.
    public var answeringAddresses: [IPAddress] {
        answeringHosts.compactMap { entry in entry.value.contains { $0.state != .filtered } ? entry.key : nil }.sorted()
    }

    /// Hosts that answered on at least one port (open or closed).
    public var hostsUp: Int {
        answeringHosts.values.filter { $0.contains { $0.state != .filtered } }.count
    }

    /// The per-port results of `host` for every port in `ports`. With `complete`, a port without a stored result
    /// got no answer; otherwise (an interrupted run) it is left out, since it may never have been probed.
    public func results(for host: IPAddress, ports: [PortSpec], complete: Bool) -> [PortResult] {
        let known = answeringHosts[host] ?? []
        return ports.compactMap { port in
            if let result = known.first(where: { $0.port == port }) { return result }
            return complete
                ? PortResult(port: port, state: .filtered, reason: .noResponse, roundTripNanoseconds: nil) : nil
        }
    }
}
