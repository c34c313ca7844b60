import MailPortCore

/// IMAP (143; 993 inside TLS): greeting (OK / PREAUTH / BYE), CAPABILITY (from the greeting's response code or the
/// command), STARTTLS when offered, LOGOUT.
func imapDialog(_ connection: ProbeConnection, context: DialogContext, into attempt: inout DialogAttempt) async {
    let limits = connection.limits
    guard let first = await readGreetingLine(connection, expecting: .imap, into: &attempt)
    else { return }
    var greetingParser = IMAPResponseParser(tag: nil, maxLines: limits.maxLinesPerReply)
    guard
        let greeting = await readReply(
            connection, first: first, feeding: { greetingParser.feed($0) },
            waitingFor: "the greeting",
            timeoutNanoseconds: limits.greetingTimeoutNanoseconds, into: &attempt)
    else { return }
    attempt.observation.greetingStatus = greeting.status
    if greeting.status == "BYE" {
        fail(&attempt, "server closed the session at once: * BYE \(greeting.text)", transient: true)
        return
    }

    var capabilities = IMAPResponseParser.capabilities(inResponseText: greeting.text)
    if capabilities == nil {
        guard let response = await command("mp1 CAPABILITY", tag: "mp1", connection, into: &attempt) else { return }
        capabilities = response.untagged.lazy.compactMap { IMAPResponseParser.capabilities(inResponseText: $0) }.first
        if response.status != "OK" || capabilities == nil {
            fail(&attempt, "CAPABILITY failed: \(response.status) \(response.text)")
            return
        }
    }
    let atoms = capabilities ?? []
    attempt.observation.capabilities = atoms
    attempt.observation.authMechanisms = imapAuthMechanisms(atoms)
    let offered = atoms.contains { $0.uppercased() == "STARTTLS" }
    attempt.observation.starttls = StartTLSObservation(offered: offered)
    // PREAUTH means the session is already authenticated: STARTTLS is no longer allowed (RFC 9051 §6.2.1).
    guard offered, greeting.status == "OK" else {
        _ = await command("mp3 LOGOUT", tag: "mp3", connection, into: &attempt, failures: false)
        return
    }
    attempt.observation.starttls!.attempted = true
    guard let reply = await command("mp2 STARTTLS", tag: "mp2", connection, into: &attempt) else { return }
    attempt.observation.starttls!.reply = "\(reply.status) \(reply.text)"
    attempt.observation.starttls!.accepted = reply.status == "OK"
    if reply.status == "OK" {
        guard await handOverToTLS(connection, context: context, into: &attempt) else { return }
        guard let secured = await command("mp4 CAPABILITY", tag: "mp4", connection, into: &attempt) else { return }
        if let atoms = secured.untagged.lazy.compactMap({ IMAPResponseParser.capabilities(inResponseText: $0) }).first {
            attempt.observation.capabilitiesAfterTLS = atoms
            attempt.observation.authMechanismsAfterTLS = imapAuthMechanisms(atoms)
        }
        _ = await command("mp5 LOGOUT", tag: "mp5", connection, into: &attempt, failures: false)
    } else {
        attempt.observation.starttls!.error = attempt.observation.starttls!.reply
        _ = await command("mp3 LOGOUT", tag: "mp3", connection, into: &attempt, failures: false)
    }
    return
}

/// Sends a tagged command and reads through to its tagged completion.
private func command(
    _ line: String, tag: String, _ connection: ProbeConnection, into attempt: inout DialogAttempt,
    failures: Bool = true
) async -> IMAPResponse? {
    do { try await connection.send(line) } catch {
        if failures { fail(&attempt, "connection lost sending \(line.split(separator: " ")[1])", transient: true) }
        return nil
    }
    var parser = IMAPResponseParser(tag: tag, maxLines: connection.limits.maxLinesPerReply)
    if failures {
        return await readReply(
            connection, feeding: { parser.feed($0) }, waitingFor: "the \(line.split(separator: " ")[1]) reply",
            into: &attempt)
    }
    var scratch = attempt
    return await readReply(connection, feeding: { parser.feed($0) }, waitingFor: "the LOGOUT reply", into: &scratch)
}

/// The SASL mechanisms of a capability list (`AUTH=PLAIN` → `PLAIN`).
func imapAuthMechanisms(_ atoms: [String]) -> [String] {
    atoms.compactMap { atom in atom.uppercased().hasPrefix("AUTH=") ? String(atom.uppercased().dropFirst(5)) : nil }
}
