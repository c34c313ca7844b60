import Foundation
import Logging
import MailPortConfig
import MailPortCore
import MailPortLab
import MailPortReport
import MailPortTargets
import MailPortTestSupport
import Testing

@testable import MailPortScan
@testable import mailport

/// What `mailport scan ARGUMENTS` says about its arguments, found in-process: parsing, the config file, settings,
/// then every check a run makes before its first packet (`AuditRun.prepare`). Discovery never starts, so a parser bug
/// that turned bad input into a real range would still send nothing. Names resolve through an empty table (the
/// product's own StaticResolver), never through DNS; a domain is never planned (that asks DNS). Nil: no error.
func scanError(_ arguments: [String]) -> String? {
    do {
        let parsed = try MailPortCommand.parseAsRoot(["scan"] + arguments)
        guard let scan = parsed as? ScanCommand else { return "parsed as \(type(of: parsed)), not scan" }
        var settings = try scan.resolvedSettings()
        guard settings.domains.isEmpty else { return nil }
        settings.resolver = StaticResolver([:])
        _ = try AuditRun(settings: settings, logger: Logger(label: "test")).prepare()
        return nil
    } catch let error as MailPortError {
        return error.message
    } catch {
        let message = MailPortCommand.message(for: error)
        return message.split(separator: "\n").first.map(String.init) ?? message
    }
}

@Suite("Bad input, in-process")
struct InProcessBadInputTests {
    /// The same table as the root tier's namespace test of the binary; `--output-dir` cases keep their own folder.
    @Test(
        "every bad command line is refused before the first packet, naming the bad value", arguments: BadInput.scanCases
    )
    func refused(arguments: [String], mentions: String) throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = scanError(BadInput.writingInto(directory + "/out", arguments))
        #expect(error?.contains(mentions) == true, "\(arguments): \(error ?? "no error")")
        #expect(!FileManager.default.fileExists(atPath: directory + "/out/latest.json"))
    }

    @Test("the table is the whole table")
    func tableSize() {
        #expect(BadInput.scanCases.count == 53)
    }

    @Test("a good command line passes every check (so the refusals above are not an artefact of the harness)")
    func goodInputPasses() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(
            scanError(["192.0.2.0/28", "--ports", "25,587", "--read-timeout", "2", "--output-dir", directory]) == nil)
    }
}

@Suite("Verdicts through the library")
struct LibraryVerdictTests {
    /// The demo lab moved to 127.78.0.x (so it runs beside other tests) and audited by `AuditRun`, as `mailport demo`
    /// would: grades and findings per endpoint equal the demo report's (Tests/Fixtures/reports/demo.json).
    @Test("the demo lab, audited by AuditRun in-process, gets the demo's verdicts")
    func demoVerdicts() async throws {
        let endpoints = try DemoLab.endpoints().map { endpoint in
            var moved = endpoint
            moved.address = endpoint.address.replacingOccurrences(of: "127.77.", with: "127.78.")
            return moved
        }
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var values = OptionValues()
        values.targets = ["127.78.0.1-127.78.0.6"]
        values.ports = DemoLab.ports.map(\.description).joined(separator: ",")
        values.timeout = 1
        values.concurrency = 64
        values.seed = 1
        values.mx = DemoLab.mxHosts.map { $0.replacingOccurrences(of: "127.77.", with: "127.78.") }
        values.caFile = try DemoLab.caFile()
        values.outputDirectory = directory
        values.formats = "json"
        let settings = try ScanSettings.resolve(values, defaultFailOn: .never)
        // Twice on one lab: hosts in memory (the default for a run this small), then spooled to disk as a large run
        // keeps them. Both must reach the same verdicts.
        var spooling = settings
        spooling.spoolAboveEndpoints = 0
        let (outcome, spooled) = try await LoopbackLab.with(endpoints) { _ in
            (
                try await AuditRun(settings: settings, logger: Logger(label: "test")).run(),
                try await AuditRun(settings: spooling, logger: Logger(label: "test")).run()
            )
        }
        #expect(outcome.exitStatus == ExitStatus.clean && outcome.localFailures == 0)
        #expect(outcome.files.count == 1 && outcome.files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(!outcome.report.hosts.isSpooled && spooled.report.hosts.isSpooled)
        #expect(spooled.exitStatus == outcome.exitStatus && spooled.report.summary == outcome.report.summary)
        #expect(spooled.report.rules == outcome.report.rules)
        // The spool lives in the output folder, unlinked from the start: nothing of it is left there.
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix("mailport-") }
        #expect(Set(left).isSubset(of: ["latest.json", ".mailport.lock"]), "\(left)")

        let demo = try JSONReportWriter.read(ProjectPaths.fixtures + "/reports/demo.json")
        func verdicts(_ report: ScanReport, prefix: String) -> [String: String] {
            var table: [String: String] = [:]
            for host in report.hosts {
                let octet = String(host.address.dropFirst(prefix.count))
                table[octet] = "grade \(host.grade?.rawValue ?? "-")"
                for endpoint in host.endpoints where endpoint.state == .open {
                    let rules = endpoint.findings.map(\.rule).filter { $0 != "MP-WAIVER-EXPIRED" }.sorted()
                    table["\(octet):\(endpoint.port)"] = rules.joined(separator: " ")
                }
            }
            return table
        }
        let expected = verdicts(demo, prefix: "127.77.0.")
        let seen = verdicts(outcome.report, prefix: "127.78.0.")
        #expect(verdicts(spooled.report, prefix: "127.78.0.") == seen)
        #expect(expected.count >= 10, "the fixture lists hosts and open endpoints")
        // Grades in the fixture count its waiver; the findings themselves do not depend on it.
        #expect(seen.filter { !$0.value.hasPrefix("grade") } == expected.filter { !$0.value.hasPrefix("grade") })
        #expect(
            seen["2"] == "grade A+" && seen["3"] == "grade F" && seen["4"] == "grade F" && seen["5"] == "grade C",
            "\(seen)")
    }
}

@Suite("The run's spool where no file can be made")
struct RunSpoolPlacementTests {
    @Test(
        "a folder that refuses the spool file: records held in memory, a warning only for a run that needed the spool")
    func unwritableFolderFallsBackToMemory() throws {
        var values = OptionValues()
        values.targets = ["127.0.0.1"]
        // /proc takes no files, not even from root: the spool has nowhere to go.
        values.outputDirectory = "/proc"
        let settings = try ScanSettings.resolve(values, defaultFailOn: .never)
        let spool = RunSpool(settings: settings)
        #expect(spool.unavailable?.contains("/proc") == true, "\(spool.unavailable ?? "created")")
        var observation = DialogObservation()
        observation.banner = "220 held in memory"
        let key = EndpointKey(address: .v4(0x7f00_0001), port: 25)
        spool.store(observation, for: key)
        #expect(spool.dialog(for: key)?.banner == "220 held in memory")
        #expect(spool.dialogCount == 1)
        #expect(spool.warning(openEndpoints: 10, spoolAbove: 2000) == nil)
        let warning = try #require(spool.warning(openEndpoints: 5000, spoolAbove: 2000))
        #expect(warning.contains("/proc") && warning.contains("5000 open endpoints was held in memory"), "\(warning)")
    }
}
