import Foundation
import MailPortTestSupport
import Testing

/// Networks that lose and delay packets, and hosts that disappear during a scan.
@Suite(
    "Faults: loss, jitter, vanishing targets", .rootTier,
    .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)), .serialized)
struct FaultTests {
    @Test("5% packet loss and 200 ms jitter: recall with one retry is reported and stays high")
    func lossAndJitter() async throws {
        try await NamespaceLab.with(
            name: "mploss",
            arguments: [
                "--cidr", "198.18.40.0/24", "--live", "0.3", "--refuse", "0.1", "--seed", "11",
                "--delay-ms", "100", "--jitter-ms", "200", "--loss", "5",
            ]
        ) { lab in
            let directory = makeTemporaryDirectory()
            let outcome = try await lab.runInScanner(
                ProjectPaths.mailport,
                [
                    "scan", "198.18.40.0/24", "--timeout", "1.5", "--discovery-only", "--output-dir", directory,
                    "--fail-on", "never",
                    "--quiet",
                ], timeLimit: 180)
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let found = openEndpoints(of: try latestReport(in: directory))
            let truth = lab.truth.openEndpoints
            let recall = Double(found.intersection(truth).count) / Double(max(1, truth.count))
            let faults = try #require(lab.truth.faults)
            let applied =
                faults.netem
                ? "netem: 5% loss, 100±200 ms"
                : "no netem in this kernel: 5% loss by nftables, no delay or jitter (cannot be made without netem)"
            print(
                "faults (\(applied)): recall \(String(format: "%.3f", recall)) (\(found.intersection(truth).count) of \(truth.count)), false positives \(found.subtracting(truth).count)"
            )
            #expect(faults.lossPercent == 5, "the loss was applied one way or the other")
            #expect(found.isSubset(of: truth), "nothing reported open that is not")
            #expect(recall >= 0.97, "one retry at 5% loss should miss well under 3%")
        }
    }

    @Test("targets that vanish mid-scan: the scan finishes, the endpoints it could not talk to are marked incomplete")
    func vanishingTargets() async throws {
        try await NamespaceLab.with(
            name: "mpvan", arguments: ["--cidr", "198.18.44.0/24", "--live", "0.2", "--greet", "--seed", "5"]
        ) { lab in
            let directory = makeTemporaryDirectory()
            // Discovery finds the open ports; then the whole target side drops every packet before the dialogs end.
            let outcome = try await lab.runInScanner(
                "/bin/bash",
                [
                    "-c",
                    """
                    "$0" scan 198.18.44.0/24 --timeout 0.5 --read-timeout 1 --retry-pause 0.2 --output-dir "$1" --fail-on never --quiet &
                    pid=$!
                    # From the moment the run holds its lock (a loaded machine can take seconds to get there).
                    for i in $(seq 300); do [ -e "$1/.mailport.lock" ] && break; sleep 0.1; done
                    sleep 1.2
                    ip netns exec "$2" nft add table inet vanish
                    ip netns exec "$2" nft add chain inet vanish input '{ type filter hook input priority -200; policy drop; }'
                    wait $pid
                    """, ProjectPaths.mailport, directory, lab.targetNamespace,
                ], timeLimit: 180)
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(try await schemaViolation(ofJSONFile: directory + "/latest.json") == nil)
            let report = try latestReport(in: directory)
            #expect(report.scan.complete)
            let endpoints = report.allEndpoints.filter { $0.state == .open }
            let incomplete = endpoints.filter { $0.dialog?.complete == false }
            print(
                "faults: vanishing targets: \(endpoints.count) open endpoints, \(incomplete.count) dialogs left incomplete"
            )
            #expect(!endpoints.isEmpty)
            #expect(incomplete.allSatisfy { $0.dialog?.incompleteReason?.isEmpty == false })
        }
    }
}
