#if canImport(Glibc)
import Glibc
#endif

/// Reads files that a person or another run handed to MailPort (reports to merge or re-render, baselines, YAML) with
/// a size bound: a report someone else produced is as hostile as a network answer, and a 4 GB "report" must end in
/// a clear error, not in a process that swaps. Only regular files are read (a FIFO or /dev/zero would never end).
public enum BoundedFile {
    /// The largest JSON report `report`, `merge`, `diff` and `--baseline` accept. A report of 100,000 open endpoints
    /// is about 200 MB; larger runs are split into shards.
    public static let reportLimit = 512 << 20
    /// The largest YAML file (rules, profiles, waivers, config) MailPort reads.
    public static let yamlLimit = 4 << 20

    public enum Failure: Error, Equatable {
        case unreadable(String)
        case notRegularFile
        case tooLarge(limit: Int)
    }

    /// The file's bytes, or why they cannot be had.
    public static func read(_ path: String, limit: Int) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(.unreadable(errnoText())) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return .failure(.unreadable(errnoText())) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return .failure(.notRegularFile) }
        guard status.st_size <= limit else { return .failure(.tooLarge(limit: limit)) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(status.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreadable(errnoText()))
            }
            if count == 0 { return .success(bytes) }
            // The file may grow while it is read.
            guard bytes.count + count <= limit else { return .failure(.tooLarge(limit: limit)) }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// The file as UTF-8 text, or nil when it cannot be read within the bound.
    public static func text(_ path: String, limit: Int) -> String? {
        guard case .success(let bytes) = read(path, limit: limit) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// A one-line description of a failure, for messages: `what` names the file's role ("report", "baseline").
    public static func describe(_ failure: Failure, what: String, path: String) -> String {
        let shown = what.isEmpty ? "'\(printable(path))'" : "\(what) '\(printable(path))'"
        switch failure {
        case .unreadable(let reason): return "cannot read \(shown): \(reason)"
        case .notRegularFile: return "\(shown) is not a regular file"
        case .tooLarge(let limit): return "\(shown) is larger than \(limit >> 20) MiB"
        }
    }
}
