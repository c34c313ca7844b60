import Foundation
import Logging
import MailPortCore
import MailPortLab
import MailPortTargets
import MailPortTestSupport
import Testing

@testable import MailPortDiscovery

/// Runs `scanner` over `targets` × `ports` and returns every observation, keyed by "address:port"; a probe
/// reported twice stops the test.
func discover(
    _ targets: [String], ports: [PortSpec], with scanner: any PortDiscoverer,
    seed: UInt64 = 1
) throws -> (observations: [String: PortObservation], end: DiscoveryEnd, progress: DiscoveryProgress) {
    let space = try TargetSpace(targets: targets, resolver: StaticResolver([:]))
    let plan = try ProbePlan(space: space, ports: ports, seed: seed, allowLarge: true)
    var observations: [String: PortObservation] = [:]
    let (end, progress) = try scanner.run(
        probes: plan, planned: plan.count, shouldStop: { false }, onProgress: { _ in },
        onObservation: { observation in
            let key = "\(observation.probe.address):\(observation.probe.port.port)"
            precondition(observations[key] == nil, "\(key) reported twice")
            observations[key] = observation
        })
    return (observations, end, progress)
}

/// Connect discovery over `targets` × `ports`.
func discover(
    _ targets: [String], ports: [PortSpec], options: DiscoveryOptions = DiscoveryOptions(concurrency: 256),
    seed: UInt64 = 1
) throws -> (observations: [String: PortObservation], end: DiscoveryEnd, progress: DiscoveryProgress) {
    try discover(
        targets, ports: ports, with: ConnectScanner(options: options, logger: Logger(label: "test")), seed: seed)
}

@Suite("Connect discovery on loopback")
struct LoopbackDiscoveryTests {
    static let ports = [
        PortSpec(port: 20025, service: .smtp), PortSpec(port: 20587, service: .submission),
        PortSpec(port: 20993, service: .imaps),
    ]

    @Test("every listener is open, every other port closed (IPv4 hosts across 127.0.0.0/8, and ::1)")
    func loopbackStates() async throws {
        let listening: Set<String> = ["127.91.0.1:20025", "127.91.0.1:20993", "127.91.0.3:20587", "::1:20993"]
        let lab = try await LoopbackLab.start(
            listening.map { key in
                let colon = key.lastIndex(of: ":")!
                return LabEndpoint(
                    address: String(key[..<colon]), port: UInt16(key[key.index(after: colon)...])!,
                    behaviour: .raw("220 test\r\n"))
            })
        defer { lab.stop() }
        let result = try await Task.detached {
            try discover(["127.91.0.1-127.91.0.4", "::1"], ports: Self.ports)
        }.value
        #expect(result.end == .finished)
        #expect(result.observations.count == 5 * 3)
        for (key, observation) in result.observations {
            if listening.contains(key) {
                #expect(observation.state == .open && observation.reason == .synAck, "\(key)")
                #expect(observation.roundTripNanoseconds != nil)
            } else {
                #expect(observation.state == .closed && observation.reason == .reset, "\(key)")
            }
        }
        #expect(result.progress.done == 15 && result.progress.open == 4 && result.progress.closed == 11)
    }

    @Test("--rate paces new connections: 60 probes at 200/s cannot finish in under 0.25 s")
    func ratePacing() async throws {
        let start = ContinuousClock.now
        let result = try await Task.detached {
            try discover(
                ["127.92.0.1-127.92.0.20"], ports: Self.ports,
                options: DiscoveryOptions(concurrency: 256, rate: 200))
        }.value
        let elapsed = ContinuousClock.now - start
        #expect(result.progress.done == 60)
        #expect(elapsed >= .milliseconds(250))
    }

    @Test("stopping mid-run ends as interrupted with only final states reported")
    func interruption() async throws {
        let result = try await Task.detached { () -> (Int, DiscoveryEnd) in
            let space = try TargetSpace(targets: ["127.93.0.0/20"], resolver: StaticResolver([:]))
            let plan = try ProbePlan(space: space, ports: Self.ports, seed: 5, allowLarge: true)
            var seen = 0
            let (end, _) = try ConnectScanner(
                options: DiscoveryOptions(concurrency: 8, rate: 2000), logger: Logger(label: "t")
            )
            .run(probes: plan, planned: plan.count, shouldStop: { seen >= 100 }) { _ in seen += 1 }
            return (seen, end)
        }.value
        #expect(result.1 == .interrupted)
        #expect(result.0 >= 100 && result.0 < 200)
    }
}

@Suite("Adaptive timeout")
struct AdaptiveTimeoutTests {
    @Test("uses the full bound until an answer, then follows round-trip times within floor and bound")
    func followsRoundTrips() {
        var timeout = AdaptiveTimeout(floorNanoseconds: 100_000_000, ceilingNanoseconds: 2_000_000_000, enabled: true)
        #expect(timeout.current == 2_000_000_000)
        #expect(timeout.retry == 2_000_000_000)
        timeout.record(roundTripNanoseconds: 1_000_000)
        #expect(timeout.current == 100_000_000)  // 1 ms + 4 × 0.5 ms is below the floor
        #expect(timeout.retry == 100_000_000)  // and so is twice that: the floor, not twice the floor
        for _ in 0..<50 { timeout.record(roundTripNanoseconds: 300_000_000) }
        #expect(timeout.current > 300_000_000 && timeout.current < 2_000_000_000)
        #expect(timeout.retry > 600_000_000 && timeout.retry <= 2_000_000_000)
        for _ in 0..<50 { timeout.record(roundTripNanoseconds: 5_000_000_000) }
        #expect(timeout.current == 2_000_000_000)
        #expect(timeout.retry == 2_000_000_000)
        var between = AdaptiveTimeout(floorNanoseconds: 100_000_000, ceilingNanoseconds: 2_000_000_000, enabled: true)
        for _ in 0..<50 { between.record(roundTripNanoseconds: 80_000_000) }
        // An estimate just below the floor: the first attempt waits the floor, the retry twice the estimate.
        #expect(between.current == 100_000_000)
        #expect(between.retry > 150_000_000 && between.retry < 200_000_000)
        let fixed = AdaptiveTimeout(floorNanoseconds: 1, ceilingNanoseconds: 700, enabled: false)
        #expect(fixed.current == 700)
        #expect(fixed.retry == 700)
    }
}

@Suite(
    "Connect discovery in a namespace lab", .rootTier, .enabled(if: runningAsRoot, Comment(rawValue: needsRootReason)),
    .serialized)
struct NamespaceDiscoveryTests {
    @Test("open, closed (reset), filtered by drop and by ICMP unreachable: every state right, nothing twice")
    func everyStateRight() async throws {
        try await NamespaceLab.with(
            name: "mpdisc",
            arguments: [
                "--cidr", "198.18.7.0/24", "--live", "0.15", "--refuse", "0.15", "--unreach", "0.1", "--seed", "11",
            ]
        ) { lab in
            let truth = lab.truth
            let result = try await runInNetworkNamespace(lab.scannerNamespace) {
                try discover(
                    [truth.cidr], ports: PortSpec.defaults,
                    options: DiscoveryOptions(concurrency: 512, timeoutNanoseconds: 500_000_000))
            }
            #expect(result.observations.count == 256 * 7)
            let wrong = mismatches(result.observations, truth: truth)
            #expect(wrong.isEmpty, "\(wrong.prefix(10))")
            #expect(result.progress.open == UInt64(truth.open.count))
            #expect(result.progress.retried > 0, "dropped probes are retried once")
        }
    }

    @Test(
        "one socket serves every probe in turn: each state stays right whatever the probe before met, open ports are reset"
    )
    func reusedSocketKeepsStatesApart() async throws {
        try await NamespaceLab.with(
            name: "mpreuse",
            arguments: [
                "--cidr", "198.18.8.0/28", "--live", "0.3", "--refuse", "0.3", "--unreach", "0.15", "--seed", "5",
            ]
        ) { lab in
            let truth = lab.truth
            // One slot and a fixed 50 ms timeout: every probe connects on the socket the one before used, so every
            // kind of ending (handshake, reset, ICMP error, silence, a retry) is followed by every other.
            let result = try await runInNetworkNamespace(lab.scannerNamespace) {
                try discover(
                    [truth.cidr], ports: PortSpec.defaults,
                    options: DiscoveryOptions(
                        concurrency: 1, timeoutNanoseconds: 50_000_000, minimumTimeoutNanoseconds: 50_000_000,
                        adaptiveTimeout: false, adaptiveWindow: false))
            }
            #expect(result.observations.count == 16 * 7)
            let wrong = mismatches(result.observations, truth: truth)
            #expect(wrong.isEmpty, "\(wrong.prefix(10))")
            let states = Set(result.observations.values.map { "\($0.state)/\($0.reason)" })
            #expect(states.count == 4, "open, reset, unreachable and silent probes all took turns: \(states)")
            #expect(result.progress.open == UInt64(truth.open.count) && truth.open.count > 0)
            #expect(result.progress.retried > 0)
            #expect(result.progress.socketsMade == 1, "112 probes on one socket")
            // Open ports were reset, not closed with a FIN: the scanner keeps no TIME_WAIT entry.
            let waiting = try await runProgram(
                "/usr/sbin/ip", ["netns", "exec", lab.scannerNamespace, "ss", "-Htan", "state", "time-wait"])
            #expect(waiting.status == 0)
            #expect(waiting.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(waiting)")
        }
    }

    @Test("targets outside the lab's routes are reported unreachable and nothing is sent")
    func noRouteIsFiltered() async throws {
        try await NamespaceLab.with(name: "mpnort", arguments: ["--cidr", "198.18.9.0/30", "--live", "1"]) { lab in
            let result = try await runInNetworkNamespace(lab.scannerNamespace) {
                // 203.0.113.0/30 (TEST-NET-3) has no route in the scanner namespace.
                try discover(["203.0.113.0/30"], ports: [PortSpec(port: 25, service: .smtp)])
            }
            #expect(result.observations.count == 4, "every probe reported: \(result.observations.keys.sorted())")
            #expect(result.observations.values.allSatisfy { $0.state == .filtered && $0.reason == .networkUnreachable })
        }
    }
}

@Suite("Connect discovery when the scanner falls behind")
struct LateReadingTests {
    /// Listens on every address (127.0.0.0/8 included) on a port of the kernel's choosing and accepts in a thread
    /// of its own, so the accept queue never fills.
    final class WildcardListener: @unchecked Sendable {
        let descriptor: Int32
        let port: UInt16

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.descriptor = descriptor
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = INADDR_ANY
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(descriptor, pointer, length) == 0 && listen(descriptor, 4096) == 0
                        && getsockname(descriptor, pointer, &length) == 0
                }
            }
            try #require(descriptor >= 0 && bound, "cannot listen: errno \(errno)")
            port = UInt16(bigEndian: address.sin_port)
            Thread.detachNewThread {
                while true {
                    let accepted = accept(descriptor, nil, nil)
                    if accepted < 0 && errno != EINTR && errno != ECONNABORTED { return }
                    if accepted >= 0 { close(accepted) }
                }
            }
        }

        func stop() {
            shutdown(descriptor, Int32(SHUT_RDWR))
            close(descriptor)
        }
    }

    @Test(
        "an answer that came in time is open even when the scanner reads it after its deadline (1,500 answers waiting, a 400 ms stall, no retries)"
    )
    func answersReadLate() async throws {
        let listener = try WildcardListener()
        defer { listener.stop() }
        let ports = [PortSpec(port: listener.port, service: .smtp)]
        let observations = try await Task.detached { () -> [PortObservation] in
            let space = try TargetSpace(targets: ["127.89.0.1-127.89.5.220"], resolver: StaticResolver([:]))
            let plan = try ProbePlan(space: space, ports: ports, seed: 3, allowLarge: true)
            // All 1,500 connects in flight at once, each with 200 ms and one attempt: the stall in the first
            // observation outlasts every deadline, and the answers outnumber what one epoll_wait returns (1,024).
            let options = DiscoveryOptions(
                concurrency: 2048, timeoutNanoseconds: 200_000_000, minimumTimeoutNanoseconds: 200_000_000,
                retries: 0, adaptiveTimeout: false, adaptiveWindow: false)
            var seen: [PortObservation] = []
            _ = try ConnectScanner(options: options, logger: Logger(label: "test")).run(
                probes: plan, planned: plan.count
            ) { observation in
                // A descheduled scanner thread: what the kernel answered meanwhile waits unread.
                if seen.isEmpty { usleep(400_000) }
                seen.append(observation)
            }
            return seen
        }.value
        #expect(observations.count == 1500)
        let unanswered = observations.filter { $0.state != .open }
        #expect(
            unanswered.count == 0,
            "answered endpoints reported otherwise, e.g. \(unanswered.first.map { "\($0.state) (\($0.reason))" } ?? "")"
        )
    }
}
