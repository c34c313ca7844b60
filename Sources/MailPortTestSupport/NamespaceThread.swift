import Foundation

/// Runs `body` on a new thread that has joined the network namespace `name` (created with `ip netns add`).
///
/// The network namespace is a per-thread property on Linux, so an in-process test can put just this thread (and the
/// sockets it opens) inside a lab namespace while the rest of the test process stays where it is.
public func runInNetworkNamespace<Result: Sendable>(
    _ name: String, _ body: @escaping @Sendable () throws -> Result
)
    async throws -> Result
{
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            let fd = open("/var/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                continuation.resume(throwing: NamespaceLab.LabError(message: "cannot open namespace \(name)"))
                return
            }
            // nstype 0: accept whatever namespace the file is (it is a network namespace by construction).
            let joined = setNetworkNamespace(fd)
            close(fd)
            guard joined == 0 else {
                continuation.resume(throwing: NamespaceLab.LabError(message: "setns(\(name)) failed: errno \(errno)"))
                return
            }
            continuation.resume(with: Swift.Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// glibc's `setns(2)` wrapper, looked up at run time: Swift's Glibc module does not export it (it is a
/// _GNU_SOURCE declaration), and only the tests need it.
private func setNetworkNamespace(_ fd: Int32) -> Int32 {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "setns") else { return -1 }
    return unsafeBitCast(symbol, to: SetNS.self)(fd, 0)
}
