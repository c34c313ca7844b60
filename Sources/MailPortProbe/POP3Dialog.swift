import MailPortCore

/// POP3 (110; 995 inside TLS): greeting, CAPA (STLS, USER, SASL mechanisms), STLS when offered, QUIT.
func pop3Dialog(_ connection: ProbeConnection, context: DialogContext, into attempt: inout DialogAttempt) async {
    let limits = connection.limits
    guard let first = await readGreetingLine(connection, expecting: .pop3, into: &attempt)
    else { return }
    var single = POP3ReplyParser(multiLine: false, maxLines: limits.maxLinesPerReply)
    guard
        let greeting = await readReply(
            connection, first: first, feeding: { single.feed($0) },
            waitingFor: "the greeting", into: &attempt)
    else { return }
    attempt.observation.greetingStatus = greeting.ok ? "+OK" : "-ERR"
    guard greeting.ok else {
        fail(&attempt, "server refused the session: -ERR \(greeting.text)", transient: true)
        return
    }

    do { try await connection.send("CAPA") } catch {
        fail(&attempt, "connection lost sending CAPA", transient: true)
        return
    }
    var multi = POP3ReplyParser(multiLine: true, maxLines: limits.maxLinesPerReply)
    guard
        let capa = await readReply(
            connection, feeding: { multi.feed($0) }, waitingFor: "the CAPA reply", into: &attempt)
    else { return }
    if !capa.ok {
        // A server without CAPA (RFC 2449) cannot advertise STLS; its capabilities are simply unknown.
        fail(&attempt, "CAPA not supported: -ERR \(capa.text)")
        await quitPolitely(connection)
        return
    }
    attempt.observation.capabilities = capa.lines
    attempt.observation.authMechanisms = pop3AuthMechanisms(capa.lines)
    let offered = capa.lines.contains { $0.uppercased() == "STLS" }
    attempt.observation.starttls = StartTLSObservation(offered: offered)
    guard offered else {
        await quitPolitely(connection)
        return
    }
    attempt.observation.starttls!.attempted = true
    do { try await connection.send("STLS") } catch {
        fail(&attempt, "connection lost sending STLS", transient: true)
        return
    }
    var stls = POP3ReplyParser(multiLine: false, maxLines: limits.maxLinesPerReply)
    guard
        let reply = await readReply(
            connection, feeding: { stls.feed($0) }, waitingFor: "the STLS reply", into: &attempt)
    else { return }
    attempt.observation.starttls!.reply = (reply.ok ? "+OK " : "-ERR ") + reply.text
    attempt.observation.starttls!.accepted = reply.ok
    if reply.ok {
        guard await handOverToTLS(connection, context: context, into: &attempt) else { return }
        do { try await connection.send("CAPA") } catch { return }
        var secured = POP3ReplyParser(multiLine: true, maxLines: limits.maxLinesPerReply)
        if let capa = await readReply(
            connection, feeding: { secured.feed($0) }, waitingFor: "the CAPA reply inside TLS",
            into: &attempt), capa.ok
        {
            attempt.observation.capabilitiesAfterTLS = capa.lines
            attempt.observation.authMechanismsAfterTLS = pop3AuthMechanisms(capa.lines)
        }
        await quitPolitely(connection)
    } else {
        attempt.observation.starttls!.error = attempt.observation.starttls!.reply
        await quitPolitely(connection)
    }
    return
}

/// The mechanisms of a CAPA `SASL` line.
func pop3AuthMechanisms(_ lines: [String]) -> [String] {
    lines.first { $0.uppercased().hasPrefix("SASL") }
        .map { $0.uppercased().split(separator: " ").dropFirst().map(String.init) } ?? []
}
