import Foundation
import Testing

/// The two tiers of the suite. A plain `swift test` runs the fast tier: in parallel, without root, namespaces, real
/// mail servers, a browser or the command line as a process. `scripts/test` then runs the root tier on its own
/// (`MAILPORT_TEST_TIER=root`, in parallel as well): what needs root or a real outside part, and the handful of
/// behaviours only a process shows (exit status, stderr, signals, the lock). `scripts/root-tier` lists its suites.
public enum TestTier {
    public static let isRoot = ProcessInfo.processInfo.environment["MAILPORT_TEST_TIER"] == "root"
}

extension Trait where Self == ConditionTrait {
    /// Marks a suite or test of the root tier: skipped, saying why, by a plain `swift test`.
    public static var rootTier: Self {
        .enabled(
            if: TestTier.isRoot,
            "root tier (namespaces, real servers, a browser or the command line as a process): run by scripts/test")
    }
}
