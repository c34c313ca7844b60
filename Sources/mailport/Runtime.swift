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
/// stderr is a terminal (or --progress always), never in --quiet mode, so logs and cron mail stay clean.
final class ProgressLine: @unchecked Sendable {
    // Touched by one stage at a time: the discovery thread, then the dialogs' completion loop, then the caller.
    private let enabled: Bool
    private var drawn = false

    init(mode: ProgressMode, quiet: Bool) {
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
        writeToStandardError("\r\u{1b}[K" + line)
        drawn = true
    }

    func showDialogs(done: Int, total: Int) {
        guard enabled else { return }
        writeToStandardError("\r\u{1b}[K" + "dialogs \(done)/\(total)")
        drawn = true
    }

    func finish() {
        if drawn { writeToStandardError("\r\u{1b}[K") }
        drawn = false
    }
}

/// The command line's side of a scan (`scan` and `demo`): the logger, the interrupt flag, the progress line, and the
/// lines printed after the run. The run itself is `AuditRun`, in the MailPortScan library.
enum ScanRunner {
    static func run(_ settings: ScanSettings) async throws -> Int32 {
        let logger = try makeLogger(settings)
        let interruption = InterruptFlag.install()
        let progressLine = ProgressLine(mode: settings.progress, quiet: settings.quiet)
        let events = ScanEvents(
            discoveryProgress: { progressLine.show($0) },
            dialogsProgress: { progressLine.showDialogs(done: $0, total: $1) },
            progressEnded: { progressLine.finish() },
            // Always on stderr, even with --quiet: a verdict that rests on endpoints never audited is a problem.
            warning: { writeToStandardError("mailport: warning: \(printable($0, limit: 400))\n") }
        )
        let outcome = try await AuditRun(
            settings: settings, logger: logger, shouldStop: { interruption.isRaised },
            events: events
        ).run()
        if !settings.quiet { printSummary(outcome, settings: settings) }
        return outcome.exitStatus
    }

    static func printSummary(_ outcome: ScanOutcome, settings: ScanSettings) {
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

    static func makeLogger(_ settings: ScanSettings) throws -> Logger {
        let level: Logger.Level = settings.verbose ? .debug : (settings.quiet ? .error : .notice)
        let logFile = try settings.logFile.map(FileLogHandler.open)
        var logger = Logger(label: "mailport") { label in
            if let logFile { return FileLogHandler(label: label, descriptor: logFile) }
            return StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = level
        return logger
    }
}
