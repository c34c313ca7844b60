import MailPortCore

/// Brings a fresh connection to the point where TLS starts: nothing for implicit TLS; for the plaintext-start
/// services the greeting, then EHLO and STARTTLS (SMTP), STARTTLS (IMAP) or STLS (POP3). Used for the extra
/// handshakes of protocol probing, which need no capabilities, so it says no more than that.
/// Returns false when the server did not agree to start TLS.
///
/// With `pipelineNOOP`, a NOOP goes in the same TCP segment as the STARTTLS command (the CVE-2011-0411 check): a
/// correct server discards it when it switches to TLS.
func reachTLS(_ connection: ProbeConnection, service: MailService, ehloName: String, pipelineNOOP: Bool = false) async -> Bool {
    func sendStartTLS(_ command: String, noop: String) async -> Bool {
        if pipelineNOOP {
            return (try? await connection.sendRaw("\(command)\r\n\(noop)\r\n", transcriptLines: [command, noop])) != nil
        }
        return (try? await connection.send(command)) != nil
    }
    let limits = connection.limits
    var scratch = DialogAttempt(observation: DialogObservation())
    switch IdentifiedProtocol(service) {
    case _ where service.expectedTransport == .implicitTLS:
        return true
    case .smtp:
        var parser = SMTPReplyParser(maxLines: limits.maxLinesPerReply)
        guard let greeting = await readReply(connection, feeding: { parser.feed($0) }, waitingFor: "greeting", into: &scratch),
              greeting.code == 220, (try? await connection.send("EHLO \(ehloName)")) != nil,
              let hello = await readReply(connection, feeding: { parser.feed($0) }, waitingFor: "EHLO", into: &scratch),
              hello.code == 250, await sendStartTLS("STARTTLS", noop: "NOOP"),
              let reply = await readReply(connection, feeding: { parser.feed($0) }, waitingFor: "STARTTLS", into: &scratch)
        else { return false }
        return reply.code == 220
    case .imap:
        var greetingParser = IMAPResponseParser(tag: nil, maxLines: limits.maxLinesPerReply)
        var parser = IMAPResponseParser(tag: "mp6", maxLines: limits.maxLinesPerReply)
        guard let greeting = await readReply(connection, feeding: { greetingParser.feed($0) }, waitingFor: "greeting", into: &scratch),
              greeting.status == "OK", await sendStartTLS("mp6 STARTTLS", noop: "mp7 NOOP"),
              let reply = await readReply(connection, feeding: { parser.feed($0) }, waitingFor: "STARTTLS", into: &scratch)
        else { return false }
        return reply.status == "OK"
    default:
        var greetingParser = POP3ReplyParser(multiLine: false, maxLines: limits.maxLinesPerReply)
        var parser = POP3ReplyParser(multiLine: false, maxLines: limits.maxLinesPerReply)
        guard let greeting = await readReply(connection, feeding: { greetingParser.feed($0) }, waitingFor: "greeting", into: &scratch),
              greeting.ok, await sendStartTLS("STLS", noop: "NOOP"),
              let reply = await readReply(connection, feeding: { parser.feed($0) }, waitingFor: "STLS", into: &scratch)
        else { return false }
        return reply.ok
    }
}
