import MailPortCore
import MailPortProbe
import NIOConcurrencyHelpers
import NIOCore

/// The extra TLS questions are asked with ClientHellos built by hand: the server's first answer (a ServerHello
/// choosing one of the offered versions and suites, an alert, a hang-up) is all it takes to know whether it would
/// negotiate them, and a hand-built hello can offer at once what Debian's OpenSSL 3 cannot offer at all (SSLv3,
/// EXPORT, RC4, DES/3DES). No handshake is completed and nothing else is sent; the connection is closed after the
/// answer. The answer says who decided: an alert or a ServerHello is the server's TLS layer (refused or accepted),
/// a hang-up without a byte or silence is not an answer (the prober records it as unknown).
public struct ClientHelloProbe: TLSUpgrader {
    /// The record and ClientHello version: 0x0300 (SSLv3), or the newest version offered (the server may pick lower).
    public let version: UInt16
    /// The offered cipher suites (IANA numbers).
    public let suites: [UInt16]
    public let timeout: TimeAmount

    public init(version: UInt16, suites: [UInt16], timeout: TimeAmount) {
        self.version = version
        self.suites = suites
        self.timeout = timeout
    }

    /// SSLv3 with the suites SSLv3 servers typically chose (AES, 3DES, RC4, DHE).
    public static func sslv3(timeout: TimeAmount) -> ClientHelloProbe {
        ClientHelloProbe(
            version: 0x0300, suites: [0x002F, 0x0035, 0x0033, 0x0039, 0x000A, 0x0016, 0x0005, 0x0004, 0x0009],
            timeout: timeout)
    }

    /// Suites servers of the TLS 1.0/1.1 era chose: CBC with ECDHE, DHE and RSA key exchange, Camellia, SEED, 3DES, RC4.
    static let legacyEraSuites: [UInt16] = [
        0xC013, 0xC014, 0xC009, 0xC00A, 0x0033, 0x0039, 0x0032, 0x0038, 0x002F, 0x0035, 0x0045, 0x0088, 0x0041, 0x0084,
        0x009A, 0x0096, 0xC012, 0xC008, 0x0016, 0x0013, 0x000A, 0xC011, 0xC007, 0x0005, 0x0004,
    ]

    /// The legacy-version questions of the prober, newest first: TLS 1.1, 1.0 and SSLv3 offered in one ClientHello
    /// (the server answers with the newest it accepts), then TLS 1.0 and below, then SSLv3 alone, asked only when a
    /// newer one was accepted.
    public static func legacyVersionQuestions(timeout: TimeAmount) -> [HandshakeProbe] {
        [
            HandshakeProbe(
                label: "TLSv1.1", tls: ClientHelloProbe(version: 0x0302, suites: legacyEraSuites, timeout: timeout)),
            HandshakeProbe(
                label: "TLSv1", tls: ClientHelloProbe(version: 0x0301, suites: legacyEraSuites, timeout: timeout)),
            HandshakeProbe(label: "SSLv3", tls: sslv3(timeout: timeout)),
        ]
    }

    public func upgrade(
        _ connection: ProbeConnection, names: [String], service: MailService, sessions: TLSSessionUse?
    ) async -> TLSUpgradeResult {
        let channel = connection.channel
        let promise = channel.eventLoop.makePromise(of: ServerHelloReader.Outcome.self)
        let hello = ClientHelloProbe.clientHello(version: version, suites: suites, serverName: names.first)
        let timeout = self.timeout
        do {
            try await channel.eventLoop.submit {
                let handler = ServerHelloReader(hello: hello, answered: promise)
                let timer = channel.eventLoop.scheduleTask(in: timeout) { promise.succeed((.silent, [])) }
                promise.futureResult.whenComplete { _ in
                    timer.cancel()
                    channel.close(promise: nil)
                }
                try addHandshakeHandler(handler, to: channel)
            }.get()
        } catch let closed as ConnectionClosedBeforeHandshake {
            promise.fail(closed)
            return .failed("connection closed without an answer to the ClientHello (\(closed))")
        } catch {
            promise.fail(error)
            return .failed("\(error)")
        }
        let (answer, received) = (try? await promise.futureResult.get()) ?? (.silent, [])
        switch answer {
        case .serverHello(let chosenVersion, let suite):
            let versionOffered =
                version == 0x0300 ? chosenVersion == 0x0300 : (0x0300...version).contains(chosenVersion)
            guard versionOffered, suites.contains(suite) else {
                return .failed(
                    "the server answered with \(Self.versionName(chosenVersion)) and suite 0x\(String(suite, radix: 16)), which were not offered",
                    serverSent: received)
            }
            // Only the choice is known: there is no certificate or verification to report.
            return .upgraded(
                TLSObservation(
                    negotiatedVersion: Self.versionName(chosenVersion),
                    cipher: Self.suiteName(suite),
                    keyExchangeGroup: nil, certificate: nil, chain: [], chainVerified: false,
                    verifyError: "ServerHello only", missingIntermediate: false, nameMatches: [:]))
        case .alert(let description): return .failed("alert \(description)", serverSent: received)
        case .closed: return .failed("connection closed without an answer to the ClientHello", serverSent: received)
        case .silent: return received.isEmpty ? .timedOut : .failed("an incomplete answer", serverSent: received)
        case .notTLS: return .failed("not a TLS answer", serverSent: received)
        }
    }

    /// A suite as the hand-built probes record it: its IANA number, "0x002F".
    static func suiteName(_ suite: UInt16) -> String {
        "0x" + String(suite, radix: 16, uppercase: true).leftPadded(to: 4)
    }

    static func versionName(_ version: UInt16) -> String {
        switch version {
        case 0x0300: return "SSLv3"
        case 0x0301: return "TLSv1"
        case 0x0302: return "TLSv1.1"
        case 0x0303: return "TLSv1.2"
        default: return "0x" + String(version, radix: 16)
        }
    }

    /// A ClientHello record. TLS hellos carry SNI, the groups and point formats ECDHE suites need, and signature
    /// algorithms; an SSLv3 hello carries no extensions, as SSLv3 clients sent none.
    public static func clientHello(version: UInt16, suites: [UInt16], serverName: String?) -> [UInt8] {
        // Built in one buffer, lengths filled in once their contents are in: a probe sends thousands of these.
        var out: [UInt8] = []
        out.reserveCapacity(160 + suites.count * 2)
        func u16(_ value: Int) { out += [UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
        /// Reserves a length field of `width` bytes before `contents`, then sets it to what `contents` wrote.
        func lengthPrefixed(_ width: Int, _ contents: () -> Void) {
            let at = out.count
            out += repeatElement(0, count: width)
            contents()
            let length = out.count - at - width
            for byte in 0..<width { out[at + byte] = UInt8(length >> (8 * (width - 1 - byte)) & 0xff) }
        }
        out.append(22)
        // Record version: SSLv3 for an SSLv3 hello, TLS 1.0 otherwise (what interoperable clients put there).
        u16(version == 0x0300 ? 0x0300 : 0x0301)
        lengthPrefixed(2) {
            out.append(1)  // ClientHello
            lengthPrefixed(3) {
                u16(Int(version))
                // The client random: four draws of 64 bits (each draw is a system call).
                var generator = SystemRandomNumberGenerator()
                for _ in 0..<4 { withUnsafeBytes(of: generator.next() as UInt64) { out += $0 } }
                out.append(0)  // no session id
                // TLS_EMPTY_RENEGOTIATION_INFO_SCSV last, as real clients send it.
                lengthPrefixed(2) { for suite in suites + [0x00FF] { u16(Int(suite)) } }
                out += [1, 0]  // compression: null only
                guard version != 0x0300 else { return }
                lengthPrefixed(2) {
                    if let serverName, !serverName.isEmpty, serverName.utf8.count < 256, IPAddress(serverName) == nil {
                        u16(0x0000)
                        lengthPrefixed(2) {
                            lengthPrefixed(2) {
                                out.append(0)  // host_name
                                lengthPrefixed(2) { out += serverName.utf8 }
                            }
                        }
                    }
                    u16(0x000A)  // supported_groups: x25519, P-256, P-384, P-521
                    lengthPrefixed(2) {
                        lengthPrefixed(2) { for group in [0x001D, 0x0017, 0x0018, 0x0019] { u16(group) } }
                    }
                    u16(0x000B)  // ec_point_formats: uncompressed
                    lengthPrefixed(2) { out += [1, 0] }
                    u16(0x000D)  // signature_algorithms
                    lengthPrefixed(2) {
                        lengthPrefixed(2) {
                            for scheme in [
                                0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0201, 0x0203,
                            ] { u16(scheme) }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// The server's first answer to a hand-built ClientHello.
enum ServerHelloAnswer: Sendable {
    case serverHello(version: UInt16, suite: UInt16)
    case alert(UInt8)
    case closed
    case silent
    case notTLS
}

/// Sends the ClientHello when added, then reads (on demand; autoRead is off) until the first handshake message or
/// alert can be judged. At most a few kilobytes are looked at: a ServerHello comes first.
final class ServerHelloReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    /// The answer, and the first bytes the server sent (empty when it sent none: no answer at all).
    typealias Outcome = (ServerHelloAnswer, [UInt8])

    private let hello: [UInt8]
    private let answered: EventLoopPromise<Outcome>
    private var received: [UInt8] = []
    private var done = false

    init(hello: [UInt8], answered: EventLoopPromise<Outcome>) {
        self.hello = hello
        self.answered = answered
    }

    func handlerAdded(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: hello)), promise: nil)
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !done else { return }
        received += buffer.readBytes(length: min(buffer.readableBytes, 16_384 - received.count)) ?? []
        if let answer = Self.judge(received) { finish(answer) } else if received.count >= 16_384 { finish(.notTLS) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !done { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.closed)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.closed)
    }

    private func finish(_ answer: ServerHelloAnswer) {
        guard !done else { return }
        done = true
        answered.succeed((answer, Array(received.prefix(64))))
    }

    /// Nil while more bytes are needed.
    static func judge(_ bytes: [UInt8]) -> ServerHelloAnswer? {
        guard bytes.count >= 5 else { return nil }
        let type = bytes[0]
        let major = bytes[1]
        guard major == 3, [21, 22].contains(type) else { return .notTLS }
        let length = Int(bytes[3]) << 8 | Int(bytes[4])
        guard length > 0, length <= 16_384 + 2048 else { return .notTLS }
        if type == 21 {
            guard bytes.count >= 7 else { return nil }
            return .alert(bytes[6])
        }
        // Handshake: ServerHello (type 2): version at 9..10, 32 random bytes, session id, then the suite.
        guard bytes.count >= 5 + 4 + 2 + 32 + 1 else { return nil }
        guard bytes[5] == 2 else { return .notTLS }
        let version = UInt16(bytes[9]) << 8 | UInt16(bytes[10])
        let sessionLength = Int(bytes[43])
        let suiteAt = 44 + sessionLength
        guard bytes.count >= suiteAt + 2 else { return nil }
        return .serverHello(version: version, suite: UInt16(bytes[suiteAt]) << 8 | UInt16(bytes[suiteAt + 1]))
    }
}
