import MailPortCore

/// Brings a fresh connection to the point where TLS starts: nothing for implicit TLS; for the plaintext-start
/// services the greeting (with the greeting wait), then EHLO and STARTTLS (SMTP), STARTTLS (IMAP) or STLS (POP3).
/// Used by the extra questions, which need no capabilities. Returns nil when TLS can start now, otherwise why not,
/// in the server's own words where it gave any (a 421 greeting, a refused STARTTLS): the question could not be asked.
///
/// With `pipelineNOOP`, a NOOP goes in the same TCP segment as the STARTTLS command (the CVE-2011-0411 check): a
/// correct server discards it when it switches to TLS.
func reachTLS(
    _ connection: ProbeConnection, service: MailService, ehloName: String,
    pipelineNOOP: Bool = false
) async -> String? {
    func sendStartTLS(_ command: String, noop: String) async -> Bool {
        if pipelineNOOP {
            return (try? await connection.sendRaw("\(command)\r\n\(noop)\r\n", transcriptLines: [command, noop])) != nil
        }
        return (try? await connection.send(command)) != nil
    }
    let limits = connection.limits
    let greetingWait = limits.greetingTimeoutNanoseconds
    var scratch = DialogAttempt(observation: DialogObservation())
    /// What went wrong: a read failure recorded in `scratch`, or the server's refusal.
    func failure(_ refusal: String) -> String { scratch.observation.incompleteReason ?? refusal }
    switch IdentifiedProtocol(service) {
    case _ where service.expectedTransport == .implicitTLS:
        return nil
    case .smtp:
        var parser = SMTPReplyParser(maxLines: limits.maxLinesPerReply)
        guard
            let greeting = await readReply(
                connection, feeding: { parser.feed($0) }, waitingFor: "the greeting",
                timeoutNanoseconds: greetingWait, into: &scratch)
        else { return failure("no greeting") }
        guard greeting.code == 220 else { return "greeting \(greeting.text)" }
        guard (try? await connection.send("EHLO \(ehloName)")) != nil else { return "connection lost sending EHLO" }
        guard
            let hello = await readReply(
                connection, feeding: { parser.feed($0) }, waitingFor: "the EHLO reply", into: &scratch)
        else { return failure("no EHLO reply") }
        guard hello.code == 250 else { return "EHLO refused: \(hello.text)" }
        guard await sendStartTLS("STARTTLS", noop: "NOOP") else { return "connection lost sending STARTTLS" }
        guard
            let reply = await readReply(
                connection, feeding: { parser.feed($0) }, waitingFor: "the STARTTLS reply", into: &scratch)
        else { return failure("no STARTTLS reply") }
        return reply.code == 220 ? nil : "STARTTLS refused on this connection: \(reply.text)"
    case .imap:
        var greetingParser = IMAPResponseParser(tag: nil, maxLines: limits.maxLinesPerReply)
        var parser = IMAPResponseParser(tag: "mp6", maxLines: limits.maxLinesPerReply)
        guard
            let greeting = await readReply(
                connection, feeding: { greetingParser.feed($0) }, waitingFor: "the greeting",
                timeoutNanoseconds: greetingWait, into: &scratch)
        else { return failure("no greeting") }
        guard greeting.status == "OK" else { return "greeting * \(greeting.status) \(greeting.text)" }
        guard await sendStartTLS("mp6 STARTTLS", noop: "mp7 NOOP") else { return "connection lost sending STARTTLS" }
        guard
            let reply = await readReply(
                connection, feeding: { parser.feed($0) }, waitingFor: "the STARTTLS reply", into: &scratch)
        else { return failure("no STARTTLS reply") }
        return reply.status == "OK" ? nil : "STARTTLS refused on this connection: \(reply.status) \(reply.text)"
    default:
        var greetingParser = POP3ReplyParser(multiLine: false, maxLines: limits.maxLinesPerReply)
        var parser = POP3ReplyParser(multiLine: false, maxLines: limits.maxLinesPerReply)
        guard
            let greeting = await readReply(
                connection, feeding: { greetingParser.feed($0) }, waitingFor: "the greeting",
                timeoutNanoseconds: greetingWait, into: &scratch)
        else { return failure("no greeting") }
        guard greeting.ok else { return "greeting -ERR \(greeting.text)" }
        guard await sendStartTLS("STLS", noop: "NOOP") else { return "connection lost sending STLS" }
        guard
            let reply = await readReply(
                connection, feeding: { parser.feed($0) }, waitingFor: "the STLS reply", into: &scratch)
        else { return failure("no STLS reply") }
        return reply.ok ? nil : "STLS refused on this connection: -ERR \(reply.text)"
    }
}

/// A refusal that names a rate or connection limit (Postfix anvil's "421 4.7.0 Error: too many connections from …",
/// Dovecot's and Exim's equivalents): such a server needs a longer pause and one connection at a time.
func namesConnectionLimit(_ text: String) -> Bool {
    let lower = text.lowercased()
    return [
        "too many", "too much", "rate limit", "connection rate", "connection limit", "limit exceeded",
        "exceeded", "slow down",
    ].contains { lower.contains($0) }
}
