#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailPortCore
import MailPortDiscovery
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
