import MailPortCore
import MailPortTLS
import NIOCore
import NIOPosix

/// One listener of the lab: an address and port, and what it says to a client that connects.
public struct LabEndpoint: Sendable, Hashable {
    public var address: String
    public var port: UInt16
    public var behaviour: LabBehaviour
    /// TLS for this endpoint: from the first byte (implicit) or after STARTTLS/STLS; nil for none (a STARTTLS
    /// request is then accepted and the connection closed).
    public var tls: LabTLS?

    public init(address: String, port: UInt16, behaviour: LabBehaviour, tls: LabTLS? = nil) {
        self.address = address
        self.port = port
        self.behaviour = behaviour
        self.tls = tls
    }
}

/// A lab endpoint's certificate and how TLS starts.
public struct LabTLS: Sendable, Hashable {
    public var certificateChainFile: String
    public var privateKeyFile: String
    public var implicit: Bool
    /// Protocol versions the endpoint accepts (nil: OpenSSL's defaults, TLS 1.2 and 1.3).
    public var minimumVersion: TLSProtocolVersion?
    public var maximumVersion: TLSProtocolVersion?
    /// An OpenSSL cipher list for TLS 1.2 and below (e.g. weak suites a legacy server still allows).
    public var cipherList: String?
    /// Whether the endpoint issues TLS sessions clients can resume (OpenSSL's default: tickets).
    public var resumption: Bool
    /// Whether each connection gets a TLS context of its own (new ticket keys): sessions are issued but never taken
    /// back, as behind a pool of servers that share no keys.
    public var contextPerConnection = false

    public init(
        certificateChainFile: String, privateKeyFile: String, implicit: Bool,
        minimumVersion: TLSProtocolVersion? = nil, maximumVersion: TLSProtocolVersion? = nil,
        cipherList: String? = nil, resumption: Bool = true
    ) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.implicit = implicit
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        self.cipherList = cipherList
        self.resumption = resumption
    }
}

/// A set of TCP listeners on loopback addresses (any of 127.0.0.0/8, or ::1), started in-process with SwiftNIO.
///
/// Linux routes the whole of 127.0.0.0/8 to the loopback interface, so each 127.x address acts as a separate host
/// without root, network namespaces or configuration. `mailport demo` and the tests use it as a scan target.
public final class LoopbackLab: Sendable {
    /// The endpoints as bound: an endpoint asked for on port 0 has the port the system gave it here.
    public let endpoints: [LabEndpoint]
    /// Connection counts per address, for politeness checks.
    public let stats: LabConnectionStats
    private let group: MultiThreadedEventLoopGroup
    private let channels: [any Channel]

    private init(
        endpoints: [LabEndpoint], stats: LabConnectionStats, group: MultiThreadedEventLoopGroup,
        channels: [any Channel]
    ) {
        self.endpoints = endpoints
        self.stats = stats
        self.group = group
        self.channels = channels
    }

    /// Binds every endpoint; fails (closing what was bound) if any address or port cannot be bound. Port 0 binds a
    /// free port (read it back from `endpoints`), so tests side by side need no addresses of their own.
    public static func start(_ endpoints: [LabEndpoint]) async throws -> LoopbackLab {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var channels: [any Channel] = []
        var bound: [LabEndpoint] = []
        let stats = LabConnectionStats()
        do {
            for endpoint in endpoints {
                let behaviour = endpoint.behaviour
                let counter = ConnectionCounter()
                let address = endpoint.address
                let makeContext: @Sendable () throws -> TLSContext? = {
                    guard let tls = endpoint.tls else { return nil }
                    // A legacy server (TLS 1.0/1.1) needs security level 0, as it would with OpenSSL 3 in real life.
                    let legacy = (tls.minimumVersion?.rawValue ?? 0x0303) < 0x0303 || tls.cipherList != nil
                    return try TLSContext.server(
                        certificateChainFile: tls.certificateChainFile, privateKeyFile: tls.privateKeyFile,
                        minimumVersion: tls.minimumVersion, maximumVersion: tls.maximumVersion,
                        securityLevel: legacy ? 0 : nil,
                        cipherList: legacy ? (tls.cipherList ?? "ALL") + ":@SECLEVEL=0" : nil,
                        resumption: tls.resumption)
                }
                let tlsContext = try makeContext()
                let implicitTLS = endpoint.tls?.implicit ?? false
                let contextPerConnection = endpoint.tls?.contextPerConnection ?? false
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 1024)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let tlsContext = contextPerConnection ? try makeContext() : tlsContext
                            if implicitTLS, let tlsContext {
                                try channel.pipeline.syncOperations.addHandler(
                                    makeServerTLSHandler(tlsContext, channel, stats: stats, address: address))
                            }
                            try channel.pipeline.syncOperations.addHandler(
                                LabServerHandler(
                                    behaviour: behaviour, connectionNumber: counter.next(), stats: stats,
                                    address: address, starttls: implicitTLS ? nil : tlsContext))
                        }
                    }
                    .bind(host: endpoint.address, port: Int(endpoint.port))
                    .get()
                channels.append(channel)
                guard let port = channel.localAddress?.port, let boundPort = UInt16(exactly: port) else {
                    throw LabBindError(endpoint: endpoint)
                }
                var actual = endpoint
                actual.port = boundPort
                bound.append(actual)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        return LoopbackLab(endpoints: bound, stats: stats, group: group, channels: channels)
    }

    /// Closes every listener and stops the event loop.
    public func shutdown() async {
        for channel in channels { try? await channel.close() }
        try? await group.shutdownGracefully()
    }

    /// Shuts the lab down before returning, for a `defer` in a test: unlike `defer { Task { await shutdown() } }`, the
    /// addresses are free again when the next test binds them. Not for use on one of the lab's own event loops.
    public func stop() {
        for channel in channels { try? channel.close().wait() }
        try? group.syncShutdownGracefully()
    }

    /// Starts a lab, runs `body` with it and shuts it down before returning, also when `body` throws.
    public static func with<Result>(
        _ endpoints: [LabEndpoint], _ body: (LoopbackLab) async throws -> Result
    ) async throws -> Result {
        let lab = try await start(endpoints)
        do {
            let result = try await body(lab)
            await lab.shutdown()
            return result
        } catch {
            await lab.shutdown()
            throw error
        }
    }
}

/// A listener that bound but cannot say to which port (not expected of a TCP socket).
struct LabBindError: Error, CustomStringConvertible {
    var endpoint: LabEndpoint
    var description: String { "lab listener \(endpoint.address):\(endpoint.port) has no local port" }
}

/// A server-side TLS handler for a lab connection; the handshake's outcome is not needed.
func makeServerTLSHandler(
    _ context: TLSContext, _ channel: any Channel, stats: LabConnectionStats, address: String
) throws -> TLSHandler {
    let done = channel.eventLoop.makePromise(of: TLSObservation.self)
    let engine = try TLSEngine(context: context, role: .server)
    // Counted on the loop the handshake ran on: whether this server took a session back (no certificate sent).
    let bound = NIOLoopBound(engine, eventLoop: channel.eventLoop)
    done.futureResult.whenComplete { result in
        if case .success = result { stats.handshakeCompleted(address, resumed: bound.value.sessionReused) }
    }
    return TLSHandler(engine: engine, handshakeDone: done)
}
