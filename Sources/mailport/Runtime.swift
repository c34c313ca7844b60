import Foundation
import Logging
import MailPortConfig
import MailPortCore
import MailPortDiscovery
import MailPortReport
import MailPortScan
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM set a flag that the scan loop polls; the scan then stops, writes its partial report marked
/// incomplete, and exits 130. A second signal ends the process at once.
final class InterruptFlag: Sendable {
    private static let shared = InterruptFlag()
    private let raised = Atomic<Bool>(false)

    var isRaised: Bool { raised.load(ordering: .relaxed) }

    static func install() -> InterruptFlag {
        let handler: @convention(c) (Int32) -> Void = { signalNumber in
            if InterruptFlag.shared.raised.exchange(true, ordering: .relaxed) {
                _exit(ExitStatus.interrupted)
            }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        return shared
    }
}

/// The live progress line: probes done/total, open found, rate and ETA, redrawn in place on stderr. Shown only when
/// stderr is a terminal (or --progress always), never in --quiet mode, so logs and cron mail stay clean. Log lines
/// and warnings on the same stderr go through `printing`, which clears the line first, so the two never run into
/// each other (the next progress update draws it again).
final class ProgressLine: Sendable {
    private let enabled: Bool
    /// Whether a line is on the screen; the lock also keeps a log line from being written in the middle of one.
    private let drawn = Mutex(false)
    /// Where the line goes: stderr (tests hand in their own sink).
    private let writeToStandardError: @Sendable (String) -> Void

    init(
        mode: ProgressMode, quiet: Bool,
        writer: @escaping @Sendable (String) -> Void = { MailPortCore.writeToStandardError($0) }
    ) {
        writeToStandardError = writer
        switch mode {
        case .never: enabled = false
        case .always: enabled = !quiet
        case .auto: enabled = !quiet && isatty(STDERR_FILENO) == 1
        }
    }

    func show(_ progress: DiscoveryProgress) {
        guard enabled else { return }
        let percent = progress.planned > 0 ? Double(progress.done) * 100 / Double(progress.planned) : 100
        var line = String(
            format: "probes %llu/%llu (%.1f%%)  open %llu  %.0f/s", progress.done, progress.planned,
            percent, progress.open, progress.rate)
        if let left = progress.estimatedSecondsLeft, progress.done < progress.planned {
            line += String(format: "  ETA %d:%02d", Int(left) / 60, Int(left) % 60)
        }
        draw(line)
    }

    func showDialogs(done: Int, total: Int) {
        guard enabled else { return }
        draw("dialogs \(done)/\(total)")
    }

    private func draw(_ line: String) {
        drawn.withLock { drawn in
            writeToStandardError("\r\u{1b}[K" + line)
            drawn = true
        }
    }

    func finish() {
        printing {}
    }

    /// Runs `write` (which writes whole lines to stderr) with the progress line cleared.
    func printing(_ write: () -> Void) {
        drawn.withLock { drawn in
            if drawn { writeToStandardError("\r\u{1b}[K") }
            drawn = false
            write()
        }
    }
}

/// A log handler that clears the progress line before each line it writes to stderr.
struct ProgressAwareLogHandler: LogHandler {
    var upstream: any LogHandler
    let progressLine: ProgressLine

    var logLevel: Logger.Level {
        get { upstream.logLevel }
        set { upstream.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        progressLine.printing {
            upstream.log(
                level: level, message: message, metadata: metadata, source: source, file: file, function: function,
                line: line)
        }
    }
}

/// The command line's side of a scan (`scan` and `demo`): the logger, the interrupt flag, the progress line, and the
/// lines printed after the run. The run itself is `AuditRun`, in the MailPortScan library.
enum ScanRunner {
    static func run(_ settings: ScanSettings) async throws -> Int32 {
        let progressLine = ProgressLine(mode: settings.progress, quiet: settings.quiet)
        let logger = try makeLogger(settings, progressLine: progressLine)
        let interruption = InterruptFlag.install()
        let events = ScanEvents(
            discoveryProgress: { progressLine.show($0) },
            dialogsProgress: { progressLine.showDialogs(done: $0, total: $1) },
            progressEnded: { progressLine.finish() },
            // Always on stderr, even with --quiet: a verdict that rests on endpoints never audited is a problem.
            warning: { text in
                progressLine.printing { writeToStandardError("mailport: warning: \(printable(text, limit: 400))\n") }
            }
        )
        let outcome = try await AuditRun(
            settings: settings, logger: logger, shouldStop: { interruption.isRaised },
            events: events
        ).run()
        progressLine.finish()
        if let bytes = outcome.standardOutput { try writeToStandardOutput(bytes) }
        // With -o - standard output holds the report and nothing else: the summary goes to stderr.
        let toStandardOutput = settings.output != .standardOutput
        if settings.quiet {
            if let line = VerdictLine.failure(outcome.report, reportAt: reportPlace(outcome, settings)) {
                writeToStandardError(line + "\n")
            }
        } else {
            printSummary(outcome, settings: settings) { line in
                if toStandardOutput { print(line) } else { writeToStandardError(line + "\n") }
            }
        }
        return outcome.exitStatus
    }

    /// Where a person reads the report: latest.html when there is one, else the first format's latest file, the
    /// --output file, or nil for standard output.
    static func reportPlace(_ outcome: ScanOutcome, _ settings: ScanSettings) -> String? {
        switch settings.output {
        case .standardOutput: return nil
        case .file(let path): return path
        case nil:
            guard let format = settings.formats.contains(.html) ? .html : settings.formats.first else { return nil }
            return "\(settings.outputDirectory)/latest.\(format.fileExtension)"
        }
    }

    /// Writes all of `bytes` to standard output (a pipe takes them in pieces).
    static func writeToStandardOutput(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw MailPortError.scanFailed(
                    "cannot write the report to standard output: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    static func printSummary(
        _ outcome: ScanOutcome, settings: ScanSettings, print: (String) -> Void = { Swift.print($0) }
    ) {
        let report = outcome.report
        let scan = report.scan
        let interrupted = outcome.exitStatus == ExitStatus.interrupted
        print(
            """
            mailport: \(scan.probesDone) probes of \(scan.probesPlanned) (\(report.summary.hosts) addresses × \(scan.ports.count) ports) \
            in \(ReportDuration.text(report.durationSeconds)): \(report.summary.openEndpoints) open, \(report.summary.closedEndpoints) closed, \
            \(report.summary.filteredEndpoints) filtered\(interrupted ? " (interrupted: report is partial)" : "")
            """)
        for domain in report.domains ?? [] {
            let counted = domain.findings.filter { !$0.waived }.count
            let status = domain.status == .ok ? "" : " (\(domain.status.rawValue))"
            print(
                "domain \(printable(domain.name))\(status): grade \(domain.grade?.rawValue ?? "-"); \(domain.mx.count) MX, \(domain.srv.count) SRV, \(domain.hosts.count) hosts; \(counted) domain finding\(counted == 1 ? "" : "s")"
            )
        }
        print(VerdictLine.describe(report))
        for path in outcome.files { print("report: \(path)") }
    }

    static func makeLogger(_ settings: ScanSettings, progressLine: ProgressLine) throws -> Logger {
        let level: Logger.Level = settings.verbose ? .debug : (settings.quiet ? .error : .notice)
        let logFile = try settings.logFile.map(FileLogHandler.open)
        var logger = Logger(label: "mailport") { label in
            if let logFile { return FileLogHandler(label: label, descriptor: logFile) }
            return ProgressAwareLogHandler(
                upstream: StreamLogHandler.standardError(label: label), progressLine: progressLine)
        }
        logger.logLevel = level
        return logger
    }
}
