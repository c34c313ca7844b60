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

    /// The file opened for reading, and its size, once it is known to be a regular file within the bound (a reader
    /// that goes through it in chunks still checks the bound as it reads: the file may grow). The caller closes it.
    public static func open(_ path: String, limit: Int) -> Result<(fd: Int32, size: Int), Failure> {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(.unreadable(errnoText())) }
        var status = stat()
        var failure: Failure?
        if fstat(fd, &status) != 0 {
            failure = .unreadable(errnoText())
        } else if (status.st_mode & S_IFMT) != S_IFREG {
            failure = .notRegularFile
        } else if status.st_size > limit {
            failure = .tooLarge(limit: limit)
        }
        if let failure {
            close(fd)
            return .failure(failure)
        }
        return .success((fd, Int(status.st_size)))
    }

    /// The file's bytes, or why they cannot be had.
    public static func read(_ path: String, limit: Int) -> Result<[UInt8], Failure> {
        let opened: (fd: Int32, size: Int)
        switch open(path, limit: limit) {
        case .success(let file): opened = file
        case .failure(let failure): return .failure(failure)
        }
        let fd = opened.fd
        defer { close(fd) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(opened.size)
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
