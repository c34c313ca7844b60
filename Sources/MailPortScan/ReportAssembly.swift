import Foundation
import MailPortCore
import MailPortDiscovery
import MailPortProbe
import MailPortReport
import MailPortTargets

/// Turns discovery results into the report model of the contract.
public enum ReportAssembly {
    /// The report model, its hosts made from what discovery and the dialogs saw and handed to `finish` one at a
    /// time as they are made (the rules judge each before a spooled list writes it to disk). The hosts are made in
    /// runs of consecutive addresses on all cores at once: each run starts from `finisher` and ends with what its
    /// `finish` calls gathered, and the runs' finishers are joined by `merge` in report order (the earlier first),
    /// as their hosts are appended to `hosts` (an empty list, in memory or spooled). Returns the report and the
    /// finisher that saw every host. `parts` sets the number of runs (tests compare splits); by default one per core.
    public static func assemble<Finisher: Sendable>(
        settings: ScanSettings, space: TargetSpace, mxSpace: TargetSpace?,
        groupSpaces: [(String, TargetSpace)] = [], results: DiscoveryResults,
        dialog: @escaping @Sendable (EndpointKey) -> DialogObservation?, counters: DiscoveryProgress, complete: Bool,
        startedAt: Date, finishedAt: Date, hosts: HostList = HostList(), finisher: Finisher,
        finish: @escaping @Sendable (inout Finisher, ScanReport.Host) -> ScanReport.Host,
        merge: (inout Finisher, Finisher) -> Void, parts: Int? = nil
    ) -> (ScanReport, Finisher) {
        // A shard also lists hosts that only refused: another shard may have found one of their ports open, and
        // merge needs this shard's closed ports to tell closed from filtered.
        let listed = settings.shard.isWhole ? results.hostsWithOpenPorts : results.answeringAddresses
        let runs = consecutiveRuns(of: listed.count, parts: parts)
        var made = onThreads(runs.count) { run in
            var made = hosts
            var runFinisher = finisher
            for address in listed[runs[run]] {
                let host = Self.host(
                    at: address, settings: settings, space: space, mxSpace: mxSpace, groupSpaces: groupSpaces,
                    results: results, dialog: dialog, complete: complete)
                made.append(finish(&runFinisher, host))
            }
            return (made, runFinisher)
        }
        var (hosts, finisher) = made.removeFirst()
        for (runHosts, runFinisher) in made {
            hosts.append(hostsOf: runHosts)
            merge(&finisher, runFinisher)
        }
        return (
            frame(
                settings: settings, space: space, results: results, counters: counters, complete: complete,
                startedAt: startedAt, finishedAt: finishedAt, hosts: hosts),
            finisher
        )
    }

    /// One listed address as the report's host.
    static func host(
        at address: IPAddress, settings: ScanSettings, space: TargetSpace, mxSpace: TargetSpace?,
        groupSpaces: [(String, TargetSpace)], results: DiscoveryResults,
        dialog: (EndpointKey) -> DialogObservation?, complete: Bool
    ) -> ScanReport.Host {
        ScanReport.Host(
            address: address.description,
            names: space.names[address] ?? [],
            declaredMX: mxSpace?.addresses.contains(address) ?? false,
            groups: groupSpaces.filter { $0.1.addresses.contains(address) }.map(\.0),
            grade: nil,
            // A shard lists only what it saw answer: the pairs it did not probe belong to other shards, and merge
            // marks whatever no shard saw as filtered.
            endpoints: results.results(
                for: address, ports: settings.ports, complete: complete && settings.shard.isWhole
            ).map { result in
                let observation = dialog(EndpointKey(address: address, port: result.port.port))
                let transport = Self.transport(result.port.service, observation)
                return ScanReport.Endpoint(
                    port: result.port.port, state: result.state, stateReason: result.reason,
                    service: result.port.service, transport: transport,
                    rttMs: result.roundTripNanoseconds.map { (Double($0) / 1e4).rounded() / 100 },
                    dialog: observation
                )
            }
        )
    }

    /// Everything of the report around its hosts.
    static func frame(
        settings: ScanSettings, space: TargetSpace, results: DiscoveryResults, counters: DiscoveryProgress,
        complete: Bool, startedAt: Date, finishedAt: Date, hosts: HostList
    ) -> ScanReport {
        let addressCount = space.addresses.count
        var report = ScanReport(
            tool: .init(version: MailPortVersion.number),
            scan: .init(
                startedAt: ReportTime.rfc3339(startedAt), finishedAt: ReportTime.rfc3339(finishedAt),
                targets: settings.targets, excludes: settings.excludes, ports: settings.ports,
                profile: settings.judgement.engine.profile.id,
                mode: settings.syn ? .syn : .connect, complete: complete,
                incompleteReason: complete
                    ? nil
                    : (counters.done < counters.planned
                        ? "interrupted after \(counters.done) of \(counters.planned) probes"
                        : "interrupted during the mail dialogs"),
                seed: settings.seed, probesPlanned: counters.planned, probesDone: counters.done,
                discoveryOnly: settings.discoveryOnly
            ),
            summary: .init(
                hosts: addressCount > UInt128(UInt64.max) ? UInt64.max : UInt64(addressCount),
                hostsUp: UInt64(results.hostsUp), hostsWithOpenPorts: UInt64(results.hostsWithOpenPorts.count),
                openEndpoints: results.open, closedEndpoints: results.closed, filteredEndpoints: results.filtered,
                findingsBySeverity: ["info": 0, "low": 0, "medium": 0, "high": 0, "critical": 0],
                grade: nil
            ),
            hosts: []
        )
        report.hosts = hosts
        report.scan.shard = settings.shard.isWhole ? nil : settings.shard.description
        report.scan.rulesDigest = settings.judgement.engine.ruleSet.digest
        report.scan.durationSeconds = (max(0, finishedAt.timeIntervalSince(startedAt)) * 1000).rounded() / 1000
        return report
    }

    /// What the dialog actually used: a STARTTLS upgrade that completed makes the transport starttls, and a
    /// plaintext answer on an implicit-TLS port makes it plain; otherwise what the port's service expects.
    static func transport(_ service: MailService, _ dialog: DialogObservation?) -> Transport {
        guard let dialog else { return service.expectedTransport }
        if dialog.starttls?.upgraded == true { return .starttls }
        if service.expectedTransport == .implicitTLS, dialog.tls == nil, ![.none, .tls].contains(dialog.identifiedAs) {
            return .plain
        }
        return service.expectedTransport
    }
}

/// The one-line verdict printed after a scan (not in --quiet mode): grade, counted findings, what --fail-on made of them.
public enum VerdictLine {
    public static func describe(_ report: ScanReport) -> String {
        let counts = Severity.allCases.reversed().compactMap { severity -> String? in
            let count = report.summary.findingsBySeverity[severity.rawValue] ?? 0
            return count > 0 ? "\(count) \(severity.rawValue)" : nil
        }
        let findings = counts.isEmpty ? "no findings" : "findings: " + counts.joined(separator: ", ")
        let waived = report.summary.waivedFindings > 0 ? " (\(report.summary.waivedFindings) waived)" : ""
        return "grade \(report.summary.grade?.rawValue ?? "-"); \(findings)\(waived); \(GateVerdict(report).text)"
    }

    /// The one line `--quiet` still prints when the verdict fails, so cron mails it:
    /// `mailport: FAIL — 3 findings at or above high on 2 hosts; report Reports/latest.html`. Nil when it passes.
    public static func failure(_ report: ScanReport, reportAt place: String?) -> String? {
        guard report.summary.failed else { return nil }
        let failOn = report.summary.failOn
        let counts = { (findings: [ScanReport.Finding]) in
            findings.filter { !$0.waived && failOn.isMet(by: $0.severity) }.count
        }
        let byHost = report.hosts.map { counts($0.endpoints.flatMap(\.findings)) }.filter { $0 > 0 }
        let byDomain = (report.domains ?? []).map { counts($0.findings) }.filter { $0 > 0 }
        let total = byHost.reduce(0, +) + byDomain.reduce(0, +)
        func plural(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
        var scope = [plural(byHost.count, "host")]
        if !byDomain.isEmpty { scope.append(plural(byDomain.count, "domain")) }
        let report = place.map { "; report \(printable($0, limit: 400))" } ?? ""
        return
            "mailport: FAIL — \(plural(total, "finding")) at or above \(failOn) on \(scope.joined(separator: " and "))\(report)"
    }
}
