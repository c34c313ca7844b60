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

    /// A layer that offers exactly one protocol version. TLS 1.0 and 1.1 need OpenSSL's security level 0 (their
    /// handshakes sign with SHA-1), which only these probing handshakes use.
    public init(onlyVersion version: TLSProtocolVersion, handshakeTimeout: TimeAmount = .seconds(10)) throws(TLSError) {
        let legacy = version.rawValue < TLSProtocolVersion.tls12.rawValue
        context = try TLSContext.client(minimumVersion: version, maximumVersion: version,
                                        securityLevel: legacy ? 0 : nil, cipherList: legacy ? "ALL:@SECLEVEL=0" : nil)
        self.handshakeTimeout = handshakeTimeout
    }

    /// A lax layer for the second try after a failed standard handshake: TLS 1.0 and up, every cipher including
    /// anonymous and NULL ones, security level 0. Verification is still recorded against the same trust anchors.
    public init(permissiveWithCAFile caFile: String?, handshakeTimeout: TimeAmount = .seconds(10)) throws(TLSError) {
        context = try TLSContext.client(caFile: caFile, minimumVersion: .tls1, securityLevel: 0,
                                        cipherList: "ALL:aNULL:eNULL:@SECLEVEL=0")
        self.handshakeTimeout = handshakeTimeout
    }

    /// A layer that offers only the ciphers of an OpenSSL cipher-list expression, at TLS 1.2 and below (TLS 1.3
    /// has no weak suites), at security level 0 so OpenSSL itself does not refuse to offer them.
    public init(onlyCiphers cipherList: String, handshakeTimeout: TimeAmount = .seconds(10)) throws(TLSError) {
        context = try TLSContext.client(maximumVersion: .tls12, securityLevel: 0, cipherList: cipherList + ":@SECLEVEL=0")
        self.handshakeTimeout = handshakeTimeout
    }

    /// Probes for TLS 1.3, 1.2, 1.1 and 1.0, one handshake each through OpenSSL, and SSLv3 with a hand-built
    /// ClientHello (SSLv3 is not built into Debian's OpenSSL).
    public static func versionProbes(handshakeTimeout: TimeAmount) throws(TLSError) -> [HandshakeProbe] {
        var probes: [HandshakeProbe] = []
        for version in [TLSProtocolVersion.tls13, .tls12, .tls11, .tls1] {
            probes.append(HandshakeProbe(label: version.name, tls: try OpenSSLUpgrader(onlyVersion: version,
                                                                                      handshakeTimeout: handshakeTimeout)))
        }
        probes.append(HandshakeProbe(label: "SSLv3", tls: ClientHelloProbe.sslv3(timeout: handshakeTimeout)))
        return probes
    }

    /// The weak cipher classes, one probe each: anonymous (no server authentication), NULL (no encryption) and
    /// static-RSA key exchange (no forward secrecy) through OpenSSL; EXPORT, RC4 and DES/3DES, which Debian's
    /// OpenSSL 3 cannot offer, with a hand-built ClientHello whose ServerHello shows whether the server would.
    public static func cipherClassProbes(handshakeTimeout: TimeAmount) -> [HandshakeProbe] {
        let classes = [("anonymous", "aNULL"), ("null", "eNULL"), ("no-forward-secrecy", "kRSA")]
        let throughOpenSSL = classes.compactMap { label, list in
            (try? OpenSSLUpgrader(onlyCiphers: list, handshakeTimeout: handshakeTimeout))
                .map { HandshakeProbe(label: label, tls: $0) }
        }
        let byHand = ClientHelloProbe.legacyClasses.map { label, suites in
            HandshakeProbe(label: label, tls: ClientHelloProbe(version: 0x0303, suites: suites, timeout: handshakeTimeout))
        }
        return throughOpenSSL + byHand
    }

    public func upgrade(_ connection: ProbeConnection, names: [String], service: MailService) async -> TLSUpgradeResult {
        let channel = connection.channel
        let promise = channel.eventLoop.makePromise(of: TLSObservation.self)
        let context = self.context
        let timeout = handshakeTimeout
        do {
            try await channel.eventLoop.submit {
                let engine = try TLSEngine(context: context, role: .client, serverName: names.first)
                let handler = TLSHandler(engine: engine, names: names, handshakeDone: promise)
                let timer = channel.eventLoop.scheduleTask(in: timeout) {
                    promise.fail(HandshakeTimedOut())
                    channel.close(promise: nil)
                }
                promise.futureResult.whenComplete { _ in timer.cancel() }
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            }.get()
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
