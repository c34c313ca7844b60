import CMailPortOpenSSL
import CMailPortOpenSSLShims
import MailPortCore

extension TLSEngine {
    /// The facts of a completed handshake: version, cipher, group, the chain as sent, verification and name checks.
    public func observation(names: [String]) -> TLSObservation {
        var chain: [CertificateFacts] = []
        var leaf: OpaquePointer?
        var sent = 0
        if let stack = SSL_get_peer_cert_chain(ssl) {
            let count = mp_sk_X509_num(stack)
            sent = Int(count)
            // A server may send hundreds of certificates; 20 is far beyond any real chain.
            for index in 0..<min(count, 20) {
                guard let certificate = mp_sk_X509_value(stack, index) else { continue }
                if index == 0 { leaf = certificate }
                chain.append(certificateFacts(certificate))
            }
        }
        let verifyCode = SSL_get_verify_result(ssl)
        let hasCertificate = !chain.isEmpty
        let verified = hasCertificate && verifyCode == X509_V_OK
        var verifyError: String?
        if !hasCertificate {
            verifyError = "no certificate"
        } else if verifyCode != X509_V_OK {
            verifyError = String(cString: X509_verify_cert_error_string(verifyCode))
        }
        let issuerMissing =
            verifyCode == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
            || verifyCode == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        let missingIntermediate = issuerMissing && !(chain.first?.selfSigned ?? true)
        var matches: [String: Bool] = [:]
        if let leaf {
            for name in names {
                // RFC 6125: wildcards only as the whole leftmost label, never partial ("w*.example.org").
                let flags = UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
                matches[name] = X509_check_host(leaf, name, name.utf8.count, flags, nil) == 1
            }
        }
        var facts = TLSObservation(
            negotiatedVersion: negotiatedVersion, cipher: cipherName, keyExchangeGroup: keyExchangeGroup,
            certificate: chain.first, chain: chain, chainVerified: verified, verifyError: verifyError,
            missingIntermediate: missingIntermediate, nameMatches: matches)
        if sent > chain.count { facts.chainCertificatesSent = sent }
        return facts
    }

    /// The facts of a handshake made only for its channel (a check inside TLS): version, cipher and group. The
    /// certificate is not read; a resumed handshake carries none.
    public func channelObservation() -> TLSObservation {
        TLSObservation(
            negotiatedVersion: negotiatedVersion, cipher: cipherName, keyExchangeGroup: keyExchangeGroup,
            certificate: nil, chain: [], chainVerified: false,
            verifyError: "not read: a handshake made for a check inside TLS", missingIntermediate: false,
            nameMatches: [:])
    }
}

/// Reads the facts of one certificate. Every string is cut at a bound: certificate fields are attacker-chosen.
func certificateFacts(_ certificate: OpaquePointer) -> CertificateFacts {
    let subject = nameString(X509_get_subject_name(certificate))
    let issuer = nameString(X509_get_issuer_name(certificate))
    var sans: [String] = []
    let sanCount = min(mp_X509_san_count(certificate), 100)
    var buffer = [CChar](repeating: 0, count: 256)
    for index in 0..<sanCount {
        var isIP: Int32 = 0
        let length = mp_X509_san_entry(certificate, index, &buffer, Int32(buffer.count), &isIP)
        guard length > 0 else { continue }
        let bytes = buffer[0..<Int(length)].map { UInt8(bitPattern: $0) }
        if isIP == 1 {
            if bytes.count == 4 {
                sans.append(IPAddress.v4(bytes.reduce(0) { $0 << 8 | UInt32($1) }).description)
            } else if bytes.count == 16 {
                sans.append(IPAddress.v6(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }).description)
            }
        } else {
            sans.append(String(decoding: bytes, as: UTF8.self))
        }
    }
    var keyType = "unknown"
    var keyBits = 0
    if let key = X509_get0_pubkey(certificate) {
        keyBits = Int(EVP_PKEY_get_bits(key))
        let id = EVP_PKEY_get_base_id(key)
        switch id {
        case EVP_PKEY_RSA: keyType = "RSA"
        case EVP_PKEY_EC: keyType = "EC"
        case EVP_PKEY_DSA: keyType = "DSA"
        case EVP_PKEY_ED25519: keyType = "ED25519"
        case EVP_PKEY_ED448: keyType = "ED448"
        default: keyType = OBJ_nid2sn(id).map { String(cString: $0) } ?? "unknown"
        }
    }
    let signature = OBJ_nid2ln(X509_get_signature_nid(certificate)).map { String(cString: $0) } ?? "unknown"
    let der = certificateDER(certificate)
    // X509_check_issued == X509_V_OK: the certificate names itself as issuer and its key matches.
    let selfSigned = X509_check_issued(certificate, certificate) == X509_V_OK
    var facts = CertificateFacts(
        subject: subject, issuer: issuer, sans: sans,
        notBefore: timeString(X509_get0_notBefore(certificate)), notAfter: timeString(X509_get0_notAfter(certificate)),
        keyType: keyType, keyBits: keyBits, signatureAlgorithm: signature, sha256: Digest.sha256(der),
        selfSigned: selfSigned)
    // What DANE TLSA records (RFC 6698 §2.1.2–2.1.3) are matched against: the certificate (selector 0) or its
    // SubjectPublicKeyInfo (selector 1), by SHA-256 or SHA-512; exact matches (type 0) compare by SHA-256 too.
    let spki = publicKeyInfoDER(certificate)
    facts.sha512 = Digest.sha512(der)
    if !spki.isEmpty {
        facts.spkiSHA256 = Digest.sha256(spki)
        facts.spkiSHA512 = Digest.sha512(spki)
    }
    return facts
}

/// The DER encoding of a certificate.
func certificateDER(_ certificate: OpaquePointer) -> [UInt8] {
    encoded { i2d_X509(certificate, $0) }
}

/// The DER encoding of a certificate's SubjectPublicKeyInfo (the whole structure, as DANE selector 1 means it; not
/// the key bits X509_pubkey_digest hashes).
func publicKeyInfoDER(_ certificate: OpaquePointer) -> [UInt8] {
    guard let key = X509_get_X509_PUBKEY(certificate) else { return [] }
    return encoded { i2d_X509_PUBKEY(key, $0) }
}

/// OpenSSL's i2d convention: called with no buffer it returns the length; then it writes into the one given.
private func encoded(_ i2d: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> [UInt8] {
    let length = i2d(nil)
    guard length > 0 else { return [] }
    var der = [UInt8](repeating: 0, count: Int(length))
    der.withUnsafeMutableBufferPointer { buffer in
        var cursor = buffer.baseAddress
        _ = i2d(&cursor)
    }
    return der
}

/// Message digests through the system OpenSSL, as lower-case hex.
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> String { hex(bytes, EVP_sha256(), size: 32) }
    public static func sha512(_ bytes: [UInt8]) -> String { hex(bytes, EVP_sha512(), size: 64) }

    private static func hex(_ bytes: [UInt8], _ type: OpaquePointer?, size: Int) -> String {
        var digest = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        guard EVP_Digest(bytes, bytes.count, &digest, &length, type, nil) == 1 else { return "" }
        return digest.prefix(Int(length)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

/// RFC 2253 text of an X.509 name, cut at 1024 bytes.
private func nameString(_ name: OpaquePointer?) -> String {
    guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
    defer { BIO_free(bio) }
    X509_NAME_print_ex(bio, name, 0, mp_XN_FLAG_RFC2253())
    return readBIO(bio, limit: 1024)
}

/// An ASN.1 time as RFC 3339 UTC.
private func timeString(_ time: UnsafePointer<ASN1_TIME>?) -> String {
    guard let time else { return "" }
    var parts = tm()
    guard ASN1_TIME_to_tm(time, &parts) == 1 else { return "" }
    func pad(_ value: Int32, _ width: Int = 2) -> String { String(value).leftPadded(to: width) }
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
        + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
}

private func readBIO(_ bio: OpaquePointer, limit: Int) -> String {
    var buffer = [UInt8](repeating: 0, count: limit)
    let count = buffer.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
    return count > 0 ? String(decoding: buffer[0..<Int(count)], as: UTF8.self) : ""
}
