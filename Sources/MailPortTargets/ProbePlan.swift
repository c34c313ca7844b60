import MailPortCore

/// Every host×port pair of a scan, visited in the seeded permuted order. A `Sequence`, so discovery pulls probes
/// one at a time and nothing proportional to the target space is ever held in memory.
public struct ProbePlan: Sequence, Sendable {
    /// Scans above this many probes need `--allow-large`: a typo such as /8 for /28 should not start 117 M probes.
    public static let largeScanThreshold: UInt64 = 1 << 20
    /// Beyond this the plan is refused outright (about 16 million /24s worth of mail ports).
    public static let hardLimit: UInt64 = 1 << 40

    public let space: TargetSpace
    public let ports: [PortSpec]
    public let permutation: ProbePermutation

    /// Number of probes in the plan.
    public var count: UInt64 { permutation.size }

    public init(space: TargetSpace, ports: [PortSpec], seed: UInt64, allowLarge: Bool) throws(MailPortError) {
        guard !ports.isEmpty else { throw .invalidInput("no ports to scan; expected at least one port") }
        guard !space.addresses.isEmpty else {
            throw .invalidInput("every target is excluded; expected at least one address left after --exclude")
        }
        let hosts = space.addresses.count
        let (total, overflow) = hosts.multipliedReportingOverflow(by: UInt128(ports.count))
        guard !overflow, total <= UInt128(ProbePlan.hardLimit) else {
            throw .invalidInput("target space of \(hosts) addresses × \(ports.count) ports is too large; expected at most \(ProbePlan.hardLimit) probes (2^40) per run (split it with --shard)")
        }
        if UInt64(total) > ProbePlan.largeScanThreshold && !allowLarge {
            throw .invalidInput("\(total) probes (\(hosts) addresses × \(ports.count) ports) is more than \(ProbePlan.largeScanThreshold) (2^20); expected --allow-large to confirm a scan this size")
        }
        self.space = space
        self.ports = ports
        self.permutation = ProbePermutation(size: UInt64(total), seed: seed)
    }

    /// The probe for a value of the permutation: the host is value / ports, the port value % ports.
    public func probe(forValue value: UInt64) -> Probe {
        let portCount = UInt64(ports.count)
        let address = space.addresses.address(at: UInt128(value / portCount))
        return Probe(address: address, port: ports[Int(value % portCount)])
    }

    public func makeIterator() -> Iterator {
        Iterator(plan: self)
    }

    public struct Iterator: IteratorProtocol {
        let plan: ProbePlan
        var position: UInt64 = 0

        public mutating func next() -> Probe? {
            guard position < plan.count else { return nil }
            defer { position += 1 }
            return plan.probe(forValue: plan.permutation.value(at: position))
        }
    }
}
