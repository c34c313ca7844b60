import Foundation
import Logging
import MailPortCore
import MailPortLab
import NIOPosix
import Testing

@testable import MailPortProbe

/// Starts a lab endpoint on its own loopback address (on a free port unless `port` names one), probes it, and shuts
/// the lab down.
func probe(
    _ behaviour: LabBehaviour, service: MailService, address: String, port: UInt16 = 0,
    limits: DialogLimits = DialogLimits(
        readTimeoutNanoseconds: 1_000_000_000, greetingTimeoutNanoseconds: 1_000_000_000),
    retryPause: UInt64 = 100_000_000, limitBackoffFloor: UInt64 = 5_000_000_000
) async throws -> (DialogObservation, Duration) {
    let lab = try await LoopbackLab.start([LabEndpoint(address: address, port: port, behaviour: behaviour)])
    let port = lab.endpoints[0].port
    let prober = EndpointProber(
        options: ProbeOptions(
            connectTimeoutNanoseconds: 1_000_000_000, limits: limits, retryPauseNanoseconds: retryPause,
            limitBackoffFloorNanoseconds: limitBackoffFloor),
        group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
    let clock = ContinuousClock()
    let start = clock.now
    let observation = await prober.probe(
        ProbeTarget(address: IPAddress(address)!, port: PortSpec(port: port, service: service)))
    let elapsed = clock.now - start
    await lab.shutdown()
    return (observation, elapsed)
}

@Suite("Dialogs against scripted servers on loopback")
struct DialogTests {
    @Test("SMTP: multi-line greeting, EHLO extensions, AUTH, STARTTLS accepted and handed over, transcript")
    func smtpNormal() async throws {
        let (facts, _) = try await probe(
            .smtp(
                SMTPScript(
                    greeting: ["mx.lab ESMTP Postfix", "no UCE"],
                    extensions: ["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"])),
            service: .submission, address: "127.95.0.1")
        #expect(facts.identifiedAs == .smtp && facts.complete && facts.attempts == 1)
        #expect(facts.banner == "mx.lab ESMTP Postfix\nno UCE")
        #expect(facts.greetingStatus == "220")
        #expect(facts.capabilities == ["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"])
        #expect(facts.authMechanisms == ["PLAIN", "LOGIN"])
        #expect(
            facts.starttls
                == StartTLSObservation(
                    offered: true, attempted: true, reply: "220 2.0.0 Ready to start TLS",
                    accepted: true, upgraded: nil))
        #expect(facts.transcript.first == TranscriptLine(.server, "220-mx.lab ESMTP Postfix"))
        #expect(facts.transcript.contains(TranscriptLine(.client, "EHLO mailport.invalid")))
        #expect(facts.transcript.last == TranscriptLine(.server, "220 2.0.0 Ready to start TLS"))
        #expect(facts.violations.isEmpty)
    }

    @Test("SMTP: no STARTTLS offered means none sent; QUIT ends the dialog")
    func smtpWithoutStartTLS() async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript(extensions: ["PIPELINING"])), service: .smtp, address: "127.95.0.2")
        #expect(facts.starttls == StartTLSObservation(offered: false))
        #expect(facts.transcript.map(\.text).contains("QUIT"))
        #expect(!facts.transcript.map(\.text).contains("STARTTLS"))
    }

    @Test("SMTP: EHLO refused falls back to HELO")
    func heloFallback() async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript(ehloRejection: "500 5.5.1 command unrecognized")),
            service: .smtp, address: "127.95.0.3")
        #expect(facts.usedHELO && facts.complete && facts.capabilities.isEmpty)
    }

    @Test(
        "a 421 naming a connection limit is retried after a longer back-off; a server busy throughout is reported incomplete with its words"
    )
    func busyServer() async throws {
        // The back-off's floor (5 s in a run) at 0.5 s: ten retry pauses (1 s) are then the back-off.
        let (once, _) = try await probe(
            .smtp(SMTPScript(busyConnections: 1)), service: .smtp, address: "127.95.0.4",
            limitBackoffFloor: 500_000_000)
        #expect(once.complete && once.attempts == 2 && once.identifiedAs == .smtp)
        let (always, elapsed) = try await probe(
            .smtp(SMTPScript(busyConnections: 5)), service: .smtp, address: "127.95.0.5",
            limitBackoffFloor: 500_000_000)
        // "too many connections": three attempts, after 1 s and 2 s (the back-off, doubled), not after the 0.1 s
        // retry pause that would land inside the same rate window.
        #expect(!always.complete && always.attempts == 3 && always.connections == 3)
        #expect(elapsed >= .seconds(3))
        #expect(always.incompleteReason == "server busy: 421 4.7.0 lab.mailport.test Error: too many connections")
        #expect(always.starttls == nil, "no STARTTLS fact without an EHLO")
    }

    @Test(
        "the back-off after a named connection limit: ten retry pauses, at least the floor, doubling, within a minute")
    func limitBackoff() {
        func pauses(retryPause: UInt64, floor: UInt64 = 5_000_000_000) -> [UInt64] {
            let prober = EndpointProber(
                options: ProbeOptions(retryPauseNanoseconds: retryPause, limitBackoffFloorNanoseconds: floor),
                group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
            return (1...3).map { prober.retryPause(after: $0, connectionLimit: true) }
                + [prober.retryPause(after: 1, connectionLimit: false)]
        }
        // A run's defaults: --retry-pause 2 s, so 20 s, then 40 s, then the minute's cap; without a named limit, 2 s.
        #expect(pauses(retryPause: 2_000_000_000) == [20_000_000_000, 40_000_000_000, 60_000_000_000, 2_000_000_000])
        // A short --retry-pause still waits out the 5 s floor.
        #expect(pauses(retryPause: 100_000_000) == [5_000_000_000, 10_000_000_000, 20_000_000_000, 100_000_000])
        #expect(pauses(retryPause: 100_000_000, floor: 500_000_000)[0...1] == [1_000_000_000, 2_000_000_000])
    }

    @Test("a silent server is unresponsive within its bounds (greeting wait, one client-first probe, no retry)")
    func silent() async throws {
        let (facts, elapsed) = try await probe(.silent, service: .smtp, address: "127.95.0.6")
        #expect(facts.unresponsive && !facts.complete && facts.attempts == 1 && facts.identifiedAs == .none)
        #expect(facts.incompleteReason == "no greeting within 1 s, and no answer to a client-first probe")
        #expect(facts.clientFirstProbe == "GET / HTTP/1.0")
        #expect(facts.transcript.first == TranscriptLine(.client, "GET / HTTP/1.0"))
        #expect(elapsed < .seconds(20), "1 s greeting wait + 1 s read timeout; generous for a loaded machine")
    }

    @Test("a slow but steady server is waited for; a slowloris is cut at the dialog bound")
    func slowServers() async throws {
        let (steady, _) = try await probe(
            .slow(text: "220 slow ESMTP\r\n", millisecondsPerByte: 20), service: .smtp,
            address: "127.95.0.7")
        #expect(steady.identifiedAs == .smtp && steady.banner == "slow ESMTP")
        let limits = DialogLimits(
            readTimeoutNanoseconds: 1_000_000_000, greetingTimeoutNanoseconds: 1_000_000_000,
            dialogTimeoutNanoseconds: 1_500_000_000)
        let (loris, elapsed) = try await probe(
            .slow(text: "220 " + String(repeating: "z", count: 500) + "\r\n", millisecondsPerByte: 50),
            service: .smtp, address: "127.95.0.8", limits: limits)
        #expect(!loris.complete)
        #expect(loris.incompleteReason?.contains("greeting") == true)
        #expect(
            elapsed < .seconds(20),
            "one attempt of at most 2.5 s (greeting wait plus dialog bound); generous for a loaded machine")
    }

    static let strangers: [(String, LabBehaviour, IdentifiedProtocol)] = [
        ("127.95.1.1", .raw("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), .ssh),
        ("127.95.1.2", .raw("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), .http),
        ("127.95.1.3", .raw("\u{0}\u{1}\u{2}\u{3}binary\r\n"), .binary),
        ("127.95.1.4", .raw("+OK POP3 server ready\r\n"), .pop3),
        ("127.95.1.5", .imap(IMAPScript()), .imap),
    ]

    @Test("another protocol on a mail port is recorded as such", arguments: strangers)
    func wrongProtocol(address: String, behaviour: LabBehaviour, expected: IdentifiedProtocol) async throws {
        let (facts, _) = try await probe(behaviour, service: .smtp, address: address)
        #expect(facts.identifiedAs == expected)
        #expect(facts.complete)
        #expect(!facts.transcript.map(\.text).contains { $0.hasPrefix("EHLO") }, "nothing is said to a stranger")
    }

    /// Hostile servers, named so a failure message stays short.
    enum Flood: String, CaseIterable, Sendable {
        case endless250, endless220, noLineEnd

        var behaviour: LabBehaviour {
            switch self {
            case .endless250: return .endless(line: "250-" + String(repeating: "x", count: 60))
            case .endless220: return .endless(line: "220-" + String(repeating: "y", count: 60))
            case .noLineEnd: return .raw("220 " + String(repeating: "A", count: 400_000))
            }
        }

        var expected: ProtocolViolation.Kind { self == .noLineEnd ? .tooMuchData : .tooManyLines }
        var address: String { "127.95.2.\(Flood.allCases.firstIndex(of: self)! + 1)" }
    }

    @Test(
        "an endless reply is cut at the line bound; a flood without line ends at the byte bound",
        arguments: Flood.allCases)
    func endless(flood: Flood) async throws {
        let kind = flood.expected
        let (facts, elapsed) = try await probe(flood.behaviour, service: .smtp, address: flood.address)
        #expect(!facts.complete, "\(facts.incompleteReason ?? "")")
        #expect(facts.identifiedAs == .smtp)
        #expect(facts.violations.contains { $0.kind == kind }, "\(facts.violations)")
        #expect(facts.transcript.count <= DialogLimits().maxTranscriptLines + 1)
        #expect(!facts.transcript.isEmpty, "the flood is in the transcript, cut")
        #expect(facts.transcript.allSatisfy { $0.text.count <= DialogLimits().maxTranscriptLineLength + 1 })
        #expect(elapsed < .seconds(20), "bounded, not endless")
    }

    @Test("IMAP: capabilities from the greeting code or from CAPABILITY; LOGINDISABLED; AUTH= mechanisms")
    func imap() async throws {
        let (inGreeting, _) = try await probe(.imap(IMAPScript()), service: .imap, address: "127.95.3.1")
        #expect(inGreeting.identifiedAs == .imap && inGreeting.greetingStatus == "OK" && inGreeting.complete)
        #expect(inGreeting.capabilities == ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"])
        #expect(inGreeting.starttls?.accepted == true && inGreeting.starttls?.reply == "OK Begin TLS negotiation now")
        let (asked, _) = try await probe(
            .imap(
                IMAPScript(
                    capabilities: ["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"],
                    capabilitiesInGreeting: false)),
            service: .imap, address: "127.95.3.2")
        #expect(asked.capabilities == ["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"])
        #expect(asked.authMechanisms == ["PLAIN", "LOGIN"])
        #expect(asked.starttls == StartTLSObservation(offered: false))
        #expect(asked.transcript.map(\.text).contains("mp1 CAPABILITY"))
    }

    @Test("IMAP: PREAUTH is recorded and STARTTLS is not attempted; a withheld tagged reply times out")
    func imapOddities() async throws {
        let (preauth, _) = try await probe(
            .imap(IMAPScript(greetingStatus: "PREAUTH")), service: .imap, address: "127.95.3.3")
        #expect(
            preauth.greetingStatus == "PREAUTH" && preauth.starttls?.offered == true
                && preauth.starttls?.attempted == false)
        let (withheld, elapsed) = try await probe(
            .imap(IMAPScript(capabilitiesInGreeting: false, withholdTaggedReplies: true)),
            service: .imap, address: "127.95.3.4")
        #expect(!withheld.complete && withheld.attempts == 2)
        #expect(withheld.incompleteReason == "timed out waiting for the CAPABILITY reply")
        #expect(elapsed < .seconds(20), "bounded, not endless")
    }

    @Test("POP3: CAPA with STLS, USER and SASL; a server without CAPA is incomplete")
    func pop3() async throws {
        let (facts, _) = try await probe(
            .pop3(POP3Script(capabilities: ["TOP", "USER", "STLS", "SASL PLAIN LOGIN"])),
            service: .pop3, address: "127.95.4.1")
        #expect(facts.identifiedAs == .pop3 && facts.complete)
        #expect(facts.capabilities == ["TOP", "USER", "STLS", "SASL PLAIN LOGIN"])
        #expect(facts.authMechanisms == ["PLAIN", "LOGIN"])
        #expect(facts.starttls?.accepted == true)
        let (old, _) = try await probe(.pop3(POP3Script(capabilities: nil)), service: .pop3, address: "127.95.4.2")
        #expect(!old.complete && old.incompleteReason == "CAPA not supported: -ERR unknown command")
        #expect(old.starttls == nil, "unknown, not 'not offered'")
    }

    @Test("labs on port 0 get free ports of their own: two on one address, each answers with its own script")
    func freePorts() async throws {
        let first = try await LoopbackLab.start([
            LabEndpoint(address: "127.0.0.1", port: 0, behaviour: .smtp(SMTPScript(greeting: ["first"])))
        ])
        let second = try await LoopbackLab.start([
            LabEndpoint(address: "127.0.0.1", port: 0, behaviour: .smtp(SMTPScript(greeting: ["second"])))
        ])
        let ports = [first.endpoints[0].port, second.endpoints[0].port]
        let prober = EndpointProber(
            options: ProbeOptions(
                limits: DialogLimits(readTimeoutNanoseconds: 5_000_000_000), retryPauseNanoseconds: 0),
            group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        var banners: [String?] = []
        for port in ports {
            let facts = await prober.probe(
                ProbeTarget(address: IPAddress("127.0.0.1")!, port: PortSpec(port: port, service: .smtp)))
            banners.append(facts.banner)
        }
        await first.shutdown()
        await second.shutdown()
        #expect(!ports.contains(0) && ports[0] != ports[1], "\(ports)")
        #expect(banners == ["first", "second"])
    }

    @Test("politeness: never more than --per-host dialogs at once with one address")
    func perHostLimit() async throws {
        let lab = try await LoopbackLab.start(
            (0..<6).map { _ in
                LabEndpoint(
                    address: "127.95.5.1", port: 0,
                    behaviour: .smtp(SMTPScript(greeting: ["x"], greetingDelayMilliseconds: 300)))
            })
        let ports = lab.endpoints.map(\.port)
        #expect(Set(ports).count == 6, "six free ports: \(ports)")
        let limits = DialogLimits(readTimeoutNanoseconds: 5_000_000_000)
        let prober = EndpointProber(
            options: ProbeOptions(limits: limits, retryPauseNanoseconds: 0, concurrency: 16, perHost: 2),
            group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let results = await prober.probeAll(
            ports.map {
                ProbeTarget(address: IPAddress("127.95.5.1")!, port: PortSpec(port: $0, service: .smtp))
            })
        await lab.shutdown()
        #expect(results.count == 6)
        #expect(results.values.allSatisfy { $0.identifiedAs == .smtp && $0.banner == "x" })
        #expect(lab.stats.peak("127.95.5.1") == 2)
    }
}

@Suite("Per-host gate")
struct HostGateTests {
    /// After a host names a connection limit, it is served one connection at a time: a waiter gets in only when
    /// every connection already open to that host has closed, while other hosts keep their --per-host slots.
    @Test("a host that named a connection limit is served one connection at a time from then on")
    func oneAtATime() async throws {
        let gate = HostGate(limit: 2)
        let limited = IPAddress("192.0.2.1")!
        let other = IPAddress("192.0.2.2")!
        await gate.acquire(limited)
        await gate.acquire(limited)
        await gate.serveOneAtATime(limited)
        let entered = SetOnceFlag()
        let waiter = Task {
            await gate.acquire(limited)
            entered.set()
        }
        // Another host is not held up.
        await gate.acquire(other)
        await gate.acquire(other)
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(!entered.isSet, "two connections open: the third waits")
        await gate.release(limited)
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(!entered.isSet, "one still open: a host served one at a time lets nobody in beside it")
        await gate.release(limited)
        await waiter.value
        #expect(entered.isSet)
    }
}

/// A flag set once from another task.
final class SetOnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

@Suite("SMTP questions: open relay, VRFY/EXPN, recipient enumeration")
struct SMTPQuestionTests {
    /// The scripted server replies at once; a read timeout only matters on a starved machine (the fast tier starts
    /// with every core queued), where 1 s once cut the seventh relay form's reply short. Nothing here times a wait.
    static let patient = DialogLimits(
        readTimeoutNanoseconds: 10_000_000_000, greetingTimeoutNanoseconds: 10_000_000_000)

    static func sent(_ facts: DialogObservation) -> [String] {
        facts.transcript.filter { $0.direction == .client }.map(\.text)
    }

    /// Whatever the server says, no message is ever sent: no DATA, and every transaction is reset.
    static func sendsNoMessage(_ facts: DialogObservation) {
        let commands = sent(facts)
        #expect(!commands.contains { $0.uppercased().hasPrefix("DATA") }, "\(commands)")
        #expect(commands.filter { $0.hasPrefix("MAIL FROM:") }.count <= commands.filter { $0 == "RSET" }.count + 1)
    }

    @Test(
        "an open relay is found with the first form it accepts; nothing more is asked and no message is sent",
        arguments: [
            ("127.95.6.1", [""], "relay plain", 1),
            ("127.95.6.2", ["%"], "relay percent-hack", 2),
            ("127.95.6.3", ["!"], "relay bang-path", 6),
            // Missed only when routed through the server's EHLO name (lab.mailport.test): every literal form refused.
            ("127.95.6.9", ["\"@lab"], "relay quoted-with-name", 7),
        ])
    func openRelay(address: String, accepting: [String], form: String, attempts: Int) async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript(relayAccepting: accepting)), service: .smtp, address: address, limits: Self.patient)
        let checks = try #require(facts.smtpChecks)
        #expect(checks.relay == .accepted && facts.complete)
        #expect(checks.relayAttempts.count == attempts)
        #expect(checks.relayAttempts.last?.question == form && checks.relayAttempts.last?.outcome == .accepted)
        #expect(checks.relayAttempts.dropLast().allSatisfy { $0.outcome == .refused })
        #expect(facts.connections == 1, "the questions ride on the dialog's connection")
        Self.sendsNoMessage(facts)
    }

    @Test("a closed relay refuses every form; VRFY and EXPN disabled; port 25 is not asked about users")
    func closedRelay() async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript()), service: .smtp, address: "127.95.6.4", limits: Self.patient)
        let checks = try #require(facts.smtpChecks)
        #expect(checks.relay == .refused && checks.relayNeedsAuthentication == false)
        #expect(checks.relayAttempts.count == 7 && checks.relayAttempts.allSatisfy { $0.outcome == .refused })
        let commands = checks.relayAttempts.map(\.command)
        #expect(commands.contains("RCPT TO:<relaytest%example.org@[127.95.6.4]>"))
        #expect(commands.last == "RCPT TO:<\"relaytest@example.org\"@lab.mailport.test>", "through the EHLO name")
        #expect(checks.vrfy?.outcome == .refused && checks.expn?.outcome == .refused)
        #expect(checks.recipientEnumeration == nil)
        #expect(facts.complete && facts.unknownProbes == nil)
        Self.sendsNoMessage(facts)
    }

    @Test("a submission port that wants a login first: relay refused as needing authentication, users not enumerable")
    func submissionNeedsLogin() async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript(mailRequiresAuthentication: true)), service: .submission, address: "127.95.6.5",
            limits: Self.patient)
        let checks = try #require(facts.smtpChecks)
        #expect(checks.relay == .refused && checks.relayNeedsAuthentication == true && checks.relayAttempts.count == 1)
        #expect(checks.recipientEnumeration?.outcome == .refused)
        Self.sendsNoMessage(facts)
    }

    @Test("a refusal that does not mention authentication, on a session offering AUTH: relay needs authentication")
    func refusedWhereAuthIsOffered() async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript(extensions: ["PIPELINING", "AUTH PLAIN LOGIN"])), service: .submission,
            address: "127.95.6.10", limits: Self.patient)
        let checks = try #require(facts.smtpChecks)
        #expect(checks.relay == .refused && checks.relayNeedsAuthentication == true)
        #expect(checks.relayAttempts.count == 7 && checks.relayAttempts.allSatisfy { $0.outcome == .refused })
        #expect(checks.relayAttempts.first?.reply == "554 5.7.1 Relay access denied")
        #expect(!checks.relayAttempts.contains { $0.reply.lowercased().contains("authentica") })
        Self.sendsNoMessage(facts)
    }

    @Test(
        "the relay forms route through the server's EHLO name only when it is a host name",
        arguments: [
            ("mx1.Example.COM", "mx1.example.com"), ("lab.mailport.test", "lab.mailport.test"), ("localhost", nil),
            ("192.0.2.1", nil), ("[192.0.2.1]", nil), ("mx.example.com\r\nDATA", nil), ("a..b", nil),
            ("-a.example", nil), ("mx_1.example.com", nil), ("", nil),
            (String(repeating: "a", count: 64) + ".example", nil),
        ] as [(String, String?)])
    func routedThroughName(name: String, routed: String?) throws {
        #expect(SMTPQuestion.routableName(name) == routed)
        let forms = SMTPQuestion.relayForms(IPAddress("192.0.2.7")!, serverName: name)
        #expect(forms.count == (routed == nil ? 6 : 7))
        if let routed {
            #expect(forms.last! == ("quoted-with-name", "<\"relaytest@example.org\"@\(routed)>"))
        }
    }

    @Test("a submission port that answers RCPT before login tells users apart; VRFY answers")
    func submissionEnumerates() async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript(vrfyEnabled: true)), service: .submission, address: "127.95.6.6", limits: Self.patient)
        let checks = try #require(facts.smtpChecks)
        #expect(checks.recipientEnumeration?.outcome == .accepted, "\(checks.recipientEnumeration?.reply ?? "")")
        #expect(checks.vrfy?.outcome == .accepted && checks.vrfy?.reply == "252 2.0.0 postmaster")
        Self.sendsNoMessage(facts)
    }

    @Test(
        "a deferral (452) or a 421 in the middle leaves the relay unknown, never closed; the dialog's facts stand",
        arguments: [
            ("127.95.6.7", "452 4.5.3 Error: too many recipients"), ("127.95.6.8", "421 4.7.0 Error: too many errors"),
        ])
    func deferred(address: String, reply: String) async throws {
        let (facts, _) = try await probe(
            .smtp(SMTPScript(rcptReply: reply)), service: .smtp, address: address, limits: Self.patient)
        let checks = try #require(facts.smtpChecks)
        #expect(checks.relay == .unknown)
        #expect(!facts.complete && facts.dialogRanToEnd)
        #expect(facts.unknownProbes?.first?.probe == "smtp-relay")
        #expect(
            facts.unknownProbes?.first?.reason.contains(String(reply.prefix(3))) == true, "\(facts.unknownProbes ?? [])"
        )
        if reply.hasPrefix("421") {
            #expect(checks.relayAttempts.count == 1, "the server said it is closing: nothing more is asked")
        }
        Self.sendsNoMessage(facts)
    }
}
