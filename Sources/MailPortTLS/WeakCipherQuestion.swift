import MailPortCore
import MailPortProbe
import NIOCore

/// The weak-cipher question: one hand-built TLS 1.2 ClientHello offering every suite of every weak class at once
/// (anonymous, NULL, EXPORT, RC4, DES/3DES, key exchange without forward secrecy). A server that refuses it accepts
/// none; one that answers chooses a suite, whose classes are then known, and the prober asks again with the classes
/// still open. A healthy server costs one connection.
public struct WeakCipherQuestion: CipherClassQuestion {
    public let timeout: TimeAmount

    public init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    /// Each class with its suites (IANA TLS Cipher Suites registry; RFC 2246, 4346, 4492, 5246, 5288, 6655). A suite
    /// may belong to several classes (an anonymous RC4 suite is both).
    static let suitesByClass: [(label: String, suites: [UInt16])] = [
        (
            "anonymous",
            [
                0x0017, 0x0018, 0x0019, 0x001A, 0x001B, 0x0034, 0x003A, 0x0046, 0x006C, 0x006D, 0x0089, 0x009B,
                0x00A6, 0x00A7, 0xC015, 0xC016, 0xC017, 0xC018, 0xC019,
            ]
        ),
        ("null", [0x0001, 0x0002, 0x003B, 0xC001, 0xC006, 0xC00B, 0xC010, 0xC015]),
        (
            "export",
            [
                0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0017, 0x0019, 0x0062, 0x0063, 0x0064,
                0x0065,
            ]
        ),
        ("rc4", [0x0003, 0x0004, 0x0005, 0x0017, 0x0018, 0x0064, 0x0065, 0xC002, 0xC007, 0xC00C, 0xC011, 0xC016]),
        (
            "des",
            [
                0x0008, 0x0009, 0x000A, 0x000B, 0x000C, 0x000D, 0x000E, 0x000F, 0x0010, 0x0011, 0x0012, 0x0013,
                0x0014, 0x0015, 0x0016, 0x0019, 0x001A, 0x001B, 0x0062, 0x0063, 0xC003, 0xC008, 0xC00D, 0xC012, 0xC017,
            ]
        ),
        // Static RSA key exchange (and static ECDH, as rare): a stolen server key decrypts every recorded session.
        (
            "no-forward-secrecy",
            [
                0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0007, 0x0008, 0x0009, 0x000A, 0x002F,
                0x0035, 0x003B, 0x003C, 0x003D, 0x0041, 0x0084, 0x0096, 0x009C, 0x009D, 0x0062, 0x0064,
                0xC001, 0xC002, 0xC003, 0xC004, 0xC005, 0xC00B, 0xC00C, 0xC00D, 0xC00E, 0xC00F,
                0xC09C, 0xC09D, 0xC0A0, 0xC0A1,
            ]
        ),
    ]

    public var classes: [String] { Self.suitesByClass.map(\.label) }

    public func offering(_ classes: Set<String>) -> any TLSUpgrader {
        var suites: [UInt16] = []
        for (label, members) in Self.suitesByClass where classes.contains(label) {
            for suite in members where !suites.contains(suite) { suites.append(suite) }
        }
        return ClientHelloProbe(version: 0x0303, suites: suites, timeout: timeout)
    }

    public func classes(ofChosen answer: TLSObservation) -> Set<String> {
        guard let suite = UInt16(answer.cipher.dropFirst(2), radix: 16), answer.cipher.hasPrefix("0x") else {
            return []
        }
        return Set(Self.suitesByClass.filter { $0.suites.contains(suite) }.map(\.label))
    }
}
