#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import MailPortConfig
import MailPortCore
import MailPortDiscovery
import MailPortReport
import Synchronization

/// Runs blocking work (the discovery loop) on a thread of its own, so Swift's cooperative thread pool (2 threads on
/// a 2-core machine) stays free for async work such as the demo lab's listeners.
func runOnDedicatedThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Swift.Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// SIGINT/SIGTERM set a flag that the scan loop polls; the scan then stops, writes its partial report marked
/// incomplete, and exits 130. A second signal ends the process at once.
final class InterruptFlag: Sendable {
    private static let shared = InterruptFlag()
    private let raised = Atomic<Bool>(false)

    var isRaised: Bool { raised.load(ordering: .relaxed) }

    /// Runs `body`, cancelling it as soon as the flag is raised: the dialogs in flight close their connections and
    /// return what they have, so the partial report is written within moments of the signal, whatever the read
    /// timeouts are.
    func cancelling<Result: Sendable>(_ body: @escaping @Sendable () async -> Result) async -> Result {
        await withTaskGroup(of: Result?.self) { group in
            group.addTask { await body() }
            group.addTask {
                while !self.isRaised && !Task.isCancelled { try? await Task.sleep(nanoseconds: 50_000_000) }
                return nil
            }
            var result: Result?
            while let next = await group.next() {
                if let next {
                    result = next
                }
                // Either the work ended (the watcher goes) or the flag was raised (the work is cancelled).
                group.cancelAll()
            }
            return result!
        }
    }

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
        var line = String(format: "probes %llu/%llu (%.1f%%)  open %llu  %.0f/s", progress.done, progress.planned,
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

/// Log lines appended to a file (`--log-file`), in the format of swift-log's stream handler: time, level, label,
/// message, metadata. Each line is one `write` with O_APPEND, so concurrent writers do not interleave mid-line.
struct FileLogHandler: LogHandler {
    private let descriptor: Int32
    private let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    init(label: String, descriptor: Int32) {
        self.label = label
        self.descriptor = descriptor
    }

    static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw MailPortError.invalidInput("cannot open log file '\(printable(path))': \(errnoText()); expected a writable path")
        }
        return fd
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let all = metadata.merging(explicit ?? [:]) { _, new in new }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = "\(ReportTime.rfc3339(Date())) \(level) \(label): \(message)\(fields.isEmpty ? "" : " " + fields)\n"
        _ = text.withCString { Glibc.write(descriptor, $0, strlen($0)) }
    }
}
