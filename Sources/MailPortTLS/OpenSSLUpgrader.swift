import MailPortCore
import MailPortProbe
import NIOCore

/// The TLS layer of the probes: starts TLS on a probe connection with the system OpenSSL and reports the handshake's
/// facts. Verification never aborts a handshake; its result is recorded for the rules.
public struct OpenSSLUpgrader: TLSUpgrader {
    private let context: TLSContext
    private let handshakeTimeout: TimeAmount

    /// - Parameter caFile: extra trust anchors (`--ca-file`), beside the system store.
    public init(caFile: String? = nil, handshakeTimeout: TimeAmount = .seconds(10)) throws(TLSError) {
        context = try TLSContext.client(caFile: caFile)
        self.handshakeTimeout = handshakeTimeout
    }

    /// A lax layer for the second try after a failed standard handshake: TLS 1.0 and up, every cipher including
    /// anonymous and NULL ones, security level 0. Verification is still recorded against the same trust anchors.
    public init(permissiveWithCAFile caFile: String?, handshakeTimeout: TimeAmount = .seconds(10)) throws(TLSError) {
        context = try TLSContext.client(
            caFile: caFile, minimumVersion: .tls1, securityLevel: 0,
            cipherList: "ALL:aNULL:eNULL:@SECLEVEL=0")
        self.handshakeTimeout = handshakeTimeout
    }

    public func upgrade(
        _ connection: ProbeConnection, names: [String], service: MailService, sessions: TLSSessionUse?
    ) async -> TLSUpgradeResult {
        let channel = connection.channel
        var offered: TLSSession?
        if case .resume(let slot) = sessions { offered = slot.take() as? TLSSession }
        let promise = channel.eventLoop.makePromise(of: TLSObservation.self)
        let context = self.context
        let timeout = handshakeTimeout
        do {
            try await channel.eventLoop.submit {
                let engine = try TLSEngine(
                    context: context, role: .client, serverName: names.first, resuming: offered)
                let handler = TLSHandler(engine: engine, names: names, handshakeDone: promise, sessions: sessions)
                let timer = channel.eventLoop.scheduleTask(in: timeout) {
                    promise.fail(HandshakeTimedOut())
                    channel.close(promise: nil)
                }
                promise.futureResult.whenComplete { _ in timer.cancel() }
                try addHandshakeHandler(handler, to: channel)
            }.get()
        } catch let closed as ConnectionClosedBeforeHandshake {
            promise.fail(closed)
            return .failed(closed.description)
        } catch {
            promise.fail(error)
            return .failed("\(error)")
        }
        do {
            return .upgraded(try await promise.futureResult.get())
        } catch let failure as TLSHandshakeFailure {
            return .failed(failure.message, serverSent: failure.firstBytes)
        } catch is HandshakeTimedOut {
            return .timedOut
        } catch {
            return .failed("\(error)")
        }
    }
}

/// The handshake timer fired before the handshake finished.
private struct HandshakeTimedOut: Error {}
