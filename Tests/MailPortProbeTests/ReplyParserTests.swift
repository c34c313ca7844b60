import MailPortCore
import Testing

@testable import MailPortProbe

/// Feeds `input` to a LineBuffer in chunks of `chunkSize` bytes and every complete line to `parse`, collecting every
/// reply or violation. Lines that were cut are reported as "cut:" entries.
func run<Reply>(
    _ input: String, chunkSize: Int, maxLineLength: Int = 2048,
    makeParser: () -> (ReceivedLine) -> ParseStep<Reply>
) -> [String] {
    var buffer = LineBuffer(maxLineLength: maxLineLength)
    var parse = makeParser()
    var outcomes: [String] = []
    let bytes = Array(input.utf8)
    var index = 0
    while index < bytes.count {
        buffer.append(bytes[index..<min(bytes.count, index + chunkSize)])
        index += chunkSize
        while let line = buffer.nextLine() {
            if line.wasCut { outcomes.append("cut:\(line.text.count)") }
            if line.hasBinary { outcomes.append("binary") }
            switch parse(line) {
            case .needMore: break
            case .reply(let reply):
                outcomes.append("\(reply)")
                parse = makeParser()
            case .violation(let violation):
                outcomes.append("violation:\(violation.kind.rawValue)")
                parse = makeParser()
            }
        }
        #expect(buffer.pendingByteCount <= maxLineLength, "a line never holds more than its bound")
    }
    return outcomes
}

/// The same outcomes whatever the chunking: one byte at a time, every size up to the whole input.
func expectSameInEveryChunkSize<Reply>(
    _ input: String, maxLineLength: Int = 2048,
    makeParser: () -> (ReceivedLine) -> ParseStep<Reply>
) -> [String] {
    let whole = run(input, chunkSize: max(1, input.utf8.count), maxLineLength: maxLineLength, makeParser: makeParser)
    let sizes = input.utf8.count <= 400 ? Array(1...max(1, input.utf8.count)) : [1, 2, 3, 7, 64, 511, 4096]
    for size in sizes {
        let chunked = run(input, chunkSize: size, maxLineLength: maxLineLength, makeParser: makeParser)
        #expect(chunked == whole, "chunk size \(size)")
    }
    return whole
}

@Suite("Reply parsers, fed in every chunk size")
struct ReplyParserTests {
    func smtp() -> (ReceivedLine) -> ParseStep<SMTPReply> {
        var parser = SMTPReplyParser(maxLines: 50)
        return { parser.feed($0) }
    }

    func imap(_ tag: String?) -> () -> (ReceivedLine) -> ParseStep<IMAPResponse> {
        {
            var parser = IMAPResponseParser(tag: tag, maxLines: 50)
            return { parser.feed($0) }
        }
    }

    func pop3(multiLine: Bool) -> () -> (ReceivedLine) -> ParseStep<POP3Reply> {
        {
            var parser = POP3ReplyParser(multiLine: multiLine, maxLines: 50)
            return { parser.feed($0) }
        }
    }

    @Test("SMTP: multi-line greeting and EHLO reply, bare LF, empty text")
    func smtpReplies() {
        let outcomes = expectSameInEveryChunkSize(
            "220-mx.example.org ESMTP\r\n220 no UCE\r\n250-mx.example.org\r\n250-PIPELINING\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n354\r\n",
            makeParser: smtp)
        #expect(
            outcomes == [
                "\(SMTPReply(code: 220, lines: ["mx.example.org ESMTP", "no UCE"]))",
                "\(SMTPReply(code: 250, lines: ["mx.example.org", "PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"]))",
                "\(SMTPReply(code: 354, lines: [""]))",
            ])
    }

    @Test(
        "SMTP: malformed lines, changing codes, too many lines, over-long and binary lines",
        arguments: [
            ("HTTP/1.1 400 Bad Request\r\n", ["violation:malformed-reply"]),
            ("25 short\r\n", ["violation:malformed-reply"]),
            ("250-a\r\n251 b\r\n", ["violation:malformed-reply"]),
            ("2500 x\r\n", ["violation:malformed-reply"]),
            (
                String(repeating: "250-x\r\n", count: 60) + "250 end\r\n",
                ["violation:too-many-lines"] + Array(repeating: "", count: 0)
            ),
            (
                "220 " + String(repeating: "A", count: 3000) + "\r\n",
                ["cut:100", "\(SMTPReply(code: 220, lines: [String(repeating: "A", count: 96)]))"]
            ),
            ("220 a\u{0}b\r\n", ["binary", "\(SMTPReply(code: 220, lines: ["a\u{0}b"]))"]),
        ])
    func smtpBadInput(input: String, expected: [String]) {
        let outcomes = expectSameInEveryChunkSize(input, maxLineLength: 100, makeParser: smtp)
        #expect(Array(outcomes.prefix(expected.count)) == expected)
    }

    @Test("IMAP: greeting with a CAPABILITY code, and a tagged command with untagged data")
    func imapResponses() {
        let greeting = expectSameInEveryChunkSize(
            "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n",
            makeParser: imap(nil))
        #expect(
            greeting == [
                "\(IMAPResponse(untagged: [], status: "OK", text: "[CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready."))"
            ])
        #expect(
            IMAPResponseParser.capabilities(inResponseText: "[CAPABILITY IMAP4rev1 STARTTLS] x") == [
                "IMAP4rev1", "STARTTLS",
            ])
        #expect(
            IMAPResponseParser.capabilities(inResponseText: "CAPABILITY IMAP4rev1 AUTH=PLAIN") == [
                "IMAP4rev1", "AUTH=PLAIN",
            ])
        #expect(IMAPResponseParser.capabilities(inResponseText: "OK fine") == nil)
        let command = expectSameInEveryChunkSize(
            "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n* OK still here\r\nmp1 OK done\r\nmp1 NO again\r\n",
            makeParser: imap("mp1"))
        #expect(
            command == [
                "\(IMAPResponse(untagged: ["CAPABILITY IMAP4rev1 AUTH=PLAIN", "OK still here"], status: "OK", text: "done"))",
                "\(IMAPResponse(untagged: [], status: "NO", text: "again"))",
            ])
        #expect(
            expectSameInEveryChunkSize("* PREAUTH logged in\r\n", makeParser: imap(nil))
                == ["\(IMAPResponse(untagged: [], status: "PREAUTH", text: "logged in"))"])
    }

    @Test(
        "IMAP: malformed input",
        arguments: [
            ("+OK POP3 ready\r\n", nil as String?), ("* HELLO there\r\n", nil), ("mp1 MAYBE\r\n", "mp1"),
            ("garbage\r\n", "mp1"),
        ])
    func imapBadInput(input: String, tag: String?) {
        #expect(expectSameInEveryChunkSize(input, makeParser: imap(tag)) == ["violation:malformed-reply"])
    }

    @Test("POP3: single-line, multi-line CAPA with dot-stuffing, -ERR ends a multi-line reply at once")
    func pop3Replies() {
        #expect(
            expectSameInEveryChunkSize("+OK Dovecot ready.\r\n-ERR no\r\n", makeParser: pop3(multiLine: false))
                == [
                    "\(POP3Reply(ok: true, text: "Dovecot ready.", lines: []))",
                    "\(POP3Reply(ok: false, text: "no", lines: []))",
                ])
        #expect(
            expectSameInEveryChunkSize(
                "+OK\r\nTOP\r\nSTLS\r\n..dot\r\nSASL PLAIN\r\n.\r\n-ERR unknown\r\n",
                makeParser: pop3(multiLine: true))
                == [
                    "\(POP3Reply(ok: true, text: "", lines: ["TOP", "STLS", ".dot", "SASL PLAIN"]))",
                    "\(POP3Reply(ok: false, text: "unknown", lines: []))",
                ])
        #expect(
            expectSameInEveryChunkSize("* OK imap\r\n", makeParser: pop3(multiLine: false)) == [
                "violation:malformed-reply"
            ])
        #expect(
            expectSameInEveryChunkSize(
                "+OK\r\n" + String(repeating: "X\r\n", count: 80), makeParser: pop3(multiLine: true))
                == ["violation:too-many-lines", "violation:malformed-reply"]
                + Array(repeating: "violation:malformed-reply", count: 29))
    }

    @Test("a line end split between chunks, and an over-long line followed by a normal one")
    func lineBufferBounds() {
        var buffer = LineBuffer(maxLineLength: 10)
        buffer.append(Array("abc\r".utf8))
        #expect(buffer.nextLine() == nil)
        buffer.append(Array("\n0123456789ABCDEF".utf8))
        #expect(buffer.nextLine() == ReceivedLine(text: "abc"))
        #expect(buffer.nextLine() == ReceivedLine(text: "0123456789", wasCut: true))
        buffer.append(Array("GHIJ\r\nok\r\n".utf8))
        #expect(buffer.nextLine() == ReceivedLine(text: "ok"))
        #expect(buffer.nextLine() == nil)
    }

    @Test(
        "protocol identification from the first line",
        arguments: [
            ("220 mx ESMTP Postfix", IdentifiedProtocol.smtp), ("220-mx ESMTP", .smtp),
            ("220 ProFTPD FTP server", .ftp),
            ("* OK [CAPABILITY IMAP4rev1] ready", .imap), ("* PREAUTH hi", .imap), ("* BYE busy", .imap),
            ("+OK POP3 ready", .pop3), ("-ERR go away", .pop3), ("SSH-2.0-OpenSSH_9.2p1", .ssh),
            ("HTTP/1.1 400 Bad Request", .http), ("\u{16}\u{03}\u{01}\u{00}", .tls),
            ("\u{15}\u{03}\u{03}\u{00}\u{02}", .tls),
            ("\u{0}\u{1}\u{2}garbage", .binary), ("hello there", .unknown),
            ("421 busy \u{1b}[2J\u{07}", .smtp), ("+OK \u{1b}]0;x\u{07}", .pop3),
        ])
    func identification(text: String, expected: IdentifiedProtocol) {
        var buffer = LineBuffer(maxLineLength: 100)
        buffer.append(Array((text + "\r\n").utf8))
        #expect(identifyProtocol(buffer.nextLine()!) == expected)
    }
}
