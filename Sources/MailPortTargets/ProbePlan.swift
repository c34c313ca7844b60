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
    /// This machine's part of the permuted order (`--shard I/N`): positions I, I+N, I+2N, … Machines with the same
    /// seed and targets and shards 0…N-1 together visit every host×port pair exactly once.
    public let shard: Shard

    /// Number of probes in this plan (this shard's share).
    public var count: UInt64 { shard.count(of: permutation.size) }

    public init(
        space: TargetSpace, ports: [PortSpec], seed: UInt64, allowLarge: Bool, shard: Shard = .whole
    )
        throws(MailPortError)
    {
        guard !ports.isEmpty else { throw .invalidInput("no ports to scan; expected at least one port") }
        guard !space.addresses.isEmpty else {
            throw .invalidInput("every target is excluded; expected at least one address left after --exclude")
        }
        let hosts = space.addresses.count
        let (total, overflow) = hosts.multipliedReportingOverflow(by: UInt128(ports.count))
        guard !overflow, total <= UInt128(UInt64.max), shard.count(of: UInt64(total)) <= ProbePlan.hardLimit else {
            throw .invalidInput(
                "target space of \(hosts) addresses × \(ports.count) ports is too large; expected at most \(ProbePlan.hardLimit) probes (2^40) per run (split it with --shard)"
            )
        }
        let mine = shard.count(of: UInt64(total))
        if mine > ProbePlan.largeScanThreshold && !allowLarge {
            throw .invalidInput(
                "\(mine) probes (\(hosts) addresses × \(ports.count) ports\(shard.isWhole ? "" : ", shard \(shard)")) is more than \(ProbePlan.largeScanThreshold) (2^20); expected --allow-large to confirm a scan this size"
            )
        }
        self.space = space
        self.ports = ports
        self.permutation = ProbePermutation(size: UInt64(total), seed: seed)
        self.shard = shard
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
        var position: UInt64

        init(plan: ProbePlan) {
            self.plan = plan
            self.position = plan.shard.index
        }

        public mutating func next() -> Probe? {
            guard position < plan.permutation.size else { return nil }
            defer { position += plan.shard.total }
            return plan.probe(forValue: plan.permutation.value(at: position))
        }
    }
}

/// `--shard I/N`: part I (0-based, like a Kubernetes completion index) of N.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: UInt64
    public let total: UInt64

    public static let whole = Shard(uncheckedIndex: 0, total: 1)

    private init(uncheckedIndex index: UInt64, total: UInt64) {
        self.index = index
        self.total = total
    }

    /// Parses `I/N` with 0 ≤ I < N ≤ 65536.
    public init(_ text: String) throws(MailPortError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = UInt64(parts[0]), let total = UInt64(parts[1]), total >= 1, total <= 65536,
            index < total
        else {
            throw .invalidInput(
                "invalid --shard '\(printable(text))'; expected I/N with N from 1 to 65536 and I from 0 to N-1 (e.g. 0/4)"
            )
        }
        self.init(uncheckedIndex: index, total: total)
    }

    public var isWhole: Bool { total == 1 }

    /// Positions I, I+N, … below `size`.
    public func count(of size: UInt64) -> UInt64 {
        size > index ? (size - index - 1) / total + 1 : 0
    }

    public var description: String { "\(index)/\(total)" }
}
