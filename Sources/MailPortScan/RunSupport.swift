import Foundation
import Logging
import MailPortCore
import MailPortReport

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (the discovery loop) on a thread of its own, so Swift's cooperative thread pool (2 threads on
/// a 2-core machine) stays free for async work such as the demo lab's listeners.
public func runOnDedicatedThread<Result: Sendable>(
    _ body: @escaping @Sendable () throws -> Result
) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Swift.Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Runs `body`, cancelling it as soon as `shouldStop` says so (polled every 50 ms): the dialogs in flight close their
/// connections and return what they have, so a partial report is written within moments of an interrupt, whatever
/// the read timeouts are.
public func cancelling<Result: Sendable>(
    when shouldStop: @escaping @Sendable () -> Bool,
    _ body: @escaping @Sendable () async -> Result
) async -> Result {
    await withTaskGroup(of: Result?.self) { group in
        group.addTask { await body() }
        group.addTask {
            while !shouldStop() && !Task.isCancelled { try? await Task.sleep(nanoseconds: 50_000_000) }
            return nil
        }
        var result: Result?
        while let next = await group.next() {
            if let next { result = next }
            // Either the work ended (the watcher goes) or the stop came (the work is cancelled).
            group.cancelAll()
        }
        return result!
    }
}

/// Log lines appended to a file (`--log-file`), in the format of swift-log's stream handler: time, level, label,
/// message, metadata. Each line is one `write` with O_APPEND, so concurrent writers do not interleave mid-line.
public struct FileLogHandler: LogHandler {
    private let descriptor: Int32
    private let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public init(label: String, descriptor: Int32) {
        self.label = label
        self.descriptor = descriptor
    }

    public static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw MailPortError.invalidInput(
                "cannot open log file '\(printable(path))': \(errnoText()); expected a writable path")
        }
        return fd
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        let all = metadata.merging(explicit ?? [:]) { _, new in new }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = "\(ReportTime.rfc3339(Date())) \(level) \(label): \(message)\(fields.isEmpty ? "" : " " + fields)\n"
        _ = text.withCString { Glibc.write(descriptor, $0, strlen($0)) }
    }
}
