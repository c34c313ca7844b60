import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes files so a reader (a dashboard, the next cron run, a CI step) never sees half of one: the bytes go to a
/// temporary file in the same folder, are flushed to disk, and the file is renamed over the target in one step.
///
/// Writing several files as one set (a run's formats and their `latest.*` copies) is split in two: every file is
/// staged first, and only when all of them are safely on disk are they renamed into place. A full disk then costs
/// nothing that was there before.
public enum AtomicFile {
    /// A file written to its temporary name, flushed, and not yet renamed over its destination.
    public struct Staged: Sendable {
        public let temporary: String
        public let destination: String
    }

    public static func write(_ bytes: [UInt8], to path: String) throws(MailPortError) {
        try commit([try stage(bytes, for: path)])
    }

    /// Writes `bytes` to a new temporary file beside `path` and flushes it. Nothing at `path` changes yet.
    public static func stage(_ bytes: [UInt8], for path: String) throws(MailPortError) -> Staged {
        try stage(for: path) { sink throws(MailPortError) in try sink.write(bytes) }
    }

    /// A copy of a staged file's bytes, staged for `path` (a run's `latest.*` beside its timestamped file).
    public static func stage(copyOf staged: Staged, for path: String) throws(MailPortError) -> Staged {
        let source = open(staged.temporary, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .scanFailed("cannot read '\(printable(staged.temporary))': \(errnoText())") }
        defer { close(source) }
        return try stage(for: path) { sink throws(MailPortError) in
            var chunk = [UInt8](repeating: 0, count: ReportSink.chunkSize)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(source, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else {
                    throw .scanFailed("cannot read '\(printable(staged.temporary))': \(errnoText())")
                }
                if count == 0 { return }
                try sink.write(Array(chunk[..<count]))
            }
        }
    }

    /// Renders into a new temporary file beside `path` (in chunks, through `render`) and flushes it. Nothing at
    /// `path` changes yet; on any failure the temporary file is gone.
    public static func stage(
        for path: String, render: (ReportSink) throws(MailPortError) -> Void
    ) throws(MailPortError) -> Staged {
        let (directory, name) = split(path)
        let temporary =
            (directory.isEmpty ? "" : directory + "/")
            + ".\(name)\(temporaryMarker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // O_EXCL and O_NOFOLLOW: a name planted in the folder (a link to a file elsewhere) is never written through.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .invalidInput("cannot write '\(printable(path))': \(errnoText()); expected a writable output folder")
        }
        do throws(MailPortError) {
            let sink = ReportSink(fd: fd, path: path)
            try render(sink)
            try sink.flush()
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        let synced = fsync(fd) == 0
        let reason = errnoText()
        // close can report a deferred write error (NFS, some FUSE file systems) too.
        guard close(fd) == 0, synced else {
            unlink(temporary)
            throw .scanFailed("cannot write '\(printable(path))': \(synced ? errnoText() : reason)")
        }
        return Staged(temporary: temporary, destination: path)
    }

    /// Renames staged files into place, in order. A rename needs no new space, so once a set is staged it lands
    /// whole; should one still fail, the files not yet renamed are removed and the error names the first failure.
    public static func commit(_ staged: [Staged]) throws(MailPortError) {
        for (index, file) in staged.enumerated() where rename(file.temporary, file.destination) != 0 {
            let reason = errnoText()
            discard(Array(staged[index...]))
            throw .scanFailed("cannot write '\(printable(file.destination))': \(reason)")
        }
    }

    /// Removes staged files that will not be committed.
    public static func discard(_ staged: [Staged]) {
        for file in staged { unlink(file.temporary) }
    }

    /// Temporary names are `.<name>.tmp-<pid>-<random>`.
    static let temporaryMarker = ".tmp-"

    /// Removes temporary files that a run of MailPort left behind when it was killed before it could clean up:
    /// regular files named as `stage` names them whose process no longer exists. Links, folders, other people's
    /// files and the temporaries of a run still alive are left alone.
    @discardableResult
    public static func removeAbandonedTemporaries(in directory: String) -> [String] {
        guard let folder = opendir(directory) else { return [] }
        defer { closedir(folder) }
        var removed: [String] = []
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = abandonedTemporaryOwner(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else {
                continue
            }
            let path = directory + "/" + name
            var status = stat()
            guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_uid == geteuid() else {
                continue
            }
            if unlink(path) == 0 { removed.append(name) }
        }
        return removed
    }

    /// The pid in a name of the form `.<name>.tmp-<pid>-<random>`, or nil when the name is not one of ours.
    static func abandonedTemporaryOwner(_ name: String) -> pid_t? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard name.hasPrefix("."), parts.count >= 3 else { return nil }
        let head = parts.dropLast(2).joined(separator: "-")
        let digits = { (part: Substring) in !part.isEmpty && part.utf8.allSatisfy { (0x30...0x39).contains($0) } }
        guard head.hasSuffix(".tmp"), head.count > ".x.tmp".count - 1, digits(parts[parts.count - 2]),
            digits(parts[parts.count - 1]),
            let pid = pid_t(parts[parts.count - 2]), pid > 0, UInt32(parts[parts.count - 1]) != nil
        else { return nil }
        return pid
    }

    private static func split(_ path: String) -> (directory: String, name: String) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return (directory, name)
    }

    /// Creates `directory` (and its parents) if needed and checks that a file can be created there, so a bad
    /// `--output-dir` is reported before a long scan rather than after it.
    public static func prepareDirectory(_ directory: String) throws(MailPortError) {
        var built = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o755) != 0 && errno != EEXIST {
                throw .invalidInput(
                    "cannot create output folder '\(printable(directory))': \(errnoText()); expected a writable folder")
            }
        }
        var status = stat()
        guard stat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            throw .invalidInput("output folder '\(printable(directory))' is not a folder; expected a writable folder")
        }
        // A fresh name, created exclusively and never through a link: whatever is planted in the folder under a
        // guessable name is neither followed nor removed.
        let probe = directory + "/.mailport-write-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .invalidInput(
                "output folder '\(printable(directory))' is not writable: \(errnoText()); expected a writable folder")
        }
        close(fd)
        unlink(probe)
    }
}
