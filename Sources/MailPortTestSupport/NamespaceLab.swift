import Foundation

/// A lab of scan targets in network namespaces (scripts/nslab.py): NAME-s is the scanner's namespace, whose only
/// routes lead to the lab block, and NAME-t holds the targets behind nftables.
public final class NamespaceLab: @unchecked Sendable {
    public struct Truth: Decodable, Sendable {
        public var cidr: String
        public var ports: [UInt16]
        public var open: [Endpoint]
        public var live: [String]
        public var refuse: [String]
        public var unreach: [String]
        /// What nslab.py could apply of --delay-ms/--jitter-ms/--loss (netem, or nftables for loss only).
        public var faults: Faults?

        public struct Faults: Decodable, Sendable {
            public var netem: Bool
            public var delayMs: Double
            public var jitterMs: Double
            public var lossPercent: Double
            public var lossBy: String?
        }

        public struct Endpoint: Decodable, Sendable, Hashable {
            public var address: String
            public var port: UInt16
        }

        /// The open endpoints as "address:port" strings.
        public var openEndpoints: Set<String> { Set(open.map { "\($0.address):\($0.port)" }) }
    }

    public let name: String
    public let truth: Truth
    public var scannerNamespace: String { name + "-s" }
    /// The namespace the lab's hosts live in (for firewall changes during a test).
    public var targetNamespace: String { name + "-t" }

    /// Builds a lab, runs `body` with it and tears it down, also when `body` throws; `arguments` are passed to
    /// `nslab.py up` (e.g. ["--cidr", "198.18.7.0/24", "--live", "0.2"]).
    public static func with<Result>(
        name: String, arguments: [String], _ body: (NamespaceLab) async throws -> Result
    ) async throws -> Result {
        let lab = try await NamespaceLab(name: name, arguments: arguments)
        return try await tearingDown(lab, body, tearDown: { await lab.tearDown() })
    }

    /// Builds the lab; `arguments` are passed to `nslab.py up`. The caller tears it down (`with` does).
    public init(name: String, arguments: [String]) async throws {
        let name = uniqueNamespaceName(name)
        self.name = name
        let truthFile = makeTemporaryDirectory("nslab") + "/truth.json"
        let outcome = try await runProgram(
            "/usr/bin/env",
            [
                "python3", ProjectPaths.namespaceLab, "up", "--name", name,
                "--truth", truthFile,
            ] + arguments, timeLimit: 120)
        guard outcome.status == 0 else {
            throw LabError(message: "nslab up failed: \(outcome.standardError)")
        }
        truth = try JSONDecoder().decode(Truth.self, from: Data(contentsOf: URL(fileURLWithPath: truthFile)))
    }

    /// Runs a program inside the scanner's namespace.
    public func runInScanner(
        _ executable: String, _ arguments: [String], timeLimit: Double = 120
    ) async throws -> ProcessOutcome {
        try await runProgram(
            "/usr/sbin/ip", ["netns", "exec", scannerNamespace, executable] + arguments, timeLimit: timeLimit)
    }

    /// Removes the namespaces and stops the listener.
    public func tearDown() async {
        _ = try? await runProgram("/usr/bin/env", ["python3", ProjectPaths.namespaceLab, "down", "--name", name])
    }

    public struct LabError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

/// An empty network namespace with only loopback up and no routes: whatever a command tries to reach beyond
/// 127.0.0.0/8 fails with "network unreachable", so tests of bad input can run the real command line safely.
public final class SandboxNamespace: @unchecked Sendable {
    public let name: String

    /// Makes the namespace, runs `body` with it and deletes it, also when `body` throws.
    public static func with<Result>(
        name: String, _ body: (SandboxNamespace) async throws -> Result
    ) async throws -> Result {
        let sandbox = try await SandboxNamespace(name: name)
        return try await tearingDown(sandbox, body, tearDown: { await sandbox.tearDown() })
    }

    public init(name: String) async throws {
        let name = uniqueNamespaceName(name)
        self.name = name
        _ = try await runProgram("/usr/sbin/ip", ["netns", "delete", name])
        let created = try await runProgram("/usr/sbin/ip", ["netns", "add", name])
        guard created.status == 0 else { throw NamespaceLab.LabError(message: created.standardError) }
        _ = try await runProgram("/usr/sbin/ip", ["netns", "exec", name, "ip", "link", "set", "lo", "up"])
    }

    public func run(
        _ executable: String, _ arguments: [String], timeLimit: Double = 60
    ) async throws -> ProcessOutcome {
        try await runProgram("/usr/sbin/ip", ["netns", "exec", name, executable] + arguments, timeLimit: timeLimit)
    }

    public func tearDown() async {
        _ = try? await runProgram("/usr/sbin/ip", ["netns", "delete", name])
    }
}

/// The real-server test bed (scripts/mailbed.py): Postfix and Dovecot with one configuration per address.
public final class MailBed: @unchecked Sendable {
    public let name: String
    public var scannerNamespace: String { name + "-s" }
    /// The bed's self-signed certificate, to pass as --ca-file.
    public var certificateFile: String { "/run/mailport-mailbed/\(name)/cert.pem" }

    /// The CA file for the certificate-variant hosts (`certs: true`).
    public var variantRootsFile: String { "/run/mailport-mailbed/\(name)/certs/roots.pem" }

    /// Postfix's log (every service of the bed writes here; the defended hosts' smtpd as postfix/NAME/smtpd).
    public var postfixLog: String { "/run/mailport-mailbed/\(name)/postfix.log" }

    /// Starts a bed, runs `body` with it and stops it, also when `body` throws (parameters as for `init`).
    public static func with<Result>(
        name: String, certs: Bool = false, defended: Bool = false, relay: Bool = false,
        _ body: (MailBed) async throws -> Result
    ) async throws -> Result {
        let bed = try await MailBed(name: name, certs: certs, defended: defended, relay: relay)
        return try await tearingDown(bed, body, tearDown: { await bed.tearDown() })
    }

    /// - Parameters:
    ///   - certs: also the certificate-variant hosts 198.18.50.20–26 (see scripts/mailbed.py).
    ///   - defended: instead of the others, only the self-defending Postfix hosts 198.18.50.30–32 (anvil's rate
    ///     limit, postscreen), without Dovecot.
    ///   - relay: also the Postfix hosts 198.18.50.14–17 that refuse the plain relay form but miss one bypass form.
    public init(name: String, certs: Bool = false, defended: Bool = false, relay: Bool = false) async throws {
        let name = uniqueNamespaceName(name)
        self.name = name
        let outcome = try await runProgram(
            "/usr/bin/env",
            ["python3", ProjectPaths.root + "/scripts/mailbed.py", "up", "--name", name]
                + (certs ? ["--certs"] : []) + (defended ? ["--defended"] : []) + (relay ? ["--relay"] : []),
            timeLimit: 600)
        guard outcome.status == 0 else {
            throw NamespaceLab.LabError(message: "mailbed up failed: \(outcome.standardError)\(outcome.standardOutput)")
        }
    }

    public func runInScanner(
        _ executable: String, _ arguments: [String], timeLimit: Double = 120
    ) async throws -> ProcessOutcome {
        try await runProgram(
            "/usr/sbin/ip", ["netns", "exec", scannerNamespace, executable] + arguments, timeLimit: timeLimit)
    }

    public func tearDown() async {
        _ = try? await runProgram(
            "/usr/bin/env", ["python3", ProjectPaths.root + "/scripts/mailbed.py", "down", "--name", name])
    }
}

/// A namespace name unique to this test process, so two checkouts testing at once on one machine never tear down
/// each other's labs. Kept short: interface names ("NAMEs0") have at most 15 characters.
func uniqueNamespaceName(_ base: String) -> String {
    "\(base.prefix(7))\(getpid() % 100_000)"
}

/// Runs `body` with a resource, then `tearDown`, whether `body` returned or threw.
private func tearingDown<Resource, Result>(
    _ resource: Resource, _ body: (Resource) async throws -> Result, tearDown: () async -> Void
) async throws -> Result {
    let result: Result
    do {
        result = try await body(resource)
    } catch {
        await tearDown()
        throw error
    }
    await tearDown()
    return result
}
