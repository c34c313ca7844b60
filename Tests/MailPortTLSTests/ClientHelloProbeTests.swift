import Foundation
import Logging
import MailPortCore
import MailPortLab
import MailPortProbe
import MailPortTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import MailPortTLS

/// Starts scripts/legacytls.py (a loopback IMAPS server that answers legacy ClientHellos) for one test.
final class LegacyTLSServer {
    let process = Process()

    init(address: String, port: UInt16, accept: [String], extra: [String] = []) throws {
        let certificate = try DemoCertificates.write(DemoCertificates.leafCertificate, named: "leaf.pem")
        let key = try DemoCertificates.write(DemoCertificates.leafKey, named: "leaf.key")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", ProjectPaths.root + "/scripts/legacytls.py", "--address", address, "--port", "\(port)",
                "--cert", certificate, "--key", key, "--accept", accept.joined(separator: ","),
            ] + extra
        let ready = Pipe()
        process.standardOutput = ready
        try process.run()
        let line = String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self)
        guard line.hasPrefix("ready") else { throw TLSError("legacytls.py did not start: \(line)") }
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("Hand-built ClientHello probes (SSLv3, EXPORT, RC4, DES)", .serialized)
struct ClientHelloProbeTests {
    func probe(_ address: String, _ port: UInt16) async throws -> DialogObservation {
        let prober = EndpointProber(
            options: ProbeOptions(
                limits: DialogLimits(readTimeoutNanoseconds: 2_000_000_000), retryPauseNanoseconds: 100_000_000,
                legacyVersionQuestions: ClientHelloProbe.legacyVersionQuestions(timeout: .seconds(3)),
                weakCipherQuestion: WeakCipherQuestion(timeout: .seconds(3))),
            tls: try OpenSSLUpgrader(caFile: try DemoLab.caFile(), handshakeTimeout: .seconds(3)),
            group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        return await prober.probe(
            ProbeTarget(address: IPAddress(address)!, port: PortSpec(port: port, service: .imaps)))
    }

    @Test("a server that would speak SSLv3, RC4, DES and EXPORT is found out; the modern handshake still works")
    func legacyServer() async throws {
        let server = try LegacyTLSServer(address: "127.95.5.1", port: 25993, accept: ["sslv3", "rc4", "des", "export"])
        defer { server.stop() }
        let facts = try await probe("127.95.5.1", 25993)
        #expect(facts.identifiedAs == .imap && facts.complete, "\(facts.incompleteReason ?? "")")
        #expect(facts.tls?.versionsAccepted.contains("SSLv3") == true, "\(facts.tls?.versionsAccepted ?? [])")
        #expect(facts.tls?.versionsAccepted.first == facts.tls?.negotiatedVersion, "the dialog's own version first")
        #expect(facts.tls?.versionsAccepted.contains("TLSv1") == false, "SSLv3 was the answer to the combined hello")
        let accepted = Set(facts.tls?.cipherClassesAccepted ?? [])
        #expect(accepted.isSuperset(of: ["export", "rc4", "des"]), "\(accepted)")
    }

    @Test("the same server refusing them: probed, not accepted")
    func refusingServer() async throws {
        let server = try LegacyTLSServer(address: "127.95.5.2", port: 25993, accept: ["rc4"])
        defer { server.stop() }
        let facts = try await probe("127.95.5.2", 25993)
        #expect(facts.tls?.versionsAccepted.contains("SSLv3") == false)
        #expect(facts.tls?.cipherClassesProbed.contains("des") == true)
        #expect(facts.tls?.cipherClassesAccepted.contains("rc4") == true)
        #expect(
            facts.tls?.cipherClassesAccepted.contains("des") == false
                && facts.tls?.cipherClassesAccepted.contains("export") == false)
    }

    @Test("a server that refuses by hanging up (as Dovecot does) is refused once a standard handshake shows it is up")
    func hangingUpServer() async throws {
        let server = try LegacyTLSServer(address: "127.95.5.4", port: 25993, accept: [], extra: ["--hang-up"])
        defer { server.stop() }
        let facts = try await probe("127.95.5.4", 25993)
        #expect(facts.complete && facts.unknownProbes == nil, "\(facts.incompleteReason ?? "")")
        #expect(
            facts.tls?.versionsAccepted == [facts.tls?.negotiatedVersion ?? "?"]
                && facts.tls?.cipherClassesAccepted == [])
        // The dialog, the legacy hello, one standard handshake that proves the hang-ups are refusals, the weak hello.
        #expect(facts.connections == 4)
    }

    @Test("a server that turns connections away after the dialog: every question unknown, never refused")
    func turningAwayServer() async throws {
        let server = try LegacyTLSServer(
            address: "127.95.5.5", port: 25993, accept: ["tls1"], extra: ["--turn-away-after", "1"])
        defer { server.stop() }
        let facts = try await probe("127.95.5.5", 25993)
        #expect(facts.identifiedAs == .imap && facts.dialogRanToEnd && !facts.complete)
        #expect(
            facts.tls?.versionsAccepted == [facts.tls?.negotiatedVersion ?? "?"],
            "TLS 1.0 is not reported refused, nor accepted")
        #expect(facts.tls?.versionsUnknown == ["TLSv1.1", "TLSv1", "SSLv3"])
        #expect(facts.tls?.cipherClassesUnknown?.count == 6)
        #expect(
            facts.unknownProbes?.map(\.probe) == [
                "tls-versions TLSv1.1,TLSv1,SSLv3", "weak-ciphers anonymous,null,export,rc4,des,no-forward-secrecy",
            ])
    }

    @Test("a real OpenSSL 3 server refuses every hand-built legacy hello")
    func realOpenSSLRefuses() async throws {
        let facts = try await probeWithTLS(
            LabEndpoint(
                address: "127.95.5.3", port: 25993, behaviour: .imap(IMAPScript()), tls: try demoLeaf(implicit: true)),
            service: .imaps, probeVersions: true)
        #expect(facts.tls?.versionsAccepted.contains("SSLv3") == false)
        #expect(facts.tls?.cipherClassesProbed.contains("rc4") == true)
        let accepted = Set(facts.tls?.cipherClassesAccepted ?? [])
        #expect(accepted.isDisjoint(with: ["export", "rc4", "des"]))
    }

    @Test("ClientHello bytes: record and handshake lengths agree, SSLv3 carries no extensions, SNI only for names")
    func helloStructure() {
        for (version, name) in [
            (UInt16(0x0300), "mail.example.org"), (0x0303, "mail.example.org"), (0x0303, "192.0.2.1"),
        ] {
            let hello = ClientHelloProbe.clientHello(version: version, suites: [0x0005, 0x000A], serverName: name)
            #expect(hello[0] == 22 && Int(hello[3]) << 8 | Int(hello[4]) == hello.count - 5)
            #expect(hello[5] == 1 && (Int(hello[6]) << 16 | Int(hello[7]) << 8 | Int(hello[8])) == hello.count - 9)
            #expect(UInt16(hello[9]) << 8 | UInt16(hello[10]) == version)
            let suitesAt = 9 + 2 + 32 + 1
            #expect(
                Array(hello[suitesAt..<suitesAt + 8]) == [0, 6, 0x00, 0x05, 0x00, 0x0A, 0x00, 0xFF],
                "offered suites plus the SCSV")
            let rest = hello.count - (suitesAt + 8 + 2)
            #expect(version == 0x0300 ? rest == 0 : rest > 0, "extensions only above SSLv3")
            let hasSNI = String(decoding: hello, as: UTF8.self).contains("mail.example.org")
            #expect(hasSNI == (version != 0x0300 && name == "mail.example.org"))
        }
    }

    /// The bytes of the hello, checked whole (the client random, bytes 11 to 42, set to zero): SNI, groups, point
    /// formats and signature schemes, every length. Taken from the hello as it was built before it was built in one
    /// buffer, so a change of bytes is a change of what servers are asked.
    @Test("ClientHello bytes, whole: each version's hello as servers receive it")
    func helloBytes() {
        let expected: [(UInt16, String?, [UInt8])] = [
            (
                0x0303, "mail.example.org",
                [
                    22, 3, 1, 0, 124, 1, 0, 0, 120, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 5, 0, 10, 0, 255, 1, 0, 0, 73, 0, 0, 0, 21, 0, 19,
                    0, 0, 16, 109, 97, 105, 108, 46, 101, 120, 97, 109, 112, 108, 101, 46, 111, 114, 103, 0, 10, 0, 10,
                    0, 8, 0, 29, 0, 23, 0, 24, 0, 25, 0, 11, 0, 2, 1, 0, 0, 13, 0, 24, 0, 22, 4, 1, 5, 1, 6, 1, 4, 3,
                    5, 3, 6, 3, 8, 4, 8, 5, 8, 6, 2, 1, 2, 3,
                ]
            ),
            (
                0x0302, nil,
                [
                    22, 3, 1, 0, 99, 1, 0, 0, 95, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 5, 0, 10, 0, 255, 1, 0, 0, 48, 0, 10, 0, 10, 0, 8, 0,
                    29, 0, 23, 0, 24, 0, 25, 0, 11, 0, 2, 1, 0, 0, 13, 0, 24, 0, 22, 4, 1, 5, 1, 6, 1, 4, 3, 5, 3, 6,
                    3, 8, 4, 8, 5, 8, 6, 2, 1, 2, 3,
                ]
            ),
            (
                0x0300, "mail.example.org",
                [
                    22, 3, 0, 0, 49, 1, 0, 0, 45, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 5, 0, 10, 0, 255, 1, 0,
                ]
            ),
        ]
        for (version, name, bytes) in expected {
            var hello = ClientHelloProbe.clientHello(version: version, suites: [0x0005, 0x000A], serverName: name)
            #expect(hello.count == bytes.count)
            #expect(hello[11..<43].contains { $0 != 0 }, "the client random is random")
            hello.replaceSubrange(11..<43, with: repeatElement(0, count: 32))
            #expect(hello == bytes, "\(version)")
        }
    }

    static let answers: [([UInt8], String)] = {
        let sslv3: [UInt8] =
            [22, 3, 3, 0, 42, 2, 0, 0, 38, 3, 0] + [UInt8](repeating: 7, count: 32) + [0, 0x00, 0x05, 0]
        let tls12: [UInt8] =
            [22, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3] + [UInt8](repeating: 1, count: 32) + [2, 9, 9, 0xC0, 0x11, 0]
        let alert: [UInt8] = [21, 3, 1, 0, 2, 2, 40]
        return [
            (sslv3, "serverHello 768 5"), (alert, "alert 40"), (Array("* OK IMAP ready\r\n".utf8), "notTLS"),
            (tls12, "serverHello 771 49169"),
        ]
    }()

    @Test("answers are judged from the first bytes, whatever their split", arguments: answers)
    func judge(_ bytes: [UInt8], _ expected: String) {
        func describe(_ answer: ServerHelloAnswer?) -> String {
            switch answer {
            case .serverHello(let version, let suite)?: return "serverHello \(version) \(suite)"
            case .alert(let code)?: return "alert \(code)"
            case .notTLS?: return "notTLS"
            case .closed?: return "closed"
            case .silent?: return "silent"
            case nil: return "undecided"
            }
        }
        // However the bytes arrive, a verdict reached early is the same as the one on all bytes.
        for split in 0..<bytes.count {
            let early = describe(ServerHelloReader.judge(Array(bytes.prefix(split))))
            #expect(early == "undecided" || early == expected, "after \(split) bytes: \(early)")
        }
        #expect(describe(ServerHelloReader.judge(bytes)) == expected)
    }
}
