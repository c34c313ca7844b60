import Foundation
import Logging
import MailPortConfig
import MailPortCore
import MailPortReport
import MailPortTargets
import MailPortTestSupport
import Synchronization
import Testing

@testable import MailPortScan
@testable import mailport

/// Settings for a one-port scan of loopback addresses where nothing listens (127.81.21.x belongs to these tests), with
/// names resolved through a fixed table, never DNS.
func loopbackSettings(
    _ targets: [String], names: [String: [IPAddress]] = [:], extra: (inout OptionValues) -> Void = { _ in }
) throws -> ScanSettings {
    var values = OptionValues()
    values.targets = targets
    values.ports = "10999=smtp"
    values.timeout = 1
    values.seed = 1
    values.formats = "json"
    extra(&values)
    var settings = try ScanSettings.resolve(values)
    settings.resolver = StaticResolver(names)
    return settings
}

@Suite("Shell habits, in-process")
struct ShellHabitTests {
    @Test("a name that does not resolve is a warning and a target error in the report; the other targets are scanned")
    func unresolvedNameIsRecorded() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = try loopbackSettings(
            ["mail.lab.test", "gone.lab.test", "127.81.21.2"], names: ["mail.lab.test": [IPAddress("127.81.21.1")!]]
        ) { $0.outputDirectory = directory }
        let warnings = Mutex<[String]>([])
        let outcome = try await AuditRun(
            settings: settings, logger: Logger(label: "test"),
            events: ScanEvents(warning: { text in warnings.withLock { $0.append(text) } })
        ).run()
        #expect(outcome.exitStatus == ExitStatus.clean)
        #expect(outcome.report.summary.hosts == 2, "the name that resolved and the address")
        #expect(outcome.report.scan.probesDone == 2)
        let errors = try #require(outcome.report.scan.targetErrors)
        #expect(errors.count == 1)
        #expect(errors.first?.target == "gone.lab.test")
        #expect(errors.first?.error == "cannot resolve host name 'gone.lab.test'")
        let seen = warnings.withLock { $0 }
        #expect(seen.count == 1)
        #expect(seen.first?.hasPrefix("cannot resolve host name 'gone.lab.test'; skipped") == true, "\(seen)")
        // The written report carries the field and passes the schema.
        #expect(outcome.files.count == 1)
        let written = try JSONReportWriter.read(outcome.files[0])
        #expect(written.scan.targetErrors == errors)
        #expect(try await schemaViolation(ofJSONFile: outcome.files[0]) == nil)
    }

    @Test("no target errors: the field is absent, so earlier reports and goldens stay byte for byte")
    func noTargetErrorsNoField() throws {
        let report = try JSONReportWriter.read(ProjectPaths.fixtures + "/reports/demo.json")
        #expect(report.scan.targetErrors == nil)
        let json = String(decoding: try JSONReportWriter.encode(report), as: UTF8.self)
        #expect(!json.contains("targetErrors"))
    }

    @Test("only names that do not resolve: nothing to scan is bad input (exit 2), nothing written")
    func nothingResolves() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = try loopbackSettings(["gone.lab.test", "lost.lab.test"]) {
            $0.outputDirectory = directory + "/out"
        }
        do {
            _ = try AuditRun(settings: settings, logger: Logger(label: "test")).prepare()
            Issue.record("prepare went on with nothing to scan")
        } catch let error as MailPortError {
            #expect(error.exitStatus == ExitStatus.usage)
            #expect(
                error.message
                    == "nothing to scan: cannot resolve host name 'gone.lab.test' (and 1 more names); expected at least one target that resolves"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/out/latest.json"))
    }

    @Test("-o -: the report's bytes come back for standard output; no folder, no lock, no file")
    func standardOutput() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let folder = directory + "/Reports"
        let settings = try loopbackSettings(["127.81.21.3"]) {
            $0.output = "-"
            $0.outputDirectory = folder
        }
        #expect(settings.output == .standardOutput)
        let outcome = try await AuditRun(settings: settings, logger: Logger(label: "test")).run()
        #expect(outcome.files.isEmpty)
        let bytes = try #require(outcome.standardOutput)
        let report = try JSONReportWriter.decode(bytes, fileName: "stdout")
        #expect(report.summary.hosts == 1 && report.scan.probesDone == 1)
        #expect(!FileManager.default.fileExists(atPath: folder), "no output folder, no lock file in it")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("--output FILE writes the one format there, atomically, and nothing else")
    func outputFile() async throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = try loopbackSettings(["127.81.21.4"]) {
            $0.output = directory + "/audit.sarif"
            $0.formats = "sarif"
        }
        let outcome = try await AuditRun(settings: settings, logger: Logger(label: "test")).run()
        #expect(outcome.files == [directory + "/audit.sarif"] && outcome.standardOutput == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["audit.sarif"])
        let sarif = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outcome.files[0])))
        #expect((sarif as? [String: Any])?["version"] as? String == "2.1.0")
    }

    @Test("the line --quiet still prints when the verdict fails, and none when it passes")
    func quietFailureLine() throws {
        let demo = try JSONReportWriter.read(ProjectPaths.fixtures + "/reports/demo.json")
        let judgement = try Judgement.load(
            rules: [], profile: demo.scan.profile, waivers: nil, failOn: .severity(.high), baseline: nil)
        let judged = judgement.judge(demo, now: ReportTime.parse(demo.scan.finishedAt)!) { _ in }
        let counted = judged.hosts.flatMap(\.endpoints).flatMap(\.findings).filter {
            !$0.waived && $0.severity >= .high
        }
        let hosts = judged.hosts.filter { host in
            host.endpoints.flatMap(\.findings).contains { !$0.waived && $0.severity >= .high }
        }
        #expect(counted.count > 1 && hosts.count > 1)
        #expect(
            VerdictLine.failure(judged, reportAt: "Reports/latest.html")
                == "mailport: FAIL — \(counted.count) findings at or above high on \(hosts.count) hosts; report Reports/latest.html"
        )
        let passing = try Judgement.load(
            rules: [], profile: demo.scan.profile, waivers: nil, failOn: .never, baseline: nil
        ).judge(demo, now: Date()) { _ in }
        #expect(VerdictLine.failure(passing, reportAt: "Reports/latest.html") == nil)
    }
}

/// Everything written to "stderr", in order: the progress line's writes and the log lines alike.
final class Transcript: Sendable {
    private let text = Mutex("")
    func append(_ piece: String) { text.withLock { $0 += piece } }
    var contents: String { text.withLock { $0 } }
}

/// A log handler that writes its lines into a transcript, as StreamLogHandler writes them to stderr.
struct TranscriptLogHandler: LogHandler {
    let transcript: Transcript
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        transcript.append("\(level) \(message)\n")
    }
}

@Suite("Progress line and logs")
struct ProgressAndLogTests {
    /// What a terminal shows of each finished line: the text after the last carriage return (or the line-clearing
    /// escape) of each newline-terminated line.
    static func visibleLines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            String(line.split(separator: "\r", omittingEmptySubsequences: false).last ?? "")
                .replacingOccurrences(of: "\u{1b}[K", with: "")
        }
    }

    @Test("a log line clears the progress line first: the two never share a terminal line")
    func logClearsProgress() {
        let transcript = Transcript()
        let progress = ProgressLine(mode: .always, quiet: false) { transcript.append($0) }
        var logger = Logger(label: "test") { _ in
            ProgressAwareLogHandler(upstream: TranscriptLogHandler(transcript: transcript), progressLine: progress)
        }
        logger.logLevel = .debug
        progress.showDialogs(done: 3, total: 10)
        logger.debug("dialog ended")
        progress.showDialogs(done: 4, total: 10)
        logger.info("report written")
        progress.finish()
        let text = transcript.contents
        #expect(text.contains("dialogs 3/10") && text.contains("dialogs 4/10"))
        let lines = Self.visibleLines(text)
        #expect(lines == ["debug dialog ended", "info report written"], "\(text.debugDescription)")
        #expect(text.hasSuffix("\n"), "nothing left drawn after finish: \(text.debugDescription)")
    }
}
