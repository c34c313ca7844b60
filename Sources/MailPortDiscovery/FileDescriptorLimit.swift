import MailPortCore

#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit, which bounds how many connections can be in flight.
public enum FileDescriptorLimit {
    /// Raises the soft limit as far as allowed: to the hard limit, and for a privileged process (CAP_SYS_RESOURCE)
    /// the hard limit too, up to `wanted`. Returns the soft limit in force afterwards.
    @discardableResult
    public static func raise(toAtLeast wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(openFileLimitResource, &limit) == 0 else { return 1024 }
        let target = rlim_t(max(wanted, 0))
        if limit.rlim_cur < target {
            if limit.rlim_max < target {
                var higher = rlimit(rlim_cur: target, rlim_max: target)
                if setrlimit(openFileLimitResource, &higher) == 0 { return Int(target) }
            }
            var soft = rlimit(rlim_cur: min(target, limit.rlim_max), rlim_max: limit.rlim_max)
            if setrlimit(openFileLimitResource, &soft) == 0 { limit.rlim_cur = soft.rlim_cur }
        }
        return Int(limit.rlim_cur)
    }

    /// The soft limit now in force.
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(openFileLimitResource, &limit) == 0 else { return 1024 }
        return Int(limit.rlim_cur)
    }

    /// Descriptors kept free for everything that is not a probe: logs, report files, the resolver, stdio.
    public static let reserved = 64

    /// The fewest descriptors a scan runs with: the reserve, the event loops' own (epoll, eventfd, timerfd per
    /// thread), and room for a few dialogs and the discovery sockets beside them. Below it a run would spend its
    /// time failing to open sockets (and the Swift runtime's dispatch threads have crashed outright at 32).
    public static let minimumForScan = 128

    /// Raises the limit to what a scan needs at the least, or refuses the run (exit 3) with what to do about it.
    public static func ensureMinimumForScan() throws(MailPortError) {
        let limit = raise(toAtLeast: minimumForScan)
        guard limit >= minimumForScan else {
            throw .scanFailed(
                "the open-file limit is \(limit) (ulimit -n) and cannot be raised; expected at least \(minimumForScan) for sockets, the TLS library and report files"
            )
        }
    }

    #if canImport(Glibc)
    private static let openFileLimitResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #endif
}
