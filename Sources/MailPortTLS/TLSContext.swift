import CMailPortOpenSSL
import CMailPortOpenSSLShims
import MailPortCore

/// An error from OpenSSL, with its error queue drained into the message.
public struct TLSError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String

    init(_ what: String) {
        let queue = drainOpenSSLErrors()
        message = queue.isEmpty ? what : "\(what): \(queue)"
    }

    public var description: String { message }
}

/// Empties OpenSSL's per-thread error queue into one line. Leaving errors queued would make a later, unrelated call
/// on the same thread look like it failed.
func drainOpenSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        messages.append(
            String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return messages.joined(separator: "; ")
}

/// TLS protocol versions, with OpenSSL's numbers.
public enum TLSProtocolVersion: Int32, Sendable, CaseIterable {
    case ssl3 = 0x0300
    case tls1 = 0x0301
    case tls11 = 0x0302
    case tls12 = 0x0303
    case tls13 = 0x0304

    /// The name OpenSSL reports for a session of this version.
    public var name: String {
        switch self {
        case .ssl3: return "SSLv3"
        case .tls1: return "TLSv1"
        case .tls11: return "TLSv1.1"
        case .tls12: return "TLSv1.2"
        case .tls13: return "TLSv1.3"
        }
    }
}

/// Owns an `SSL_CTX`. Set up once, then shared by every session made from it (OpenSSL allows that once the context
/// is no longer changed).
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer

    /// A client context: trusts the system store plus `caFile`, but never aborts a handshake over verification, so the
    /// facts are gathered and the verdict recorded (the rules judge it).
    public static func client(
        caFile: String? = nil, minimumVersion: TLSProtocolVersion? = nil,
        maximumVersion: TLSProtocolVersion? = nil, securityLevel: Int32? = nil,
        cipherList: String? = nil
    ) throws(TLSError) -> TLSContext {
        let context = try TLSContext(method: TLS_client_method())
        SSL_CTX_set_verify(context.pointer, SSL_VERIFY_NONE, nil)
        guard SSL_CTX_set_default_verify_paths(context.pointer) == 1 else {
            throw TLSError("cannot load the system trust store")
        }
        if let caFile, SSL_CTX_load_verify_locations(context.pointer, caFile, nil) != 1 {
            throw TLSError("cannot load CA file '\(printable(caFile))'")
        }
        try context.configure(
            minimumVersion: minimumVersion, maximumVersion: maximumVersion,
            securityLevel: securityLevel, cipherList: cipherList)
        return context
    }

    /// A server context with a certificate chain and key in PEM files (the demo lab and the tests).
    /// - Parameter resumption: whether the server issues sessions (tickets, a session cache) that clients can resume.
    public static func server(
        certificateChainFile: String, privateKeyFile: String,
        minimumVersion: TLSProtocolVersion? = nil, maximumVersion: TLSProtocolVersion? = nil,
        securityLevel: Int32? = nil, cipherList: String? = nil, resumption: Bool = true
    ) throws(TLSError) -> TLSContext {
        let context = try TLSContext(method: TLS_server_method())
        if !resumption { mp_SSL_CTX_disable_resumption(context.pointer) }
        // The security level first: it decides which keys and signatures the context agrees to load.
        try context.configure(
            minimumVersion: minimumVersion, maximumVersion: maximumVersion,
            securityLevel: securityLevel, cipherList: cipherList)
        guard SSL_CTX_use_certificate_chain_file(context.pointer, certificateChainFile) == 1 else {
            throw TLSError("cannot load certificate chain '\(printable(certificateChainFile))'")
        }
        guard SSL_CTX_use_PrivateKey_file(context.pointer, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError("cannot load private key '\(printable(privateKeyFile))'")
        }
        return context
    }

    private init(method: OpaquePointer?) throws(TLSError) {
        guard let method, let context = SSL_CTX_new(method) else { throw TLSError("cannot create an OpenSSL context") }
        pointer = context
    }

    private func configure(
        minimumVersion: TLSProtocolVersion?, maximumVersion: TLSProtocolVersion?,
        securityLevel: Int32?, cipherList: String?
    ) throws(TLSError) {
        if let securityLevel { SSL_CTX_set_security_level(pointer, securityLevel) }
        if let minimumVersion, mp_SSL_CTX_set_min_proto_version(pointer, minimumVersion.rawValue) != 1 {
            throw TLSError("cannot set the minimum version \(minimumVersion.name)")
        }
        if let maximumVersion, mp_SSL_CTX_set_max_proto_version(pointer, maximumVersion.rawValue) != 1 {
            throw TLSError("cannot set the maximum version \(maximumVersion.name)")
        }
        if let cipherList, SSL_CTX_set_cipher_list(pointer, cipherList) != 1 {
            throw TLSError("no usable cipher in '\(cipherList)'")
        }
    }

    deinit {
        SSL_CTX_free(pointer)
    }
}
