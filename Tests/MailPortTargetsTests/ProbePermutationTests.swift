import MailPortCore
import Testing

@testable import MailPortTargets

@Suite("Seeded permutation")
struct ProbePermutationTests {
    static let sizes: [UInt64] = [1, 2, 3, 4, 5, 7, 16, 17, 100, 1000, 4097, 65_536, 458_752]
    static let seeds: [UInt64] = [0, 1, 0xdead_beef, UInt64.max]

    @Test("is a bijection on 0..<size", arguments: sizes, seeds)
    func bijection(size: UInt64, seed: UInt64) {
        let permutation = ProbePermutation(size: size, seed: seed)
        var seen = [Bool](repeating: false, count: Int(size))
        for position in 0..<size {
            let value = permutation.value(at: position)
            #expect(value < size)
            if value < size {
                #expect(!seen[Int(value)], "value \(value) produced twice")
                seen[Int(value)] = true
            }
        }
        #expect(seen.allSatisfy { $0 })
    }

    @Test("the same seed gives the same order; another seed another order")
    func seedDeterminesOrder() {
        let first = (0..<1000).map { ProbePermutation(size: 1000, seed: 7).value(at: $0) }
        let again = (0..<1000).map { ProbePermutation(size: 1000, seed: 7).value(at: $0) }
        let other = (0..<1000).map { ProbePermutation(size: 1000, seed: 8).value(at: $0) }
        #expect(first == again)
        #expect(first != other)
        // Not the identity, nor close to it.
        #expect(zip(first, 0..<1000).filter { $0 == UInt64($1) }.count < 20)
    }

    @Test("no /24 and no host takes a burst: the first 2000 probes of a /16 × 7 ports are spread out")
    func spreadsLoad() throws {
        let space = try TargetSpace(targets: ["10.0.0.0/16"], resolver: StaticResolver([:]))
        let plan = try ProbePlan(
            space: space,
            ports: [
                .init(port: 25, service: .smtp), .init(port: 587, service: .submission),
                .init(port: 993, service: .imaps), .init(port: 110, service: .pop3),
                .init(port: 143, service: .imap), .init(port: 465, service: .submissions),
                .init(port: 995, service: .pop3s),
            ], seed: 3, allowLarge: true)
        var perSubnet: [UInt32: Int] = [:]
        var perHost: [String: Int] = [:]
        for probe in plan.prefix(2000) {
            guard case .v4(let value) = probe.address else { continue }
            perSubnet[value >> 8, default: 0] += 1
            perHost[probe.address.description, default: 0] += 1
        }
        // 2000 probes over 256 /24s average 7.8; a sequential order would put all 2000 in one or two.
        #expect(perSubnet.count > 200)
        #expect(perSubnet.values.max()! <= 25)
        #expect(perHost.values.max()! <= 3)
    }
}

@Suite("Shards")
struct ShardTests {
    @Test("shards 0…N-1 of one seed cover every host×port pair exactly once", arguments: [1, 2, 3, 7, 16])
    func coverage(_ count: Int) throws {
        let space = try TargetSpace(targets: ["192.0.2.0/28", "198.51.100.7"], resolver: StaticResolver([:]))
        let whole = try ProbePlan(space: space, ports: PortSpec.defaults, seed: 99, allowLarge: false)
        var seen: [Probe: Int] = [:]
        var planned: UInt64 = 0
        for index in 0..<count {
            let plan = try ProbePlan(
                space: space, ports: PortSpec.defaults, seed: 99, allowLarge: false,
                shard: try Shard("\(index)/\(count)"))
            planned += plan.count
            var visited: UInt64 = 0
            for probe in plan {
                seen[probe, default: 0] += 1
                visited += 1
            }
            #expect(visited == plan.count, "count matches what the shard visits")
        }
        #expect(planned == whole.count)
        #expect(seen.count == Int(whole.count) && seen.values.allSatisfy { $0 == 1 })
        #expect(Set(seen.keys) == Set(whole))
    }

    @Test("shard syntax: I/N with 0 ≤ I < N", arguments: ["3/3", "-1/2", "1/0", "a/b", "1", "0/65537"])
    func badShards(_ text: String) {
        #expect(throws: MailPortError.self) { try Shard(text) }
    }
}
