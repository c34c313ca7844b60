import MailPortCore
import MailPortTLS
import NIOCore
import NIOHTTP1
import NIOPosix

/// Fetches an MTA-STS policy the way RFC 8461 §3.3 tells senders to: HTTPS to port 443 of `mta-sts.DOMAIN`, the
/// certificate verified for that name against the trust store (system plus `--ca-file`), no redirects followed, a
/// 200 answer of media type `text/plain`. The project's OpenSSL client carries the bytes; SwiftNIO's HTTP/1 codec
/// (llhttp) parses them. Everything is bounded: one deadline for connect, handshake and answer, and the body to
/// `bodyLimit` bytes (the connection is dropped past it).
public struct PolicyFetcher: Sendable {
    /// RFC 8461 sets no limit; policies are a few hundred bytes, and 64 KiB is what common sender implementations
    /// (postfix-mta-sts-resolver) accept.
    public static let bodyLimit = 64 * 1024
    public static let path = "/.well-known/mta-sts.txt"

    let context: TLSContext
    let group: any EventLoopGroup
    let timeout: TimeAmount
    let port: Int

    /// - Parameters:
    ///   - caFile: extra trust anchors (`--ca-file`), beside the system store.
    ///   - timeout: for the whole fetch: connect, handshake, request and the complete answer.
    public init(
        caFile: String?, timeout: TimeAmount, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        port: Int = 443
    ) throws(TLSError) {
        context = try TLSContext.client(caFile: caFile)
        self.group = group
        self.timeout = timeout
        self.port = port
    }

    /// Fetches and parses the policy of `domain` from `address`, the first address of `mta-sts.DOMAIN`.
    public func fetch(domain: String, address: IPAddress) async -> MTASTSPolicyFetch {
        let host = "mta-sts." + domain
        var fetch = MTASTSPolicyFetch(
            url: "https://\(host)\(Self.path)", address: address.description, outcome: .malformed)
        let answer = await exchange(host: host, address: address)
        switch answer {
        case .failed(let outcome, let detail):
            fetch.outcome = outcome
            fetch.detail = detail
        case .answered(let head, let body):
            fetch.size = body.count
            let status = head.status.code
            if (300..<400).contains(status) {
                fetch.outcome = .redirected
                let location = head.headers.first(name: "location").map { " to " + printable($0, limit: 200) } ?? ""
                fetch.detail = "HTTP \(status)\(location); senders do not follow redirects"
            } else if status != 200 {
                fetch.outcome = .httpError
                fetch.detail = "HTTP \(status) \(printable(head.status.reasonPhrase, limit: 60))"
            } else if let type = head.headers.first(name: "content-type"),
                type.split(separator: ";").first?.trimmingWhitespace().lowercased() == "text/plain"
            {
                fetch.outcome = .fetched
                MTASTSPolicyParser.parse(body, into: &fetch)
            } else {
                fetch.outcome = .wrongContentType
                let type = head.headers.first(name: "content-type").map { printable($0, limit: 80) } ?? "none"
                fetch.detail = "Content-Type \(type); expected text/plain"
            }
        }
        return fetch
    }

    enum Answer {
        case failed(MTASTSPolicyFetch.Outcome, String)
        case answered(HTTPResponseHead, [UInt8])
    }

    func exchange(host: String, address: IPAddress) async -> Answer {
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: address.description, port: port)
        } catch {
            return .failed(.connectFailed, "\(error)")
        }
        let deadline = NIODeadline.now() + timeout
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .connect(to: socketAddress).get()
        } catch ChannelError.connectTimeout {
            return .failed(.timeout, "no connection to port \(port) within \(timeout.seconds) s")
        } catch {
            return .failed(.connectFailed, "no connection to port \(port): \(printable("\(error)", limit: 120))")
        }
        defer { channel.close(promise: nil) }
        let handshake = channel.eventLoop.makePromise(of: TLSObservation.self)
        let response = channel.eventLoop.makePromise(of: (HTTPResponseHead, [UInt8]).self)
        let timer = channel.eventLoop.scheduleTask(deadline: deadline) {
            handshake.fail(PolicyTimedOut())
            response.fail(PolicyTimedOut())
            channel.close(promise: nil)
        }
        defer {
            timer.cancel()
            // Every way out completes both promises (a second completion is ignored): NIO traps on a leaked one.
            handshake.fail(PolicyConnectionClosed())
            response.fail(PolicyConnectionClosed())
        }
        let context = self.context
        do {
            try await channel.eventLoop.submit {
                let engine = try TLSEngine(context: context, role: .client, serverName: host)
                try addHandshakeHandler(
                    TLSHandler(engine: engine, names: [host], handshakeDone: handshake), to: channel)
            }.get()
        } catch {
            return .failed(.tlsFailed, printable("\(error)", limit: 160))
        }
        let observation: TLSObservation
        do {
            observation = try await handshake.futureResult.get()
        } catch is PolicyTimedOut {
            return .failed(.timeout, "the TLS handshake did not finish within \(timeout.seconds) s")
        } catch let failure as TLSHandshakeFailure {
            return .failed(.tlsFailed, printable(failure.message, limit: 160))
        } catch {
            return .failed(.tlsFailed, printable("\(error)", limit: 160))
        }
        // A policy from a server that could not prove it is mta-sts.DOMAIN is worthless: anyone on the path could
        // have served it (RFC 8461 §3.3).
        guard observation.chainVerified else {
            return .failed(
                .certificateInvalid,
                "the certificate does not verify: \(printable(observation.verifyError ?? "unknown error", limit: 120))"
            )
        }
        guard observation.nameMatches[host] == true else {
            let names = observation.certificate?.sans.prefix(4).joined(separator: ", ") ?? ""
            return .failed(
                .certificateInvalid,
                "the certificate does not cover \(host) (names: \(printable(names.isEmpty ? "none" : names, limit: 120)))"
            )
        }
        do {
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHTTPClientHandlers(
                    leftOverBytesStrategy: .dropBytes)
                try channel.pipeline.syncOperations.addHandler(PolicyResponseCollector(response: response))
                var headers = HTTPHeaders()
                headers.add(name: "Host", value: host)
                headers.add(name: "User-Agent", value: "MailPort")
                headers.add(name: "Accept", value: "text/plain")
                headers.add(name: "Connection", value: "close")
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: Self.path, headers: headers)
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }.get()
            let (head, body) = try await response.futureResult.get()
            return .answered(head, body)
        } catch is PolicyTimedOut {
            return .failed(.timeout, "no complete answer within \(timeout.seconds) s")
        } catch is PolicyTooLarge {
            return .failed(.tooLarge, "the body is larger than \(Self.bodyLimit) bytes")
        } catch {
            return .failed(.malformed, "not an HTTP/1.x answer: \(printable("\(error)", limit: 120))")
        }
    }
}

struct PolicyTimedOut: Error {}
struct PolicyTooLarge: Error {}
struct PolicyConnectionClosed: Error {}

/// Collects one HTTP response: the head, then body bytes up to the limit. Past the limit it fails and closes the
/// connection at once, so a hostile server cannot make MailPort read (or keep) more.
final class PolicyResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let response: EventLoopPromise<(HTTPResponseHead, [UInt8])>
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var done = false

    init(response: EventLoopPromise<(HTTPResponseHead, [UInt8])>) {
        self.response = response
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let received):
            head = received
        case .body(let buffer):
            guard body.count + buffer.readableBytes <= PolicyFetcher.bodyLimit else {
                finish(.failure(PolicyTooLarge()))
                context.close(promise: nil)
                return
            }
            body += buffer.readableBytesView
        case .end:
            if let head {
                finish(.success((head, body)))
            } else {
                finish(.failure(PolicyConnectionClosed()))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(PolicyConnectionClosed()))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<(HTTPResponseHead, [UInt8]), any Error>) {
        guard !done else { return }
        done = true
        response.completeWith(result)
    }
}

extension TimeAmount {
    /// Whole seconds, for messages.
    var seconds: Int64 { nanoseconds / 1_000_000_000 }
}
