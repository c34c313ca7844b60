/// What a TLS handshake with an endpoint showed. Facts only: whether an expired certificate or TLS 1.0 is a
/// problem is for the rules to say.
public struct TLSObservation: Codable, Sendable, Equatable {
    /// "TLSv1.3", "TLSv1.2", … as OpenSSL names them.
    public var negotiatedVersion: String
    /// The cipher suite's OpenSSL name.
    public var cipher: String
    /// The key-exchange group ("X25519", "prime256v1"), when there was one.
    public var keyExchangeGroup: String?
    /// Versions the server accepted in separate handshakes (filled by protocol probing; empty when not probed).
    public var versionsAccepted: [String]
    /// True when these facts come from a second, permissive handshake (OpenSSL security level 0, TLS 1.0 and every
    /// cipher allowed) because the standard one failed: the server is reachable only by a lax client.
    public var legacyHandshake: Bool = false
    /// Weak cipher classes asked about (TLS 1.2 and below), and those the server accepted.
    public var cipherClassesProbed: [String] = []
    public var cipherClassesAccepted: [String] = []
    /// Legacy versions (SSLv3, TLS 1.0, TLS 1.1) and weak cipher classes whose question could not be asked: neither
    /// accepted nor refused. Absent when every answer is known.
    public var versionsUnknown: [String]?
    public var cipherClassesUnknown: [String]?
    /// The leaf certificate (the first the server sent).
    public var certificate: CertificateFacts?
    /// Every certificate as the server sent it, leaf first (at most 20 are recorded).
    public var chain: [CertificateFacts]
    /// How many certificates the server sent, when that is more than `chain` records (the rest were cut).
    public var chainCertificatesSent: Int?
    /// The chain verified to a trusted root (system store plus `--ca-file`).
    public var chainVerified: Bool
    /// OpenSSL's verification error when it did not.
    public var verifyError: String?
    /// The failure is an issuer that could not be found although the server sent a non-self-signed leaf: the usual
    /// sign of a missing intermediate certificate.
    public var missingIntermediate: Bool
    /// For each name the target was given by: does the leaf cover it (RFC 6125; wildcard in the leftmost label only).
    public var nameMatches: [String: Bool]

    public init(
        negotiatedVersion: String, cipher: String, keyExchangeGroup: String?, versionsAccepted: [String] = [],
        certificate: CertificateFacts?, chain: [CertificateFacts], chainVerified: Bool, verifyError: String?,
        missingIntermediate: Bool, nameMatches: [String: Bool]
    ) {
        self.negotiatedVersion = negotiatedVersion
        self.cipher = cipher
        self.keyExchangeGroup = keyExchangeGroup
        self.versionsAccepted = versionsAccepted
        self.certificate = certificate
        self.chain = chain
        self.chainVerified = chainVerified
        self.verifyError = verifyError
        self.missingIntermediate = missingIntermediate
        self.nameMatches = nameMatches
    }
}

/// One X.509 certificate as sent by a server (untrusted text: names are escaped by every writer).
public struct CertificateFacts: Codable, Sendable, Equatable {
    /// RFC 2253 form of the subject and issuer names.
    public var subject: String
    public var issuer: String
    /// subjectAltName DNS names and IP addresses.
    public var sans: [String]
    /// RFC 3339 UTC times.
    public var notBefore: String
    public var notAfter: String
    /// "RSA", "EC", "ED25519", "DSA", …
    public var keyType: String
    public var keyBits: Int
    /// The signature algorithm's long name ("sha256WithRSAEncryption").
    public var signatureAlgorithm: String
    /// SHA-256 of the DER encoding, lower-case hex.
    public var sha256: String
    /// SHA-512 of the DER encoding, and SHA-256 and SHA-512 of the DER SubjectPublicKeyInfo: what DANE TLSA records
    /// are matched against. Absent in reports made before MailPort recorded them.
    public var sha512: String?
    public var spkiSHA256: String?
    public var spkiSHA512: String?
    /// Subject and issuer are the same and the signature verifies with its own key.
    public var selfSigned: Bool

    public init(
        subject: String, issuer: String, sans: [String], notBefore: String, notAfter: String, keyType: String,
        keyBits: Int, signatureAlgorithm: String, sha256: String, selfSigned: Bool
    ) {
        self.subject = subject
        self.issuer = issuer
        self.sans = sans
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.keyType = keyType
        self.keyBits = keyBits
        self.signatureAlgorithm = signatureAlgorithm
        self.sha256 = sha256
        self.selfSigned = selfSigned
    }
}
