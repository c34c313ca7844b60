import MailPortCore
import MailPortTargets

/// `mailport merge`: joins the reports of a split scan (`--shard I/N`) into one. The shards must belong together —
/// same seed, targets, exclusions, ports, profile, mode and rule set, shard numbers 0…N-1 each exactly once — or
/// the merge is refused: a mixed-up set would silently miss or double part of the address space. A single whole
/// report passes through unchanged.
public enum ShardMerge {
    /// Where a shard lists a host.
    struct Position {
        var shard: Int
        var host: Int
    }

    /// The shards' hosts may be held in memory or spooled (`JSONReportWriter.read` spools large files); the merged
    /// report's hosts are spooled with them, so merging holds one address's hosts at a time.
    public static func merge(_ shards: [(report: ScanReport, file: String)]) throws(MailPortError) -> ScanReport {
        guard let (first, firstFile) = shards.first else {
            throw .invalidInput("no reports to merge; expected the shard reports of one scan")
        }
        // One whole (unsharded) report is a merge of one: pipelines that shard only sometimes need not special-case
        // it. It comes back as it is, to be judged again like any merge.
        if shards.count == 1, first.scan.shard == nil { return first }
        func mismatch(_ what: String, _ file: String) -> MailPortError {
            .invalidInput(
                "'\(printable(file))' has another \(what) than '\(printable(firstFile))'; expected shards of one scan (same --seed, targets, ports, profile and rules)"
            )
        }
        var indices: Set<UInt64> = []
        var total: UInt64?
        for (report, file) in shards {
            let scan = report.scan
            guard let text = scan.shard, let shard = try? Shard(text) else {
                throw .invalidInput(
                    "'\(printable(file))' is not a shard report (no scan.shard); expected reports of scans run with --shard I/N"
                )
            }
            guard scan.seed == first.scan.seed else { throw mismatch("seed", file) }
            guard scan.targets == first.scan.targets, scan.excludes == first.scan.excludes else {
                throw mismatch("target list", file)
            }
            guard scan.ports == first.scan.ports else { throw mismatch("port list", file) }
            guard scan.profile == first.scan.profile else { throw mismatch("profile", file) }
            guard scan.mode == first.scan.mode else { throw mismatch("discovery mode", file) }
            guard scan.rulesDigest == first.scan.rulesDigest else { throw mismatch("rule set", file) }
            if let total, total != shard.total {
                throw .invalidInput(
                    "'\(printable(file))' is shard \(text) but the others are of \(total); expected one N for all shards"
                )
            }
            total = shard.total
            guard indices.insert(shard.index).inserted else {
                throw .invalidInput("shard \(text) is given twice ('\(printable(file))'); expected each shard once")
            }
        }
        let missing = (0..<total!).filter { !indices.contains($0) }
        guard missing.isEmpty else {
            throw .invalidInput(
                "shards \(missing.map { "\($0)/\(total!)" }.joined(separator: ", ")) are missing; expected all \(total!) shard reports"
            )
        }

        var merged = first
        // Which shards list each address, and where: only this index is held; the hosts themselves are read again,
        // one address at a time (from disk, for shards too large to hold), and the merged hosts go to the same disk.
        var positions: [String: [Position]] = [:]
        for (shard, (report, _)) in shards.enumerated() {
            for (index, address) in report.hosts.addresses.enumerated() {
                positions[address, default: []].append(Position(shard: shard, host: index))
            }
        }
        let portOrder = Dictionary(uniqueKeysWithValues: first.scan.ports.enumerated().map { ($1.port, $0) })
        let allComplete = shards.allSatisfy { $0.report.scan.complete }
        var mergedHosts = shards.lazy.compactMap(\.report.hosts.spool).first.map { HostList(spooledIn: $0) } ?? []
        let order = positions.keys.map { (IPAddress($0) ?? .v4(0), $0) }.sorted { $0 < $1 }.map(\.1)
        for address in order {
            var merging: ScanReport.Host?
            for position in positions[address]! {
                let host = shards[position.shard].report.hosts[position.host]
                guard var known = merging else {
                    merging = host
                    continue
                }
                known.endpoints += host.endpoints
                known.names = Array(Set(known.names).union(host.names)).sorted()
                known.groups = Array(Set(known.groups).union(host.groups)).sorted()
                known.declaredMX = known.declaredMX || host.declaredMX
                merging = known
            }
            var host = merging!
            // Every pair was probed by exactly one shard, and shards list only the pairs that answered: once all
            // shards are in, a port no shard listed for this host was probed and got no answer.
            if allComplete {
                for spec in first.scan.ports where !host.endpoints.contains(where: { $0.port == spec.port }) {
                    host.endpoints.append(
                        ScanReport.Endpoint(
                            port: spec.port, state: .filtered, stateReason: .noResponse,
                            service: spec.service, transport: spec.service.expectedTransport,
                            rttMs: nil))
                }
            }
            host.endpoints.sort { (portOrder[$0.port] ?? Int.max) < (portOrder[$1.port] ?? Int.max) }
            // Shards list hosts that only refused too; the merged report, like a whole scan, lists hosts with an
            // open port.
            if host.endpoints.contains(where: { $0.state == .open }) { mergedHosts.append(host) }
        }
        merged.hosts = mergedHosts
        let reports = shards.map(\.report)
        merged.scan.startedAt = reports.map(\.scan.startedAt).min()!
        merged.scan.finishedAt = reports.map(\.scan.finishedAt).max()!
        merged.scan.complete = reports.allSatisfy(\.scan.complete)
        merged.scan.incompleteReason =
            merged.scan.complete
            ? nil
            : "shards incomplete: "
                + zip(shards.map(\.file), reports).filter { !$1.scan.complete }.map { printable($0.0) }.joined(
                    separator: ", ")
        merged.scan.probesPlanned = reports.reduce(0) { $0 + $1.scan.probesPlanned }
        merged.scan.probesDone = reports.reduce(0) { $0 + $1.scan.probesDone }
        merged.scan.discoveryOnly = reports.contains(where: \.scan.discoveryOnly)
        merged.scan.shard = nil
        merged.scan.mergedShards = shards.count
        // Each shard ran on its own machine: their stage times do not add up to anything meaningful.
        merged.scan.timings = nil
        merged.scan.durationSeconds = nil
        merged.summary.openEndpoints = reports.reduce(0) { $0 + $1.summary.openEndpoints }
        merged.summary.closedEndpoints = reports.reduce(0) { $0 + $1.summary.closedEndpoints }
        merged.summary.filteredEndpoints = reports.reduce(0) { $0 + $1.summary.filteredEndpoints }
        merged.summary.hostsWithOpenPorts = UInt64(merged.hosts.count)
        // An address answers in several shards; without the per-shard address lists only a lower bound is known.
        merged.summary.hostsUp = max(reports.map(\.summary.hostsUp).max() ?? 0, merged.summary.hostsWithOpenPorts)
        merged.baseline = nil
        return merged
    }

}
