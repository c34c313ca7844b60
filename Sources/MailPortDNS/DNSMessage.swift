import MailPortCore

/// The record types domain mode asks for.
public enum DNSRecordType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case a = 1
    case cname = 5
    /// Asked of the root zone only, to learn whether the resolver validates (a signed answer comes back with AD).
    case soa = 6
    case mx = 15
    case txt = 16
    case aaaa = 28
    case srv = 33
    case tlsa = 52

    public var description: String {
        switch self {
        case .a: return "A"
        case .cname: return "CNAME"
        case .soa: return "SOA"
        case .mx: return "MX"
        case .txt: return "TXT"
        case .aaaa: return "AAAA"
        case .srv: return "SRV"
        case .tlsa: return "TLSA"
        }
    }
}

/// One question: a name (lower case, no trailing dot) and a type.
public struct DNSQuestion: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var type: DNSRecordType

    public init(_ name: String, _ type: DNSRecordType) {
        self.name = DNSName.normalized(name)
        self.type = type
    }

    public var description: String { "\(name) \(type)" }
}

/// The record data domain mode understands; other types in an answer are skipped.
public enum DNSRecordData: Sendable, Equatable {
    case address(IPAddress)
    case cname(String)
    case mx(preference: UInt16, exchange: String)
    case srv(priority: UInt16, weight: UInt16, port: UInt16, target: String)
    /// The character-strings of one TXT record, joined as RFC 7208 §3.3 and RFC 8461 §3.1 read them (bytes outside
    /// printable ASCII escaped as \DDD, so a hostile record cannot smuggle controls).
    case txt(String)
    /// RFC 6698 §2.1: certificate usage, selector, matching type and the certificate association data.
    case tlsa(usage: UInt8, selector: UInt8, matchingType: UInt8, data: [UInt8])
}

public struct DNSRecord: Sendable, Equatable {
    public var owner: String
    public var data: DNSRecordData
}

/// A parsed response: its id, flags, and the answer section.
public struct DNSResponse: Sendable {
    public var id: UInt16
    public var truncated: Bool
    /// RCODE: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...
    public var responseCode: UInt8
    /// The AD bit: the resolver says it validated the answer with DNSSEC (meaningful only from a validating
    /// resolver over a trusted path, RFC 6698 §4.1, RFC 7672 §2.1).
    public var authenticated: Bool = false
    public var question: DNSQuestion?
    public var answers: [DNSRecord]
}

public enum DNSName {
    /// Lower case, without the trailing dot; the root stays ".".
    public static func normalized(_ name: String) -> String {
        if name == "." { return "." }
        var text = name.lowercased()
        while text.hasSuffix(".") && text.count > 1 { text.removeLast() }
        return text
    }
}

/// Wire format (RFC 1035 §4) for queries and responses. Responses are hostile input: every length and pointer is
/// checked against the message, names are bounded to 255 bytes and 128 compression jumps, and anything that does
/// not fit throws instead of reading past the end.
public enum DNSWire {
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// A recursive query (RD) with an EDNS(0) OPT record offering 1232-byte UDP answers (the DNS flag day size). The
    /// AD bit is set, as RFC 6840 §5.7 allows, so a validating resolver says whether it validated the answer.
    public static func query(id: UInt16, _ question: DNSQuestion) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        append16(id, to: &bytes)
        append16(0x0120, to: &bytes)  // standard query, recursion desired, AD
        append16(1, to: &bytes)  // QDCOUNT
        append16(0, to: &bytes)  // ANCOUNT
        append16(0, to: &bytes)  // NSCOUNT
        append16(1, to: &bytes)  // ARCOUNT: the OPT record
        if question.name != "." {
            for label in question.name.split(separator: ".") {
                let utf8 = Array(label.utf8.prefix(63))
                bytes.append(UInt8(utf8.count))
                bytes += utf8
            }
        }
        bytes.append(0)
        append16(question.type.rawValue, to: &bytes)
        append16(1, to: &bytes)  // class IN
        // OPT: root owner, type 41, class = UDP payload size, TTL 0, no options.
        bytes.append(0)
        append16(41, to: &bytes)
        append16(1232, to: &bytes)
        bytes += [0, 0, 0, 0, 0, 0]
        return bytes
    }

    /// Whether a question can be asked at all: labels of 1–63 bytes, 253 characters in all.
    public static func isValidName(_ name: String) -> Bool {
        let normalized = DNSName.normalized(name)
        if normalized == "." { return true }
        guard !normalized.isEmpty, normalized.utf8.count <= 253 else { return false }
        return normalized.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
            !$0.isEmpty && $0.utf8.count <= 63
        }
    }

    public static func parse(_ bytes: [UInt8]) throws(Malformed) -> DNSResponse {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw Malformed(description: "not a response (QR bit clear)") }
        let questionCount = try reader.u16()
        let answerCount = try reader.u16()
        _ = try reader.u16()  // authority
        _ = try reader.u16()  // additional
        var question: DNSQuestion?
        for index in 0..<questionCount {
            let name = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()
            if index == 0, let known = DNSRecordType(rawValue: type) { question = DNSQuestion(name, known) }
        }
        var answers: [DNSRecord] = []
        // A truncated response may end inside the answer section; what was read so far is kept.
        let truncated = flags & 0x0200 != 0
        for _ in 0..<answerCount {
            do throws(Malformed) {
                let owner = try reader.name()
                let type = try reader.u16()
                let recordClass = try reader.u16()
                _ = try reader.u32()  // TTL
                let length = Int(try reader.u16())
                let end = reader.offset + length
                guard end <= bytes.count else { throw Malformed(description: "record data runs past the message") }
                defer { reader.offset = end }
                guard recordClass == 1, let known = DNSRecordType(rawValue: type) else { continue }
                let data: DNSRecordData
                switch known {
                case .a:
                    guard length == 4 else { throw Malformed(description: "A record of \(length) bytes") }
                    data = .address(.v4(try reader.u32()))
                case .aaaa:
                    guard length == 16 else { throw Malformed(description: "AAAA record of \(length) bytes") }
                    var value: UInt128 = 0
                    for _ in 0..<16 { value = value << 8 | UInt128(try reader.u8()) }
                    data = .address(.v6(value))
                case .cname:
                    data = .cname(try reader.name())
                case .mx:
                    data = .mx(preference: try reader.u16(), exchange: try reader.name())
                case .srv:
                    data = .srv(
                        priority: try reader.u16(), weight: try reader.u16(), port: try reader.u16(),
                        target: try reader.name())
                case .soa:
                    continue  // only the AD bit of the answer is wanted
                case .tlsa:
                    guard length >= 3 else { throw Malformed(description: "TLSA record of \(length) bytes") }
                    let usage = try reader.u8()
                    let selector = try reader.u8()
                    let matchingType = try reader.u8()
                    data = .tlsa(
                        usage: usage, selector: selector, matchingType: matchingType,
                        data: Array(bytes[reader.offset..<end]))
                    reader.offset = end
                case .txt:
                    var text = ""
                    while reader.offset < end {
                        let count = Int(try reader.u8())
                        guard reader.offset + count <= end else {
                            throw Malformed(description: "TXT string runs past its record")
                        }
                        text += Reader.escaped(bytes[reader.offset..<(reader.offset + count)])
                        reader.offset += count
                    }
                    data = .txt(text)
                }
                guard reader.offset <= end else {
                    throw Malformed(description: "\(known) record longer than its length")
                }
                answers.append(DNSRecord(owner: owner, data: data))
            } catch {
                if truncated { break }
                throw error
            }
        }
        return DNSResponse(
            id: id, truncated: truncated, responseCode: UInt8(flags & 0x000F), authenticated: flags & 0x0020 != 0,
            question: question, answers: answers)
    }

    private static func append16(_ value: UInt16, to bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        /// Text of a TXT character-string: printable ASCII as is, backslash and everything else as \DDD.
        static func escaped(_ raw: ArraySlice<UInt8>) -> String {
            var text = ""
            for byte in raw {
                if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
                    text.append(Character(UnicodeScalar(byte)))
                } else {
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            return text
        }

        mutating func u8() throws(Malformed) -> UInt8 {
            guard offset < bytes.count else { throw Malformed(description: "message ends early") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(Malformed) -> UInt16 {
            UInt16(try u8()) << 8 | UInt16(try u8())
        }

        mutating func u32() throws(Malformed) -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        /// A possibly compressed name. Labels are kept as text only when they are printable host-name bytes;
        /// anything else is escaped as \DDD (RFC 1035 §5.1), so a hostile name cannot smuggle controls.
        mutating func name() throws(Malformed) -> String {
            var labels: [String] = []
            var total = 0
            var cursor = offset
            var jumped = false
            var jumps = 0
            while true {
                guard cursor < bytes.count else { throw Malformed(description: "name runs past the message") }
                let length = Int(bytes[cursor])
                if length & 0xC0 == 0xC0 {
                    guard cursor + 1 < bytes.count else {
                        throw Malformed(description: "pointer runs past the message")
                    }
                    let target = (length & 0x3F) << 8 | Int(bytes[cursor + 1])
                    jumps += 1
                    guard jumps <= 128, target < bytes.count else {
                        throw Malformed(description: "compression loop or bad pointer")
                    }
                    if !jumped { offset = cursor + 2 }
                    jumped = true
                    cursor = target
                    continue
                }
                guard length & 0xC0 == 0 else { throw Malformed(description: "unknown label type") }
                if length == 0 {
                    if !jumped { offset = cursor + 1 }
                    break
                }
                guard cursor + 1 + length <= bytes.count else {
                    throw Malformed(description: "label runs past the message")
                }
                total += length + 1
                guard total <= 255 else { throw Malformed(description: "name longer than 255 bytes") }
                labels.append(Self.labelText(bytes[(cursor + 1)...(cursor + length)]))
                cursor += 1 + length
            }
            return labels.isEmpty ? "." : labels.joined(separator: ".").lowercased()
        }

        private static func labelText(_ raw: ArraySlice<UInt8>) -> String {
            var text = ""
            for byte in raw {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "*"):
                    text.append(Character(UnicodeScalar(byte)))
                default:
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            return text
        }
    }
}
