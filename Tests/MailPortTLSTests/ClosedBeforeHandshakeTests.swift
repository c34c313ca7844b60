import Logging
import MailPortCore
import MailPortLab
import MailPortProbe
import MailPortTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import MailPortTLS

/// A server that says yes to STARTTLS and hangs up at once: the dialog may read the close before it asks for TLS, and
/// a handshake handler added to a closed connection never hears of the close. That must read as the refusal it is,
/// at once, never as a timeout (transient: retried, then "incomplete").
@Suite("A connection closed before the TLS handshake")
struct ClosedBeforeHandshakeTests {
    @Test("upgrading a connection the server has closed fails at once, naming the close, for every TLS layer")
    func upgradeOfClosedConnection() async throws {
        let lab = try await LoopbackLab.start([
            LabEndpoint(address: "127.96.0.12", port: 0, behaviour: .answersRequest("bye\r\n"))
        ])
        defer { lab.stop() }
        // The handshake timers are far longer than the test: a handler left waiting would show as .timedOut.
        let standard = try OpenSSLUpgrader(caFile: nil, handshakeTimeout: .seconds(120))
        let legacyHello = try #require(ClientHelloProbe.legacyVersionQuestions(timeout: .seconds(120)).first)
        let layers: [(String, any TLSUpgrader, TLSUpgradeResult)] = [
            ("OpenSSL", standard, .failed("the server closed the connection before the TLS handshake")),
            (
                "hand-built hello", legacyHello.tls,
                .failed(
                    "connection closed without an answer to the ClientHello (the server closed the connection before the TLS handshake)"
                )
            ),
        ]
        for (label, layer, expected) in layers {
            let connection = try await ProbeConnection.connect(
                to: IPAddress("127.96.0.12")!, port: lab.endpoints[0].port,
                group: MultiThreadedEventLoopGroup.singleton,
                connectTimeout: .seconds(5), limits: DialogLimits(readTimeoutNanoseconds: 5_000_000_000))
            try await connection.send("")
            #expect(try await connection.readLine().text == "bye")
            await #expect(throws: ReadFailure.self) { _ = try await connection.readLine() }
            try await connection.channel.closeFuture.get()
            let result = await layer.upgrade(connection, names: [], service: .imap)
            #expect(result == expected, "\(label)")
        }
    }

    @Test("STARTTLS accepted, then the connection closed: a failed STARTTLS, complete, every time (the race both ways)")
    func starttlsThenHangUp() async throws {
        // A lab endpoint without TLS accepts STARTTLS and closes the connection. Whether the client sees the close
        // before or after it adds its handshake handler is a race; repeated, both orders occur.
        for round in 1...8 {
            let facts = try await probeWithTLS(
                LabEndpoint(
                    address: "127.96.0.13", port: 0,
                    behaviour: .imap(IMAPScript(capabilities: ["IMAP4rev1", "STARTTLS"]))),
                service: .imap)
            #expect(facts.complete, "round \(round): \(facts.incompleteReason ?? "")")
            #expect(facts.attempts == 1, "round \(round): no retry for a refusal")
            #expect(facts.starttls?.accepted == true && facts.starttls?.upgraded == false, "round \(round)")
            #expect(
                facts.starttls?.error?.contains("the server closed the connection") == true,
                "round \(round): \(facts.starttls?.error ?? "no error")")
        }
    }
}
