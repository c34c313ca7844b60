import Foundation
import MailPortConfig
import MailPortCore
import MailPortDiscovery
import MailPortTargets
import MailPortTestSupport
import Testing

@testable import MailPortScan

@Suite("Hosts are made and judged in runs on all cores")
struct AssemblyPartsTests {
    /// What the finisher saw, to check that every host went through `finish` once and the runs merged in order.
    struct Seen: Sendable {
        var addresses: [String] = []
        var endpoints = 0
    }

    /// 300 hosts answering on a few ports each, with a dialog on every open one.
    static func discovered() throws -> (ScanSettings, TargetSpace, DiscoveryResults) {
        var values = OptionValues()
        values.targets = ["127.66.0.0/23"]
        let settings = try ScanSettings.resolve(values, defaultFailOn: .never)
        let space = try TargetSpace(targets: settings.targets, resolver: StaticResolver([:]))
        var results = DiscoveryResults()
        for index in 0..<300 {
            let address = IPAddress.v4(0x7f42_0000 + UInt32(index * 3 % 512))
            for (offset, port) in settings.ports.enumerated() where (index + offset) % 3 == 0 {
                results.record(
                    PortObservation(
                        probe: Probe(address: address, port: port), state: offset % 2 == 0 ? .open : .closed,
                        reason: offset % 2 == 0 ? .synAck : .reset, roundTripNanoseconds: 1_000_000, attempts: 1))
            }
        }
        return (settings, space, results)
    }

    @Test("split into runs, the hosts, their order and what finishing them gathered equal one run's, spooled or not")
    func partsEqualOneRun() throws {
        let (settings, space, results) = try Self.discovered()
        #expect(results.hostsWithOpenPorts.count > 200)
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try RecordSpool(directory: directory)
        func assembled(parts: Int, spooled: Bool) -> (ScanReport, Seen) {
            ReportAssembly.assemble(
                settings: settings, space: space, mxSpace: nil, results: results,
                dialog: { key in
                    var observation = DialogObservation()
                    observation.banner = "220 \(key.address) port \(key.port)"
                    return observation
                },
                counters: DiscoveryProgress(), complete: true, startedAt: Date(timeIntervalSince1970: 0),
                finishedAt: Date(timeIntervalSince1970: 1), hosts: spooled ? HostList(spooledIn: spool) : HostList(),
                finisher: Seen(),
                finish: { seen, host in
                    seen.addresses.append(host.address)
                    seen.endpoints += host.endpoints.count
                    var host = host
                    host.grade = Grade(rawValue: host.endpoints.filter { $0.state == .open }.count > 1 ? "C" : "A")
                    return host
                },
                merge: { seen, later in
                    seen.addresses += later.addresses
                    seen.endpoints += later.endpoints
                },
                parts: parts)
        }
        let (whole, seen) = assembled(parts: 1, spooled: false)
        #expect(whole.hosts.count == results.hostsWithOpenPorts.count)
        #expect(seen.addresses == whole.hosts.map(\.address) && seen.addresses.count == whole.hosts.count)
        #expect(
            whole.hosts.contains { $0.grade?.rawValue == "C" } && whole.hosts.contains { $0.grade?.rawValue == "A" })
        for parts in [2, 3, 7] {
            for spooled in [false, true] {
                let (split, splitSeen) = assembled(parts: parts, spooled: spooled)
                #expect(split.hosts.isSpooled == spooled)
                #expect(split.hosts.array == whole.hosts.array, "\(parts) runs, spooled \(spooled)")
                #expect(splitSeen.addresses == seen.addresses && splitSeen.endpoints == seen.endpoints)
            }
        }
    }
}

@Suite("Runs of consecutive hosts")
struct ConsecutiveRunsTests {
    @Test("runs cover every item once, in order, one per core up to the cap, none below the minimum size")
    func runs() {
        func covers(_ runs: [Range<Int>], _ count: Int) -> Bool {
            runs.first?.lowerBound == 0 && runs.last?.upperBound == count
                && zip(runs, runs.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }
        }
        #expect(consecutiveRuns(of: 0, minimum: 64, cores: 4) == [0..<0])
        #expect(consecutiveRuns(of: 100, minimum: 64, cores: 4) == [0..<100], "too few for two runs of 64")
        #expect(consecutiveRuns(of: 128, minimum: 64, cores: 4) == [0..<64, 64..<128])
        let many = consecutiveRuns(of: 100_000, minimum: 64, cores: 64)
        #expect(many.count == maximumConsecutiveRuns && covers(many, 100_000))
        #expect(Set(many.map(\.count)).isSubset(of: [12_500]))
        let odd = consecutiveRuns(of: 1_001, minimum: 64, cores: 3)
        #expect(odd.count == 3 && covers(odd, 1_001) && odd.allSatisfy { $0.count >= 333 })
        #expect(consecutiveRuns(of: 10, minimum: 64, parts: 3).count == 3, "parts overrides the minimum")
        #expect(covers(consecutiveRuns(of: 10, minimum: 64, parts: 3), 10))
    }
}
