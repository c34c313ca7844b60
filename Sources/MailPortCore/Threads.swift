import Foundation
import Synchronization

/// Runs `body(0)`, `body(1)`, … `body(count - 1)` at the same time, each on a thread of its own (the caller's for the
/// first), and returns what each returned, in that order, when every one has.
///
/// Threads of their own, not `DispatchQueue.concurrentPerform`: an apply gets no more threads than GCD believes
/// idle, and in a run whose event loops and discovery thread are busy, or inside another apply, that was none: the
/// report digest's two halves ran one after the other on one core while the other idled.
public func onThreads<Result: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> Result) -> [Result] {
    let results = Mutex<[Result?]>(Array(repeating: nil, count: max(0, count)))
    let group = DispatchGroup()
    for index in 1..<max(1, count) {
        group.enter()
        let thread = Thread {
            let result = body(index)
            results.withLock { $0[index] = result }
            group.leave()
        }
        // Report templates recurse; Foundation's default for a secondary thread is small.
        thread.stackSize = 8 << 20
        thread.start()
    }
    if count > 0 {
        let first = body(0)
        results.withLock { $0[0] = first }
    }
    group.wait()
    return results.withLock { $0.map { $0! } }
}

/// How `count` items (hosts, in order) split into runs of consecutive items for `onThreads`: one run per core (at
/// most `maximumConsecutiveRuns`), each of at least `minimum` items, since splitting a small job costs more than it
/// saves; `parts` sets the number of runs instead (tests compare splits). Never empty: no items make one empty run.
public func consecutiveRuns(
    of count: Int, minimum: Int = minimumConsecutiveRun, parts: Int? = nil,
    cores: Int = ProcessInfo.processInfo.activeProcessorCount
) -> [Range<Int>] {
    let runs = max(1, min(parts ?? min(cores, maximumConsecutiveRuns), count / (parts == nil ? max(1, minimum) : 1)))
    return (0..<runs).map { run in (count * run / runs)..<(count * (run + 1) / runs) }
}

/// The most runs `consecutiveRuns` makes by itself: each holds a host and its rendering at a time, and a thread
/// that allocates gets a heap arena of its own, which keeps what it had; on a machine of 64 cores (or a container
/// that reports its host's) 64 runs would add memory for little speed (two threads sped the report digest up by
/// 1.4, not 2).
public let maximumConsecutiveRuns = 8

/// The fewest items (hosts) `consecutiveRuns` gives a run by itself.
public let minimumConsecutiveRun = 64
