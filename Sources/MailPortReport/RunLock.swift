import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// One run at a time per output folder: an exclusive `flock` on a lock file that records the holder's pid. The
/// kernel drops the lock when its holder dies, so a lock file left by a crashed or killed run (a dead pid) is
/// simply taken over; a live holder makes the second run exit 3 with a message naming it.
///
/// The lock path is often guessable (`.mailport.lock` in a shared folder) or given by a person (`--lock-file`), so
/// it is opened as something that may be hostile: never through a symbolic link (`O_NOFOLLOW`), only when it is a
/// regular file with one name that this user owns, and only when it is empty or holds a pid as MailPort writes it.
/// Anything else (a link planted to `/etc/passwd`, a notes file named by mistake) is refused untouched, exit 2.
public final class RunLock {
    private let descriptor: Int32
    public let path: String

    /// The most a MailPort lock file holds: a pid and a newline.
    static let maxContentBytes = 32

    public init(path: String) throws(MailPortError) {
        self.path = path
        let shown = printable(path)
        // No O_TRUNC: the file is only rewritten once it is known to be a lock file and held.
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw .invalidInput(
                    "lock file '\(shown)' is a symbolic link; expected a regular file MailPort can own (links are never followed)"
                )
            }
            throw .invalidInput("cannot open lock file '\(shown)': \(errnoText()); expected a writable path")
        }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_nlink == 1,
            status.st_uid == geteuid()
        else {
            close(fd)
            throw .invalidInput(
                "lock file '\(shown)' is not a regular file of this user with a single name; expected a path MailPort can own"
            )
        }
        guard status.st_size <= Self.maxContentBytes, Self.looksLikeLock(Self.contents(fd)) else {
            close(fd)
            throw .invalidInput(
                "lock file '\(shown)' exists and is not a MailPort lock file (it holds something other than a pid); expected a new path or an earlier run's lock file"
            )
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = Self.contents(fd).trimmingWhitespace()
            close(fd)
            throw .scanFailed(
                "another mailport run (pid \(printable(holder.isEmpty ? "?" : holder, limit: 20))) holds '\(shown)'; expected one run at a time per output folder"
            )
        }
        // Ours now, and known to hold nothing but an earlier run's pid.
        _ = ftruncate(fd, 0)
        let text = "\(getpid())\n"
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    deinit {
        // Leave the file (removing it would race with a waiting run); closing releases the lock.
        _ = ftruncate(descriptor, 0)
        close(descriptor)
    }

    /// Empty, or a pid and a newline.
    static func looksLikeLock(_ text: String) -> Bool {
        let trimmed = text.trimmingWhitespace()
        return trimmed.isEmpty || (trimmed.count <= 10 && trimmed.utf8.allSatisfy { (0x30...0x39).contains($0) })
    }

    private static func contents(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: maxContentBytes + 1)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
    }
}
