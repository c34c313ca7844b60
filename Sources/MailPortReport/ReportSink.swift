import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// Where a report's bytes go while it is rendered: a file (written in chunks, so a report of 100,000 endpoints is
/// never whole in memory) or memory (`-o -`, tests).
public final class ReportSink {
    private enum Target {
        case memory
        case file(fd: Int32, path: String)
    }

    private let target: Target
    private var buffer: [UInt8] = []
    /// Bytes handed to the file so far.
    public private(set) var written = 0

    /// File output is handed to the kernel in chunks of about this size.
    static let chunkSize = 1 << 20

    /// Collects the bytes; `bytes` has them.
    public init() {
        target = .memory
    }

    /// Writes to an open file; `path` names it in errors.
    init(fd: Int32, path: String) {
        target = .file(fd: fd, path: path)
        buffer.reserveCapacity(Self.chunkSize)
    }

    /// What a memory sink collected.
    public var bytes: [UInt8] { buffer }

    public func write(_ bytes: [UInt8]) throws(MailPortError) {
        buffer += bytes
        if case .file = target, buffer.count >= Self.chunkSize { try flush() }
    }

    public func write(_ text: String) throws(MailPortError) {
        try write(Array(text.utf8))
    }

    /// Hands what is buffered to the file (a memory sink keeps it).
    func flush() throws(MailPortError) {
        guard case .file(let fd, let path) = target else { return }
        var done = 0
        while done < buffer.count {
            let count = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .scanFailed("cannot write '\(printable(path))': \(errnoText())")
            }
            done += count
        }
        written += done
        buffer.removeAll(keepingCapacity: true)
    }
}
