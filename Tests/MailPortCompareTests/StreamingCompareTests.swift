import Foundation
import MailPortCompare
import MailPortCore
import MailPortTestSupport
import Testing

@testable import MailPortReport

/// Large reports for merge, diff and baseline: the demo fixture's four hosts copied under new addresses.
enum LargeReports {
    static func whole(hosts count: Int) throws -> ScanReport {
        var report = try Reports.demo()
        let model = report.hosts.array
        report.hosts = HostList(
            (0..<count).map { index in
                var host = model[index % model.count]
                host.address = "10.\(index >> 16 & 255).\(index >> 8 & 255).\(index & 255)"
                return host
            })
        report.scan.seed = 7
        report.scan.targets = ["10.0.0.0/16"]
        return report
    }

    /// `whole` split into `count` shard reports the way a sharded scan lists them: each host and port pair in one
    /// shard (picked by a hash, so one host's ports land in several), a host listed by every shard that saw one of
    /// its pairs; plus one host that only refused, listed by shard 0.
    static func shards(of whole: ScanReport, count: Int) -> [ScanReport] {
        var shards: [ScanReport] = (0..<count).map { index in
            var shard = whole
            shard.hosts = []
            shard.scan.shard = "\(index)/\(count)"
            return shard
        }
        for host in whole.hosts {
            for index in 0..<count {
                var part = host
                part.endpoints = host.endpoints.filter { endpoint in
                    var hasher = Hasher()
                    hasher.combine(host.address)
                    hasher.combine(endpoint.port)
                    return Int(UInt(bitPattern: hasher.finalize()) % UInt(count)) == index
                }
                if !part.endpoints.isEmpty { shards[index].hosts.append(part) }
            }
        }
        var refusing = whole.hosts[0]
        refusing.address = "10.255.255.254"
        refusing.endpoints = refusing.endpoints.map { endpoint in
            var closed = endpoint
            closed.state = .closed
            closed.findings = []
            closed.dialog = nil
            return closed
        }
        shards[0].hosts.append(refusing)
        return shards
    }

    /// The report written to a file and read back as the commands read it, its hosts spooled.
    static func spooled(_ report: ScanReport, _ name: String) throws -> (report: ScanReport, file: String) {
        let directory = makeTemporaryDirectory()
        let path = directory + "/" + name
        try AtomicFile.write(try JSONReportWriter.encode(report), to: path)
        let read = try ReportReader.read(path, spoolDirectory: directory, spoolAbove: 0)
        #expect(read.hosts.isSpooled)
        return (read, path)
    }

    /// A later scan of `old`: on every 50th host a port closed, a finding re-rated and one gone, a finding new and the
    /// grade worse, or the certificates changed.
    static func later(_ old: ScanReport) -> ScanReport {
        var report = old
        // Twenty hosts change, five of each kind, whatever the size of the report (80 hosts at least). Host i is a copy
        // of fixture host i % 4: a step of 2 modulo 4 takes fixture hosts 0 and 2 in turn, which each kind needs.
        var step = report.hosts.count / 20
        while step % 4 != 2 { step -= 1 }
        for index in (0..<20).map({ $0 * step }) {
            var host = report.hosts[index]
            switch index / step % 4 {
            case 0:
                let open = host.endpoints.firstIndex { $0.state == .open }!
                host.endpoints[open].state = .closed
                host.endpoints[open].findings = []
            case 1:
                let rated = host.endpoints.firstIndex { !$0.findings.isEmpty }!
                let severity = host.endpoints[rated].findings[0].severity
                host.endpoints[rated].findings[0].severity = severity == .critical ? .low : .critical
                host.endpoints[rated].findings.removeLast()
            case 2:
                host.endpoints[1].findings.append(
                    ScanReport.Finding(rule: "MP-CERT-EXPIRING", severity: .medium, title: "Soon", evidence: "9 days"))
                host.grade = .f
            default:
                for e in host.endpoints.indices where host.endpoints[e].dialog?.tls?.certificate != nil {
                    host.endpoints[e].dialog?.tls?.certificate?.sha256 = String(repeating: "e", count: 64)
                }
            }
            report.hosts[index] = host
        }
        return report
    }
}

/// The merge as it was before it streamed (every shard's hosts in one dictionary), for comparison.
func referenceMergedHosts(_ shards: [ScanReport]) -> [ScanReport.Host] {
    var hosts: [String: ScanReport.Host] = [:]
    var order: [String] = []
    for report in shards {
        for host in report.hosts {
            if var known = hosts[host.address] {
                known.endpoints += host.endpoints
                known.names = Array(Set(known.names).union(host.names)).sorted()
                known.groups = Array(Set(known.groups).union(host.groups)).sorted()
                known.declaredMX = known.declaredMX || host.declaredMX
                hosts[host.address] = known
            } else {
                hosts[host.address] = host
                order.append(host.address)
            }
        }
    }
    let first = shards[0]
    let portOrder = Dictionary(uniqueKeysWithValues: first.scan.ports.enumerated().map { ($1.port, $0) })
    return order.sorted { (IPAddress($0) ?? .v4(0), $0) < (IPAddress($1) ?? .v4(0), $1) }.map { address in
        var host = hosts[address]!
        for spec in first.scan.ports where !host.endpoints.contains(where: { $0.port == spec.port }) {
            host.endpoints.append(
                ScanReport.Endpoint(
                    port: spec.port, state: .filtered, stateReason: .noResponse, service: spec.service,
                    transport: spec.service.expectedTransport, rttMs: nil))
        }
        host.endpoints.sort { (portOrder[$0.port] ?? Int.max) < (portOrder[$1.port] ?? Int.max) }
        return host
    }.filter { host in host.endpoints.contains { $0.state == .open } }
}

@Suite("Merge, diff and baseline over reports read host by host")
struct StreamingCompareTests {
    @Test("4 shards of 400 hosts: spooled and in-memory merges equal the dictionary merge and the whole scan")
    func merge() throws {
        let whole = try LargeReports.whole(hosts: 400)
        let shards = LargeReports.shards(of: whole, count: 4)
        let listed = shards.map(\.hosts.count)
        #expect(listed.count == 4 && listed.allSatisfy { $0 > 200 }, "one host's ports are spread: \(listed)")
        let inMemory = try ShardMerge.merge(shards.enumerated().map { ($1, "shard-\($0).json") })
        let read = try shards.enumerated().map { try LargeReports.spooled($1, "shard-\($0).json") }
        let spooled = try ShardMerge.merge(read)
        #expect(spooled.hosts.isSpooled && !inMemory.hosts.isSpooled)
        #expect(spooled.hosts.count == 400 && inMemory.hosts.count == 400, "the host that only refused is dropped")
        #expect(spooled.hosts.array == referenceMergedHosts(shards))
        #expect(spooled.hosts == whole.hosts, "every pair was listed by one shard: the whole scan's hosts")
        var sameFiles = inMemory
        sameFiles.scan.incompleteReason = spooled.scan.incompleteReason
        #expect(spooled == sameFiles)
        #expect(spooled.summary.hostsWithOpenPorts == 400 && spooled.scan.mergedShards == 4)
        // Written host by host, the merged report is the bytes of the in-memory one.
        #expect(try JSONReportWriter.encode(spooled) == JSONReportWriter.encode(inMemory))
    }

    @Test("a port no shard listed is filtered once all shards are in; hosts of a shard keep their names and groups")
    func unlistedPorts() throws {
        var whole = try LargeReports.whole(hosts: 40)
        whole.hosts[3].endpoints.removeLast()
        whole.hosts[5].names = ["mx.example.org"]
        let shards = LargeReports.shards(of: whole, count: 3)
        let merged = try ShardMerge.merge(try shards.enumerated().map { try LargeReports.spooled($1, "s\($0).json") })
        #expect(merged.hosts.array == referenceMergedHosts(shards))
        #expect(merged.hosts.count == 40)
        #expect(merged.hosts[3].endpoints.count == whole.scan.ports.count)
        #expect(merged.hosts[3].endpoints.last?.state == .filtered)
        #expect(merged.hosts[5].names == ["mx.example.org"])
    }

    @Test("diff of two 400-host files read host by host says what the in-memory diff says")
    func diff() throws {
        // 400 hosts: files of several of the reader's chunks (checked below), and light enough for the fast tier.
        let old = try LargeReports.whole(hosts: 400)
        let new = LargeReports.later(old)
        let expected = ReportDiff(old: old, new: new)
        #expect(expected.closedEndpoints.count == 5 && expected.openedEndpoints.isEmpty)
        #expect(expected.severityChanges.count == 5 && expected.newFindings.count == 5)
        #expect(expected.resolvedFindings.count >= 5)
        #expect(expected.certificateChanges.count >= 5 && expected.gradeChanges.count == 5)
        func side(_ report: ScanReport, _ name: String) throws -> ReportDiff.Side {
            let (_, path) = try LargeReports.spooled(report, name)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            #expect(size > 4 * ReportReader.chunkSize, "\(name): \(size) bytes, read in several chunks")
            var side = ReportDiff.Side()
            let frame = try ReportReader.stream(path) { host throws(MailPortError) in side.add(host) }
            side.finish(frame)
            return side
        }
        let streamed = ReportDiff(old: try side(old, "old.json"), new: try side(new, "new.json"))
        #expect(streamed.describe() == expected.describe())
        #expect(streamed.describe().split(separator: "\n").count > 20)
        #expect(streamed.isWorse == expected.isWorse && streamed.isWorse)
    }

    @Test("--baseline against a 400-host file read host by host marks the same as against the report in memory")
    func baseline() throws {
        let old = try LargeReports.whole(hosts: 400)
        let new = LargeReports.later(old)
        let expected = Baseline.mark(new, against: old, oldFile: "old.json")
        let (_, path) = try LargeReports.spooled(old, "old.json")
        var earlier = Baseline.Earlier(file: "old.json")
        let frame = try ReportReader.stream(path) { host throws(MailPortError) in earlier.add(host) }
        earlier.finish(frame)
        let marked = Baseline.mark(new, against: earlier)
        #expect(marked == expected)
        let comparison = try #require(marked.baseline)
        #expect(comparison.newFindings >= 5 && comparison.unchangedFindings > 400)
        #expect(comparison.resolved.count >= 5)
    }
}
