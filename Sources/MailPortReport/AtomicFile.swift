#if canImport(Glibc)
import Glibc
#endif
import MailPortCore

/// Writes files so a reader (a dashboard, the next cron run, a CI step) never sees half of one: the bytes go to a
/// temporary file in the same folder, are flushed to disk, and the file is renamed over the target in one step.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(MailPortError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .invalidInput("cannot write '\(printable(path))': \(errnoText()); expected a writable output folder") }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let reason = errnoText()
                close(fd)
                unlink(temporary)
                throw .scanFailed("cannot write '\(printable(path))': \(reason)")
            }
            written += result
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw .scanFailed("cannot write '\(printable(path))': \(reason)")
        }
    }

    /// Creates `directory` (and its parents) if needed and checks that a file can be created there, so a bad
    /// `--output-dir` is reported before a long scan rather than after it.
    public static func prepareDirectory(_ directory: String) throws(MailPortError) {
        var built = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o755) != 0 && errno != EEXIST {
                throw .invalidInput("cannot create output folder '\(printable(directory))': \(errnoText()); expected a writable folder")
            }
        }
        var status = stat()
        guard stat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            throw .invalidInput("output folder '\(printable(directory))' is not a folder; expected a writable folder")
        }
        let probe = directory + "/.mailport-write-test-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .invalidInput("output folder '\(printable(directory))' is not writable: \(errnoText()); expected a writable folder")
        }
        close(fd)
        unlink(probe)
    }
}
