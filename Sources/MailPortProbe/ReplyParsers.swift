import MailPortCore

/// An SMTP reply: a three-digit code and its text lines (RFC 5321 §4.2).
public struct SMTPReply: Sendable, Equatable {
    public var code: Int
    public var lines: [String]

    public var isPositive: Bool { (200..<400).contains(code) }
    /// "421 4.7.0 Too many connections" style, all lines joined.
    public var text: String { lines.map { "\(code) \($0)" }.joined(separator: "\n") }
}

/// What a parser makes of the lines fed so far.
public enum ParseStep<Reply: Sendable & Equatable>: Sendable, Equatable {
    case needMore
    case reply(Reply)
    /// The input broke the grammar or a bound; the dialog cannot go on.
    case violation(ProtocolViolation)
}

/// Assembles an SMTP reply from lines: `250-…` lines continue it, the first `250 …` line ends it.
public struct SMTPReplyParser: Sendable {
    let maxLines: Int
    private var code: Int?
    private var lines: [String] = []

    public init(maxLines: Int) {
        self.maxLines = maxLines
    }

    public mutating func feed(_ line: ReceivedLine) -> ParseStep<SMTPReply> {
        let bytes = Array(line.text.utf8)
        guard bytes.count >= 3, bytes[0...2].allSatisfy({ (0x30...0x39).contains($0) }),
            bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-"),
            let lineCode = Int(String(decoding: bytes[0...2], as: UTF8.self))
        else {
            return .violation(ProtocolViolation(.malformedReply, "not an SMTP reply line: \(quote(line.text))"))
        }
        if let code, code != lineCode {
            return .violation(
                ProtocolViolation(.malformedReply, "reply code changed from \(code) to \(lineCode) within one reply"))
        }
        code = lineCode
        lines.append(bytes.count > 4 ? String(line.text.dropFirst(4)) : "")
        if bytes.count > 3 && bytes[3] == UInt8(ascii: "-") {
            if lines.count >= maxLines {
                return .violation(ProtocolViolation(.tooManyLines, "reply longer than \(maxLines) lines (cut)"))
            }
            return .needMore
        }
        let reply = SMTPReply(code: lineCode, lines: lines)
        code = nil
        lines = []
        return .reply(reply)
    }
}

/// An IMAP server response up to and including the tagged completion of a command (or the greeting alone).
public struct IMAPResponse: Sendable, Equatable {
    /// Untagged lines (`* CAPABILITY …`), without the leading "* ".
    public var untagged: [String]
    /// The completion status: OK, NO, BAD (tagged) — or OK, PREAUTH, BYE for a greeting.
    public var status: String
    /// The text after the status, response code included (`[CAPABILITY …] ready`).
    public var text: String
}

/// Collects IMAP response lines until the tagged completion for `tag`, or (tag nil) one greeting line (RFC 9051 §7).
public struct IMAPResponseParser: Sendable {
    let tag: String?
    let maxLines: Int
    private var untagged: [String] = []

    public init(tag: String?, maxLines: Int) {
        self.tag = tag
        self.maxLines = maxLines
    }

    public mutating func feed(_ line: ReceivedLine) -> ParseStep<IMAPResponse> {
        let text = line.text
        if let tag {
            if text.hasPrefix(tag + " ") {
                let (status, rest) = splitStatus(String(text.dropFirst(tag.count + 1)))
                guard ["OK", "NO", "BAD"].contains(status) else {
                    return .violation(
                        ProtocolViolation(.malformedReply, "tagged reply without OK/NO/BAD: \(quote(text))"))
                }
                return .reply(IMAPResponse(untagged: untagged, status: status, text: rest))
            }
            guard text.hasPrefix("* ") || text.hasPrefix("+") else {
                return .violation(ProtocolViolation(.malformedReply, "neither untagged nor tagged: \(quote(text))"))
            }
            untagged.append(text.hasPrefix("* ") ? String(text.dropFirst(2)) : text)
            if untagged.count >= maxLines {
                return .violation(
                    ProtocolViolation(
                        .tooManyLines, "more than \(maxLines) untagged lines before the tagged reply (cut)"))
            }
            return .needMore
        }
        guard text.hasPrefix("* ") else {
            return .violation(
                ProtocolViolation(.malformedReply, "greeting is not an untagged response: \(quote(text))"))
        }
        let (status, rest) = splitStatus(String(text.dropFirst(2)))
        guard ["OK", "PREAUTH", "BYE"].contains(status) else {
            return .violation(ProtocolViolation(.malformedReply, "greeting without OK/PREAUTH/BYE: \(quote(text))"))
        }
        return .reply(IMAPResponse(untagged: [], status: status, text: rest))
    }

    private func splitStatus(_ text: String) -> (String, String) {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        return (parts[0].uppercased(), parts.count > 1 ? String(parts[1]) : "")
    }

    /// The atoms of a `CAPABILITY` list, from an untagged `CAPABILITY …` line or a `[CAPABILITY …]` response code.
    public static func capabilities(inResponseText text: String) -> [String]? {
        let upper = text.uppercased()
        if upper.hasPrefix("[CAPABILITY "), let close = text.firstIndex(of: "]") {
            return text[text.index(text.startIndex, offsetBy: 12)..<close].split(separator: " ").map(String.init)
        }
        if upper.hasPrefix("CAPABILITY ") {
            return text.dropFirst(11).split(separator: " ").map(String.init)
        }
        return nil
    }
}

/// A POP3 reply: the status line and, for multi-line replies, the lines up to the terminating "." (RFC 1939 §3).
public struct POP3Reply: Sendable, Equatable {
    public var ok: Bool
    public var text: String
    public var lines: [String]
}

public struct POP3ReplyParser: Sendable {
    let multiLine: Bool
    let maxLines: Int
    private var status: (ok: Bool, text: String)?
    private var lines: [String] = []

    public init(multiLine: Bool, maxLines: Int) {
        self.multiLine = multiLine
        self.maxLines = maxLines
    }

    public mutating func feed(_ line: ReceivedLine) -> ParseStep<POP3Reply> {
        guard let status else {
            let ok: Bool
            if line.text.hasPrefix("+OK") {
                ok = true
            } else if line.text.hasPrefix("-ERR") {
                ok = false
            } else {
                return .violation(ProtocolViolation(.malformedReply, "not a POP3 status line: \(quote(line.text))"))
            }
            let text = String(line.text.drop(while: { $0 != " " }).dropFirst())
            // A multi-line reply follows only a positive status.
            if !multiLine || !ok { return .reply(POP3Reply(ok: ok, text: text, lines: [])) }
            self.status = (ok, text)
            return .needMore
        }
        if line.text == "." {
            return .reply(POP3Reply(ok: status.ok, text: status.text, lines: lines))
        }
        lines.append(line.text.hasPrefix("..") ? String(line.text.dropFirst()) : line.text)
        if lines.count >= maxLines {
            return .violation(ProtocolViolation(.tooManyLines, "multi-line reply longer than \(maxLines) lines (cut)"))
        }
        return .needMore
    }
}

/// Shows network text inside a message: quoted, control characters escaped, cut at 80 characters.
func quote(_ text: String) -> String {
    "'" + printable(text, limit: 80) + "'"
}
