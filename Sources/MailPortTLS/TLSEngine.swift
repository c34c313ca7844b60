import CMailPortOpenSSL
import CMailPortOpenSSLShims
import MailPortCore

/// One TLS session driven through memory BIOs: the caller moves bytes between the network and the engine, so the
/// same engine serves implicit TLS (from the first byte) and STARTTLS (in the middle of a plaintext dialog).
/// Not thread-safe: one owner (a channel handler on its event loop, or a test) drives it.
public final class TLSEngine {
    let ssl: OpaquePointer
    /// Network → OpenSSL (ciphertext received).
    private let networkIn: OpaquePointer
    /// OpenSSL → network (ciphertext to send).
    private let networkOut: OpaquePointer
    /// Where SSL_read decrypts to (a TLS record's plaintext at most), made on the first read of the session rather
    /// than allocated and zeroed on every read.
    private var readBufferStorage: UnsafeMutableRawBufferPointer?
    private var readBuffer: UnsafeMutableRawBufferPointer {
        if let made = readBufferStorage { return made }
        let made = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 1)
        readBufferStorage = made
        return made
    }

    public enum Role { case client, server }

    public enum HandshakeStep: Equatable {
        case needMoreData
        case done
        case failed(String)
    }

    /// - Parameter serverName: sent as SNI (clients only), when the target was given by name.
    /// - Parameter session: an earlier session with the same server to offer for resumption (clients only).
    public init(
        context: TLSContext, role: Role, serverName: String? = nil, resuming session: TLSSession? = nil
    ) throws(TLSError) {
        guard let ssl = SSL_new(context.pointer) else { throw TLSError("cannot create a TLS session") }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError("cannot create memory BIOs")
        }
        // The SSL object takes ownership of both BIOs.
        SSL_set_bio(ssl, input, output)
        self.ssl = ssl
        networkIn = input
        networkOut = output
        switch role {
        case .client:
            SSL_set_connect_state(ssl)
            if let serverName, mp_SSL_set_tlsext_host_name(ssl, serverName) != 1 {
                throw TLSError("cannot set SNI '\(printable(serverName))'")
            }
            // SSL_set_session takes its own reference; a session it refuses only means a full handshake.
            if let session {
                offeredSession = SSL_set_session(ssl, session.pointer) == 1
                if !offeredSession { _ = drainOpenSSLErrors() }
            }
        case .server:
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_free(ssl)
        readBufferStorage?.deallocate()
    }

    /// Hands ciphertext from the network to OpenSSL.
    public func receive<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard !bytes.isEmpty else { return }
        // Straight from the network's buffer where it is contiguous (a ByteBuffer's view is): no copy on the way.
        let written: Void? = bytes.withContiguousStorageIfAvailable { stored in
            _ = BIO_write(networkIn, stored.baseAddress, Int32(stored.count))
        }
        guard written == nil else { return }
        let array = Array(bytes)
        array.withUnsafeBytes { raw in
            _ = BIO_write(networkIn, raw.baseAddress, Int32(raw.count))
        }
    }

    /// Tells OpenSSL the peer closed the connection: once the received bytes are used up, reads fail instead of
    /// waiting for more.
    public func receiveEndOfStream() {
        // BIO_set_mem_eof_return(networkIn, 0) is a macro over BIO_ctrl.
        _ = BIO_ctrl(networkIn, BIO_C_SET_BUF_MEM_EOF_RETURN, 0, nil)
    }

    /// Ciphertext OpenSSL wants sent, emptied from its buffer.
    public func takeOutput() -> [UInt8] {
        // A memory BIO holds its bytes in one buffer: one read of exactly what is pending takes them all.
        let pending = Int(BIO_ctrl_pending(networkOut))
        guard pending > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: pending) { buffer, count in
            count = max(0, Int(BIO_read(networkOut, buffer.baseAddress, Int32(pending))))
        }
    }

    /// Advances the handshake with what has been received so far.
    public func handshake() -> HandshakeStep {
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return .needMoreData }
        let queue = drainOpenSSLErrors()
        if code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN {
            return .failed(queue.isEmpty ? "the peer closed the connection during the handshake" : queue)
        }
        return .failed(queue.isEmpty ? "handshake failed (SSL error \(code))" : queue)
    }

    public enum ReadOutcome: Equatable {
        case plaintext([UInt8])
        /// The peer sent close_notify.
        case closed
        case failed(String)
    }

    /// Decrypts whatever complete records have been received. An empty `.plaintext` means "need more ciphertext".
    public func readPlaintext() -> ReadOutcome {
        var out: [UInt8] = []
        while true {
            let count = SSL_read(ssl, readBuffer.baseAddress, Int32(readBuffer.count))
            if count > 0 {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<Int(count)]))
                continue
            }
            let code = SSL_get_error(ssl, count)
            if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return .plaintext(out) }
            if code == SSL_ERROR_ZERO_RETURN { return out.isEmpty ? .closed : .plaintext(out) }
            let queue = drainOpenSSLErrors()
            return out.isEmpty
                ? .failed(queue.isEmpty ? "TLS read failed (SSL error \(code))" : queue) : .plaintext(out)
        }
    }

    /// Encrypts plaintext; the records are then in `takeOutput()`.
    public func writePlaintext(_ bytes: [UInt8]) throws(TLSError) {
        guard !bytes.isEmpty else { return }
        let written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(bytes.count) else { throw TLSError("TLS write failed") }
    }

    /// The negotiated protocol ("TLSv1.3") and cipher, once the handshake is done.
    public var negotiatedVersion: String { String(cString: SSL_get_version(ssl)) }
    public var cipherName: String { SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "" }

    /// This connection's session once it can be resumed later: at the end of a TLS 1.2 handshake that the server gave
    /// a session ID or ticket, in TLS 1.3 once the server's NewSessionTicket has been read (it comes after the
    /// handshake, with the first application data). Nil while there is none.
    ///
    /// A copy: OpenSSL marks a connection's own session unresumable when the connection ends without a close_notify
    /// (as the probes' connections do), and the copy is not touched by that.
    public var resumableSession: TLSSession? {
        guard let current = SSL_get_session(ssl), SSL_SESSION_is_resumable(current) == 1,
            let copy = SSL_SESSION_dup(current)
        else { return nil }
        return TLSSession(taking: copy)
    }

    /// Whether a session was offered for resumption.
    public private(set) var offeredSession = false

    /// Whether the server accepted the offered session (an abbreviated handshake: no certificate was sent).
    public var sessionReused: Bool { SSL_session_reused(ssl) == 1 }

    public var keyExchangeGroup: String? {
        let nid = mp_SSL_get_negotiated_group(ssl)
        guard nid > 0 else { return nil }
        let name = OBJ_nid2sn(nid & 0xffff)
        return name.map { String(cString: $0) }
    }
}

/// A TLS session an OpenSSL client can offer again (`SSL_SESSION`, reference counted): a copy of the one its
/// connection was issued, handed to the one connection that offers it (which may run on another thread; OpenSSL
/// changes a session only through the connections that use it).
public final class TLSSession: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes over one reference the caller owns.
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        SSL_SESSION_free(pointer)
    }
}
